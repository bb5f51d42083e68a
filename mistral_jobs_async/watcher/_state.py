"""A watch's saved state: what each job was last reported as, to resume from after a restart."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgspec

from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async.watcher._events import JobVanished, Transition, WatchEvent

__all__ = [
    "STATE_VERSION",
    "SavedJob",
    "SavedState",
    "StateFile",
    "decode_saved_job",
    "decode_state",
    "encode_state",
    "saved_of",
]

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


def saved_of(event: WatchEvent[Any]) -> SavedJob | None:
    """What a resume must know of a job once ``event`` is delivered (None: nothing new).

    The job as fetched may be further on than a status read back from its events: only its
    creation time is kept from it, so that a resume replays from this status.
    """
    if isinstance(event, Transition):
        changed = int(event.changed_at) if event.changed_at is not None else None
        return SavedJob(
            id=event.job_id,
            status=event.status,
            modified_at=changed,
            created_at=event.job.created_at,
            done=event.terminal,
        )
    if isinstance(event, JobVanished):
        return SavedJob(id=event.job_id, status=event.last_status, done=True)
    return None


_saved_job = msgspec.json.Decoder(SavedJob)


def decode_saved_job(raw: bytes) -> SavedJob:
    """One job's saved state (as a shared watch keeps it per job in Redis)."""
    return _saved_job.decode(raw)


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


class StateFile:
    """A subscription's saved state in a file, kept up to date as events are delivered.

    The file is JSON lines: a snapshot (the ``save_state()`` format) on the first line, then
    one line per job whose reported status moved. Each line goes out in one ``write`` before
    the event is handed over, so a process killed at any moment (SIGKILL) leaves a file that
    names every event it yielded, and a restart on the same path yields only what it had not
    (a line torn by a crash is ignored). Past ``compact_after`` lines the snapshot is
    rewritten to a temporary file and renamed over the old one (atomic on POSIX).

    The writes are small and go to the page cache, so they are made in the event loop's
    thread; ``fsync`` is left to the snapshot (an OS crash may lose the last few lines, and
    those events are then reported again, flagged as missed, never lost).
    """

    def __init__(self, path: str | os.PathLike[str], *, compact_after: int = 1000) -> None:
        self.path = Path(path)
        self._compact_after = compact_after
        self._lines = 0
        self._file: IO[bytes] | None = None

    def load(self) -> bytes | None:
        """The saved state (``save_state()`` bytes), or None if there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        lines = raw.split(b"\n")
        jobs = {job.id: job for job in decode_state(lines[0])}
        body = [line for line in lines[1:] if line.strip()]
        for number, line in enumerate(body):
            try:
                job = decode_saved_job(line)
            except msgspec.MsgspecError:
                if number == len(body) - 1 and not raw.endswith(b"\n"):
                    break  # the last line, cut short by a crash: its event was not yielded
                message = f"{self.path}: line {number + 2} is not a saved job"
                raise ConfigurationError(message) from None
            jobs[job.id] = job
        return encode_state(list(jobs.values()))

    def write_snapshot(self, state: bytes) -> None:
        """Replace the file with ``state`` (atomically) and append to it from now on."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            out.write(state + b"\n")
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)
        self._file = self.path.open("ab", buffering=0)
        self._lines = 0

    def record(self, job: SavedJob, snapshot: Callable[[], bytes]) -> None:
        """Append one job's new saved status; compact with ``snapshot()`` now and then."""
        if self._file is None:
            self.write_snapshot(snapshot())
        assert self._file is not None
        self._file.write(msgspec.json.encode(job) + b"\n")
        self._lines += 1
        if self._lines >= self._compact_after:
            self.write_snapshot(snapshot())

    def close(self) -> None:
        """Close the file (what was written stays)."""
        if self._file is not None:
            self._file.close()
            self._file = None
