"""What a process gave its own subscribers of a shared watch, so that each event comes once.

Events reach a process from the shared stream in Redis, or from its local fallback while
Redis is away; a leader that resumes after an outage publishes again what a fallback already
delivered. A job's statuses come once each in its life, so a status given before is skipped
(and a checkpoint at a step given before).
"""

from __future__ import annotations

import logging
from typing import Generic

import msgspec

from mistral_jobs_async.sharing._wire import Wire
from mistral_jobs_async.watcher._events import (
    CheckpointReported,
    J,
    JobVanished,
    Transition,
    WatchEvent,
)
from mistral_jobs_async.watcher._fanout import Fanout

__all__ = ["Delivery"]

logger = logging.getLogger("mistral_jobs_async.sharing")


class Delivery(Generic[J]):
    """The subscribers' side of one process: what was given them, and where the stream is."""

    def __init__(self, fanout: Fanout[J], wire: Wire[J], *, stream_maxlen: int) -> None:
        self._fanout = fanout
        self._wire = wire
        self._stream_maxlen = stream_maxlen
        #: The last status given per job, and the jobs that ended.
        self.status: dict[str, str] = {}
        self.ended: set[str] = set()
        self._given: dict[str, set[str]] = {}  # the statuses given, per job
        self._last_step: dict[str, int] = {}
        #: The last stream entry read (its id and sequence number).
        self.last_id = "0-0"
        self.last_seq: int | None = None
        #: Entries lost to the stream's trimming before this process read them.
        self.gaps = 0

    def forget(self, job_id: str) -> None:
        """A job no longer followed here: followed again later, it starts from Redis's state."""
        self.status.pop(job_id, None)
        self._given.pop(job_id, None)
        self._last_step.pop(job_id, None)
        self.ended.discard(job_id)

    async def from_stream(self, entry_id: str, seq: int, raw: bytes, followed: set[str]) -> None:
        """One entry of the shared stream, read in order."""
        if self.last_seq is not None and seq > self.last_seq + 1:
            lost = seq - self.last_seq - 1
            self.gaps += lost
            logger.warning(
                "%d shared events were trimmed before this process read them "
                "(stream_maxlen %d): statuses may have been skipped",
                lost, self._stream_maxlen,
            )  # fmt: skip
        self.last_id, self.last_seq = entry_id, seq
        try:
            event = self._wire.decode(raw)
        except msgspec.MsgspecError as exc:  # written by another version of this package
            logger.warning("skipped shared event %s that could not be read: %s", entry_id, exc)
            return
        await self.hand_over(event, followed)

    async def hand_over(self, event: WatchEvent[J], followed: set[str]) -> None:
        """Give an event to the subscribers, unless it was given already.

        An event of a job not ``followed`` here is another process's, and is dropped.
        """
        job_id = event.job_id
        if job_id not in followed:
            return  # another process's job
        if isinstance(event, Transition):
            given = self._given.setdefault(job_id, set())
            if event.status in given or job_id in self.ended:
                return
            given.add(event.status)
            self.status[job_id] = event.status
            if event.terminal:
                self.ended.add(job_id)
        elif isinstance(event, JobVanished):
            if job_id in self.ended:
                return
            self.ended.add(job_id)
        elif isinstance(event, CheckpointReported):
            if event.step <= self._last_step.get(job_id, -1):
                return
            self._last_step[job_id] = event.step
        await self._fanout.emit(event)
