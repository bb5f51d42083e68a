"""A watch's saved state: what each job was last reported as, to resume from after a restart."""

from __future__ import annotations

import msgspec

from mistral_jobs_async._exceptions import ConfigurationError

__all__ = ["STATE_VERSION", "SavedJob", "SavedState", "decode_state", "encode_state"]

STATE_VERSION = 1


class SavedJob(msgspec.Struct):
    """One job as last reported: its status, and whether it had ended."""

    id: str
    status: str | None = None
    modified_at: int | None = None
    created_at: int | None = None
    done: bool = False


class SavedState(msgspec.Struct):
    """Every job of a watch (the format ``save_state()`` writes)."""

    version: int
    jobs: list[SavedJob]


def encode_state(jobs: list[SavedJob]) -> bytes:
    """The bytes ``save_state()`` returns."""
    return msgspec.json.encode(SavedState(version=STATE_VERSION, jobs=jobs))


def decode_state(state: bytes) -> list[SavedJob]:
    """The jobs of saved bytes; a ``ConfigurationError`` for anything else."""
    try:
        saved = msgspec.json.decode(state, type=SavedState)
    except msgspec.MsgspecError as exc:
        raise ConfigurationError(f"not a saved watcher state: {exc}") from None
    if saved.version != STATE_VERSION:
        raise ConfigurationError(f"saved state version {saved.version} is not supported")
    return saved.jobs
