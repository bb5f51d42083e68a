"""What a watcher yields: a small closed set of event types to match on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.models._common import J

__all__ = [
    "CheckpointReported",
    "J",
    "JobStalled",
    "JobVanished",
    "MetadataChanged",
    "PollFailed",
    "ProgressEvent",
    "Transition",
    "WatchEvent",
    "event_record",
]


@dataclass(frozen=True, slots=True, repr=False)
class Transition(Generic[J]):
    """A job was seen in a new status (``previous`` is None on its first observation).

    Every status the job's ``events`` recorded is reported, each as its own transition, even
    when the job went through several between two polls. ``changed_at`` is the server's time
    of the change (from the job's events, else its ``modified_at``; None if unknown), beside
    ``observed_at``, the watcher's. ``missed`` marks changes that happened while no watcher
    was running (after a resume): reported late, but reported. ``job`` is the job as fetched
    when the change was seen: for a status read back from the events it is already further
    on, and from a list sweep it carries no events or checkpoints.
    """

    job_id: str
    previous: str | None
    status: str
    job: J
    observed_at: float
    missed: bool = False
    changed_at: float | None = None

    @property
    def terminal(self) -> bool:
        """Whether ``status`` is final for the job's API."""
        return self.status in self.job.TERMINAL

    @property
    def latest(self) -> bool:
        """Whether ``status`` is still the job's status as fetched.

        False for a status read back from the job's events: the job has moved on since, so
        acting on that status (a cancel at RUNNING) may come too late.
        """
        return self.job.status == self.status

    @property
    def waiting_for_start(self) -> bool:
        """Whether the job is parked in VALIDATED until someone calls ``start`` on it."""
        parked = self.status == "VALIDATED" and getattr(self.job, "auto_start", None) is False
        return parked and self.latest  # not a VALIDATED read back after the job moved on

    def __repr__(self) -> str:
        late = ", missed" if self.missed else ""
        return f"Transition({self.job_id!r}, {self.previous} -> {self.status}{late})"


@dataclass(frozen=True, slots=True)
class JobVanished:
    """A job answered 404 twice in a row: it no longer exists for this key. It leaves the watch."""

    job_id: str
    last_status: str | None
    observed_at: float


@dataclass(frozen=True, slots=True)
class PollFailed:
    """Polling one job failed (after the client's own retries); it is retried with backoff."""

    job_id: str
    error: MistralJobsError
    failures: int
    observed_at: float


@dataclass(frozen=True, slots=True)
class JobStalled:
    """A job has kept one status for ``stall_after`` seconds (reported once per status)."""

    job_id: str
    status: str
    since: float
    observed_at: float


@dataclass(frozen=True, slots=True)
class CheckpointReported:
    """A job reported a checkpoint: each once, in step order (progress subscribers only)."""

    job_id: str
    step: int
    train_loss: float | None
    valid_loss: float | None
    valid_mean_token_accuracy: float | None
    #: The server's time of the checkpoint (Unix seconds), if it gave one.
    created_at: int | None
    observed_at: float


@dataclass(frozen=True, slots=True)
class MetadataChanged:
    """The service's estimates for a job changed, or first appeared (progress subscribers only).

    ``metadata`` holds what the job's ``metadata`` carries (cost, cost_currency,
    expected_duration_seconds, train_tokens, ...), without the fields it left empty.
    """

    job_id: str
    metadata: dict[str, Any]
    observed_at: float


#: Events only subscribers that asked for progress get (``subscribe(progress=True)``).
ProgressEvent = CheckpointReported | MetadataChanged
#: Every event a watcher yields.
WatchEvent = Transition[J] | JobVanished | PollFailed | JobStalled | ProgressEvent


def event_record(event: WatchEvent[Any]) -> dict[str, Any]:
    """An event as a JSON-ready dict: its kind under ``"event"``, then its fields.

    The one form of an event outside Python: the CLI's ``--json`` lines and the FastAPI SSE
    stream (which sends the kind as the SSE event's name, and a poll failure's error in its
    short form, without the upstream URL) are both made from it.
    """
    if isinstance(event, Transition):
        return {
            "event": "transition",
            "job_id": event.job_id,
            "previous": event.previous,
            "status": event.status,
            "terminal": event.terminal,
            "missed": event.missed,
            "waiting_for_start": event.waiting_for_start,
            "changed_at": event.changed_at,
            "observed_at": event.observed_at,
        }
    if isinstance(event, JobVanished):
        return {"event": "vanished", "job_id": event.job_id, "last_status": event.last_status}
    if isinstance(event, PollFailed):
        return {"event": "poll_failed", "job_id": event.job_id, "error": str(event.error),
                "failures": event.failures}  # fmt: skip
    if isinstance(event, CheckpointReported):
        return {
            "event": "checkpoint",
            "job_id": event.job_id,
            "step": event.step,
            "train_loss": event.train_loss,
            "valid_loss": event.valid_loss,
            "valid_mean_token_accuracy": event.valid_mean_token_accuracy,
            "created_at": event.created_at,
        }
    if isinstance(event, MetadataChanged):
        return {"event": "metadata", "job_id": event.job_id, "metadata": event.metadata}
    return {"event": "stalled", "job_id": event.job_id, "status": event.status,
            "since": event.since}  # fmt: skip
