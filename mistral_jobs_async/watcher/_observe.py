"""Observations to events: what a fetched job means for its watch, and when to poll it next."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Generic

import msgspec

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.models._common import JobBase
from mistral_jobs_async.watcher._clock import Clock
from mistral_jobs_async.watcher._config import FAST_STATUSES, WatchConfig, WatchStats
from mistral_jobs_async.watcher._events import (
    CheckpointReported,
    J,
    JobStalled,
    JobVanished,
    MetadataChanged,
    PollFailed,
    ProgressEvent,
    Transition,
)
from mistral_jobs_async.watcher._fanout import Fanout
from mistral_jobs_async.watcher._state import SavedJob

__all__ = ["Observer", "WatchedJob"]


def _changed_at(item: JobBase, status: str) -> int | None:
    """When the job entered ``status``: its last such event, else its ``modified_at``."""
    history = item.status_history
    if history and history[-1][0] == status and history[-1][1] is not None:
        return history[-1][1]
    return item.modified_at


def _chain(item: JobBase, previous: str | None, since: int | None) -> list[tuple[str, int | None]]:
    """The statuses ``item`` went through after ``previous``, from its events, with times.

    What follows the last change into ``previous`` is taken (timestamps are whole seconds,
    so "after modified_at" alone could drop a change made in that second); if the events do
    not show ``previous``, what came after ``since``. The current status closes the chain.
    """
    history = item.status_history
    start = next(
        (i + 1 for i in range(len(history) - 1, -1, -1) if history[i][0] == previous), None
    )
    if start is None:
        start = next((i for i, (_, at) in enumerate(history) if (at or 0) > (since or 0)), None)
    chain = history[start:] if start is not None else []
    if not chain or chain[-1][0] != item.status:
        chain.append((item.status, item.modified_at))
    return chain


@dataclass
class WatchedJob:
    """What the watcher knows of one job, and its polling schedule."""

    id: str
    status: str | None = None
    modified_at: int | None = None
    created_at: int | None = None
    auto_start: bool | None = None
    next_poll: float = 0.0
    interval: float = 0.0
    failures: int = 0
    gone_suspect: bool = False
    changed_at: float = 0.0
    stall_reported: bool = False
    resumed: bool = False
    #: A sweep showed a change it cannot vouch for: a GET reads the statuses in between.
    needs_history: bool = False
    #: Someone asked for this job's progress (checkpoints only come with a GET).
    progress: bool = False
    last_step: int = -1
    metadata: dict[str, Any] | None = None
    done: bool = False

    @property
    def needs_get(self) -> bool:
        """Whether only a GET can show what this job's next observation needs."""
        running = self.progress and self.status == "RUNNING"
        return self.resumed or self.gone_suspect or self.needs_history or running

    def saved(self) -> SavedJob:
        """What a saved state keeps of the job."""
        return SavedJob(
            id=self.id, status=self.status, modified_at=self.modified_at,
            created_at=self.created_at, done=self.done,
        )  # fmt: skip

    @classmethod
    def resumed_from(cls, saved: SavedJob, *, interval: float) -> WatchedJob:
        """The job as a saved state left it: its first poll reads what happened since."""
        return cls(
            id=saved.id, status=saved.status, modified_at=saved.modified_at,
            created_at=saved.created_at, interval=interval, done=saved.done,
            resumed=saved.status is not None and not saved.done,
        )  # fmt: skip


class Observer(Generic[J]):
    """Turns each observation of a job into its events, and sets when it is polled next."""

    def __init__(
        self,
        jobs: dict[str, WatchedJob],
        *,
        config: WatchConfig,
        clock: Clock,
        rng: random.Random,
        fanout: Fanout[J],
        stats: WatchStats,
    ) -> None:
        self._jobs = jobs
        self._config = config
        self._clock = clock
        self._rng = rng
        self._fanout = fanout
        self._stats = stats

    def current(self, job: WatchedJob) -> bool:
        """Whether ``job`` is still watched (``remove()`` may have come during its request)."""
        return self._jobs.get(job.id) is job and not job.done

    async def observe(self, job: WatchedJob, item: J, *, detailed: bool) -> None:
        """A fetched job (``detailed``: by GET, with its events); emits what changed."""
        if not self.current(job) or (job.needs_get and not detailed):
            return  # removed meanwhile; or waiting for a GET's events
        if not detailed and self._gap(job, item):
            job.needs_history = True  # reported once a GET has read the statuses between
            job.next_poll = self._clock.now()
            return
        now = self._clock.now()
        previous, since, missed = job.status, job.modified_at, job.resumed
        job.failures = 0
        job.gone_suspect = job.needs_history = job.resumed = False
        if item.created_at is not None:
            job.created_at = item.created_at
        auto_start = getattr(item, "auto_start", None)
        if auto_start is not None:
            job.auto_start = auto_start
        changed = item.status != previous
        job.modified_at = item.modified_at or job.modified_at
        if changed:
            job.changed_at = now
            job.stall_reported = False
        if not item.is_terminal:
            job.interval = self.next_interval(job, changed)
            job.next_poll = now + self.jittered(job.interval)
        if previous is None and not missed:
            chain = [(item.status, _changed_at(item, item.status))]  # its first observation
        elif detailed and (changed or missed):
            chain = _chain(item, previous, since)
        else:
            chain = [(item.status, item.modified_at)] if changed else []
        progress = self._progress(job, item, detailed=detailed)
        # Estimates first: they belong to the status the job is in (a VALIDATED job's cost),
        # so whoever stops at that transition has them. Checkpoints come after the job is seen
        # running, and before its terminal transition.
        await self._emit_all([e for e in progress if isinstance(e, MetadataChanged)])
        progress = [e for e in progress if not isinstance(e, MetadataChanged)]
        for status, changed_at in chain:
            if status == previous:
                continue
            if progress and item.is_terminal and status == item.status:
                await self._emit_all(progress)  # what it reported before it ended
                progress = []
            event = Transition(
                job.id, previous, status, item, self._clock.wall(), missed, changed_at
            )
            # The job's status moves with each event, in the same step as the emit takes its
            # list of subscribers: one that joins meanwhile reads from status_of() the status
            # of the last event it will not get, and gets every later one (none twice, none
            # out of order, even while a chain read back from history goes out).
            job.status = status
            await self._fanout.emit(event)
            self._stats.transitions += 1
            previous = status
        job.status = item.status
        if item.is_terminal:
            job.done = True  # after its last event: "ended" is never seen before the end
        await self._emit_all(progress)

    async def _emit_all(self, events: list[ProgressEvent]) -> None:
        for event in events:
            await self._fanout.emit(event)

    def _progress(self, job: WatchedJob, item: J, *, detailed: bool) -> list[ProgressEvent]:
        """New checkpoints (from a GET) and changed estimates, if anyone asked for them."""
        if not self._fanout.wants_progress(job.id):
            return []
        now = self._clock.wall()
        events: list[ProgressEvent] = []
        raw = getattr(item, "metadata", None)
        metadata = msgspec.to_builtins(raw) if raw is not None else None
        if isinstance(metadata, dict):
            metadata = {k: v for k, v in metadata.items() if v is not None}
            if metadata and metadata != job.metadata:
                job.metadata = metadata
                events.append(MetadataChanged(job.id, metadata, now))
        if detailed:
            fresh = sorted(
                (c for c in item.checkpoints or () if (c.step_number or 0) > job.last_step),
                key=lambda c: c.step_number or 0,
            )
            for checkpoint in fresh:
                metrics = checkpoint.metrics
                events.append(
                    CheckpointReported(
                        job.id,
                        checkpoint.step_number or 0,
                        metrics.train_loss if metrics else None,
                        metrics.valid_loss if metrics else None,
                        metrics.valid_mean_token_accuracy if metrics else None,
                        checkpoint.created_at,
                        now,
                    )
                )
                job.last_step = checkpoint.step_number or 0
        return events

    def _gap(self, job: WatchedJob, item: J) -> bool:
        """Whether a sweep's change may hide statuses in between (only events can tell)."""
        mode = self._config.history
        if mode == "off" or job.status is None or item.status == job.status:
            return False
        return mode == "always" or (job.status, item.status) not in item.DIRECT_STEPS

    async def vanished(self, job: WatchedJob) -> None:
        """A 404: suspected the first time (a replica behind), reported the second."""
        if not self.current(job):
            return
        if not job.gone_suspect:
            job.gone_suspect = True
            job.next_poll = self._clock.now() + self._config.fast_interval
            return
        job.done = True
        await self._fanout.emit(JobVanished(job.id, job.status, self._clock.wall()))

    async def failed(self, job: WatchedJob, error: MistralJobsError) -> None:
        """A poll failed for good (after the client's retries): back off, and say so."""
        if not self.current(job):
            return
        job.failures += 1
        backoff = min(
            self._config.error_backoff_max, self._config.base_interval * 2 ** (job.failures - 1)
        )
        job.next_poll = self._clock.now() + self.jittered(backoff)
        await self._fanout.emit(PollFailed(job.id, error, job.failures, self._clock.wall()))

    def next_interval(self, job: WatchedJob, changed: bool) -> float:
        """The wait before the next poll: fast after a change, growing while nothing moves."""
        config = self._config
        status = job.status or ""
        if status == "VALIDATED" and job.auto_start is False:
            return config.max_interval  # parked until someone calls start: not finished
        if changed or status in FAST_STATUSES:
            return config.fast_interval
        if job.interval < config.base_interval:
            return config.base_interval
        return min(config.max_interval, max(config.base_interval, job.interval * config.growth))

    def jittered(self, seconds: float) -> float:
        """``seconds`` spread by the configured jitter, so jobs do not poll in lockstep."""
        spread = self._config.jitter
        return seconds * (1.0 + self._rng.uniform(-spread, spread))

    async def check_stalls(self, active: list[WatchedJob]) -> None:
        """Report each job that has kept one status for ``stall_after`` seconds, once."""
        limit = self._config.stall_after
        if limit is None:
            return
        now = self._clock.now()
        for job in active:
            if job.status is None or job.stall_reported or job.changed_at == 0.0:
                continue
            if now - job.changed_at >= limit:
                job.stall_reported = True
                since = self._clock.wall() - (now - job.changed_at)
                await self._fanout.emit(JobStalled(job.id, job.status, since, self._clock.wall()))
