"""Watcher events as stream entries, and back (the job itself travels as its JSON).

The entry types mirror the event dataclasses on purpose: a stream entry needs a tag to say
which event it is, a job whose class is known only when decoding (kept as raw JSON), and a
``PollFailed`` error as text. ``tests/test_sharing.py`` checks that every event survives the
trip unchanged, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Generic

import msgspec

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.watcher import (
    CheckpointReported,
    JobStalled,
    JobVanished,
    MetadataChanged,
    PollFailed,
    Transition,
    WatchEvent,
)
from mistral_jobs_async.watcher._events import J

__all__ = ["Wire"]


class _Transition(msgspec.Struct, tag="transition"):
    job_id: str
    previous: str | None
    status: str
    job: msgspec.Raw
    observed_at: float
    missed: bool
    changed_at: float | None


class _Vanished(msgspec.Struct, tag="vanished"):
    job_id: str
    last_status: str | None
    observed_at: float


class _PollFailed(msgspec.Struct, tag="poll_failed"):
    job_id: str
    error: str
    failures: int
    observed_at: float


class _Stalled(msgspec.Struct, tag="stalled"):
    job_id: str
    status: str
    since: float
    observed_at: float


class _Checkpoint(msgspec.Struct, tag="checkpoint"):
    job_id: str
    step: int
    train_loss: float | None
    valid_loss: float | None
    valid_mean_token_accuracy: float | None
    created_at: int | None
    observed_at: float


class _Metadata(msgspec.Struct, tag="metadata"):
    job_id: str
    metadata: dict[str, Any]
    observed_at: float


_Entry = _Transition | _Vanished | _PollFailed | _Stalled | _Checkpoint | _Metadata
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Entry)


class Wire(Generic[J]):
    """Encodes events for the stream and decodes them as the API's own job class."""

    def __init__(self, job_type: type[J]) -> None:
        self._job_decoder = msgspec.json.Decoder(job_type)

    def encode(self, event: WatchEvent[J]) -> bytes:
        """The entry's ``event`` field."""
        entry: _Entry
        if isinstance(event, Transition):
            entry = _Transition(
                event.job_id, event.previous, event.status,
                msgspec.Raw(_encoder.encode(event.job)), event.observed_at, event.missed,
                event.changed_at,
            )  # fmt: skip
        elif isinstance(event, JobVanished):
            entry = _Vanished(event.job_id, event.last_status, event.observed_at)
        elif isinstance(event, PollFailed):
            entry = _PollFailed(event.job_id, str(event.error), event.failures, event.observed_at)
        elif isinstance(event, JobStalled):
            entry = _Stalled(event.job_id, event.status, event.since, event.observed_at)
        elif isinstance(event, CheckpointReported):
            entry = _Checkpoint(
                event.job_id, event.step, event.train_loss, event.valid_loss,
                event.valid_mean_token_accuracy, event.created_at, event.observed_at,
            )  # fmt: skip
        else:
            entry = _Metadata(event.job_id, event.metadata, event.observed_at)
        return _encoder.encode(entry)

    def decode(self, raw: bytes) -> WatchEvent[J]:
        """The event of one entry."""
        entry = _decoder.decode(raw)
        if isinstance(entry, _Transition):
            job = self._job_decoder.decode(entry.job)
            return Transition(
                entry.job_id, entry.previous, entry.status, job, entry.observed_at,
                entry.missed, entry.changed_at,
            )  # fmt: skip
        if isinstance(entry, _Vanished):
            return JobVanished(entry.job_id, entry.last_status, entry.observed_at)
        if isinstance(entry, _PollFailed):
            error = MistralJobsError(entry.error)
            return PollFailed(entry.job_id, error, entry.failures, entry.observed_at)
        if isinstance(entry, _Stalled):
            return JobStalled(entry.job_id, entry.status, entry.since, entry.observed_at)
        if isinstance(entry, _Checkpoint):
            return CheckpointReported(
                entry.job_id, entry.step, entry.train_loss, entry.valid_loss,
                entry.valid_mean_token_accuracy, entry.created_at, entry.observed_at,
            )  # fmt: skip
        return MetadataChanged(entry.job_id, entry.metadata, entry.observed_at)
