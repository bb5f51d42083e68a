"""The polling engine: a watcher's jobs, its loop of cycles, and its lifecycle."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Generic

import anyio
from anyio.abc import TaskGroup, TaskStatus

from mistral_jobs_async._exceptions import ConfigurationError, InvalidRequestError
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import check_id
from mistral_jobs_async.watcher._budget import Budget
from mistral_jobs_async.watcher._clock import AnyioClock, Clock, sleep_or_wake
from mistral_jobs_async.watcher._config import WatchConfig, WatchStats
from mistral_jobs_async.watcher._discovery import Discovery
from mistral_jobs_async.watcher._events import J
from mistral_jobs_async.watcher._fanout import Fanout, Subscription
from mistral_jobs_async.watcher._observe import Observer, WatchedJob
from mistral_jobs_async.watcher._polling import Poller, Target
from mistral_jobs_async.watcher._state import SavedJob, decode_state, encode_state

__all__ = ["Watcher", "id_list"]

logger = logging.getLogger("mistral_jobs_async.watcher")


def id_list(job_ids: str | Iterable[str]) -> list[str]:
    """Ids as a list, each checked; a lone string is one id, not its characters."""
    if isinstance(job_ids, str):
        job_ids = [job_ids]
    elif not isinstance(job_ids, Iterable):
        raise InvalidRequestError("job_ids", f"must be ids, not {type(job_ids).__name__}")
    return [check_id("job_id", job_id) for job_id in job_ids]


class Watcher(Generic[J]):
    """Polls a set of jobs of one API and fans their events out to subscribers.

    Use it as an async context manager: it owns a task group for its polling, which stops
    (with every request in flight) when the block exits, is cancelled, or every job has ended
    and ``close_when_done`` is set. Subscribers get their own bounded buffer; a slow one slows
    the polling down (backpressure) rather than losing events.
    """

    def __init__(
        self,
        target: Target[J],
        job_ids: str | Iterable[str] = (),
        *,
        retry: RetryPolicy,
        config: WatchConfig | None = None,
        state: bytes | None = None,
        close_when_done: bool = True,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        query: Mapping[str, str] | None = None,
        include_ended: bool = False,
    ) -> None:
        self.config = config or WatchConfig()
        self.stats = WatchStats()
        self._clock = clock or AnyioClock()
        self._close_when_done = close_when_done
        self._jobs: dict[str, WatchedJob] = {}
        self._loaded: dict[str, SavedJob] = {}  # the state it resumed from
        self._fanout: Fanout[J] = Fanout()
        self._budget = Budget(self.config, self._clock, self.stats)
        self._observer = Observer(
            self._jobs, config=self.config, clock=self._clock, rng=rng or random.Random(),
            fanout=self._fanout, stats=self.stats,
        )  # fmt: skip
        # The client's retry policy for one request, except that 429s come back here at once
        # (they pause the whole watcher) and its waits are the watcher's, on its budget.
        watcher_retry = replace(
            retry, retry_rate_limited=False, before_retry=self._budget.before_retry
        )
        self._poller = Poller(
            target, self._budget, self._observer, jobs=self._jobs, config=self.config,
            clock=self._clock, stats=self.stats, retry=watcher_retry, stop_on=self._stop_on,
        )  # fmt: skip
        self._discovery: Discovery[J] | None = None
        if query is not None:
            # A watch by query never runs out of jobs: new ones may match at any time.
            self._close_when_done = False
            self._discovery = Discovery(
                query, include_ended=include_ended, poller=self._poller,
                observer=self._observer, jobs=self._jobs, found=self._found,
                config=self.config, clock=self._clock,
            )  # fmt: skip
        self._wakeup = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._fatal: BaseException | None = None
        self._run_scope = anyio.CancelScope()
        self._finished = False
        if state is not None:
            self._load(state)
        self.add(job_ids)

    # --- membership --------------------------------------------------------------------------

    def add(self, job_ids: str | Iterable[str]) -> None:
        """Start watching more jobs (ids already watched are left as they are).

        A lone string is one id. A watcher with ``close_when_done`` stops once every job has
        ended; to add jobs later, create it with ``close_when_done=False``.
        """
        if self._finished:
            raise ConfigurationError("this watcher has stopped: it cannot take more jobs")
        for job_id in id_list(job_ids):
            if job_id not in self._jobs:
                self._jobs[job_id] = WatchedJob(id=job_id, interval=self.config.base_interval)
        self._wakeup.set()

    def _found(self, job_id: str) -> WatchedJob:
        """A job a query walk found: watched from now on."""
        job = self._jobs[job_id] = WatchedJob(id=job_id, interval=self.config.base_interval)
        return job

    def remove(self, job_ids: str | Iterable[str]) -> None:
        """Stop watching jobs (no event is sent for them); a lone string is one id."""
        removed = id_list(job_ids)
        for job_id in removed:
            job = self._jobs.pop(job_id, None)
            if job is not None:
                job.done = True
        if self._discovery is not None:
            self._discovery.ignore(removed)  # a watch by query must not find them again
        self._wakeup.set()

    def poll_soon(self, job_id: str) -> None:
        """Poll this job now and at the fast cadence after (it was just started or cancelled)."""
        job = self._jobs.get(job_id)
        if job is None or job.done or self._finished:
            return
        job.next_poll = self._clock.now()
        job.interval = self.config.fast_interval
        job.auto_start = None  # a started job is no longer parked
        self._wakeup.set()

    @property
    def job_ids(self) -> list[str]:
        """The jobs still being watched."""
        return [job.id for job in self._jobs.values() if not job.done]

    def status_of(self, job_id: str) -> str | None:
        """The last status seen for a job (None before its first observation)."""
        job = self._jobs.get(job_id)
        return job.status if job else None

    async def known_status(self, job_id: str) -> str | None:
        """``status_of`` (a shared watcher may have to ask Redis: this is the common form)."""
        return self.status_of(job_id)

    @property
    def fatal_error(self) -> BaseException | None:
        """The error that stopped the watch (a refused key), if one did."""
        return self._fatal

    # --- state -------------------------------------------------------------------------------

    def save_state(
        self,
        *,
        delivered: dict[str, SavedJob] | None = None,
        only: frozenset[str] | None = None,
    ) -> bytes:
        """The watcher's knowledge as bytes, to start a new watcher from after a restart.

        This counts events still waiting in a subscriber's buffer as seen; a subscription's
        own ``save_state()`` counts only what it has yielded, so nothing is lost.
        """
        jobs: list[SavedJob] = []
        for job in self._jobs.values():
            if delivered is not None and (only is None or job.id in only):
                jobs.append(delivered.get(job.id) or SavedJob(id=job.id))
            else:
                jobs.append(job.saved())
        return encode_state(jobs)

    def _load(self, state: bytes) -> None:
        interval = self.config.base_interval
        for entry in decode_state(state):
            self._loaded[entry.id] = entry
            self._jobs[entry.id] = WatchedJob.resumed_from(entry, interval=interval)

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(
        self,
        job_ids: str | Collection[str] | None = None,
        *,
        buffer: int | None = None,
        progress: bool = False,
    ) -> Subscription[J]:
        """A new stream of events (of ``job_ids`` only, if given), with its own buffer.

        ``progress=True`` adds ``CheckpointReported`` and ``MetadataChanged`` events. They cost
        GETs: while someone asks for a job's progress, it is polled by GET while RUNNING
        (a list shows no checkpoints). Other subscribers' jobs are not affected.
        """
        only = frozenset(id_list(job_ids)) if job_ids is not None else None
        receive = self._fanout.add(buffer or self.config.buffer, only, progress=progress)
        self._wakeup.set()
        loaded = {i: saved for i, saved in self._loaded.items() if only is None or i in only}
        return Subscription(self, receive, only, delivered=loaded)

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Watcher[J]:
        if self._task_group is not None:
            raise ConfigurationError("a watcher can be entered once")
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        try:
            await self._task_group.start(self._run)
        except BaseException:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None
        # Only the polling is cancelled: the task group's own scope also holds the caller's
        # block, which must not be cancelled from in here.
        self._run_scope.cancel()
        try:
            # The block's own exception (the caller's error, or a cancellation from outside)
            # is not handed to the task group, which would wrap it in an ExceptionGroup: the
            # polling task never fails, so the group only has to wind down, and the
            # exception then propagates untouched.
            await self._task_group.__aexit__(None, None, None)
        finally:
            self._finish()
        if exc_type is None and self._fatal is not None:
            raise self._fatal
        return None

    def _finish(self) -> None:
        self._finished = True
        self._fanout.close()

    def _stop_on(self, error: BaseException) -> None:
        """End the whole watch with ``error`` (the key is refused: polling cannot go on)."""
        if self._fatal is None:
            self._fatal = error
        self._run_scope.cancel()

    async def _run(self, *, task_status: TaskStatus[None]) -> None:
        try:
            with self._run_scope:
                task_status.started()
                await self._loop()
        except Exception as exc:
            logger.exception("watcher stopped by an unexpected error")
            self._fatal = exc
        finally:
            self._finish()

    # --- the loop ----------------------------------------------------------------------------

    def _active(self) -> list[WatchedJob]:
        return [job for job in self._jobs.values() if not job.done]

    async def _loop(self) -> None:
        discovery = self._discovery
        while True:
            active = self._active()
            if not active and self._close_when_done:
                return
            now = self._clock.now()
            if now < self._budget.paused_until:
                await self._clock.sleep(self._budget.paused_until - now)
                continue
            if discovery is not None and now >= discovery.next_at:
                await discovery.run()
                continue
            due = [job for job in active if job.next_poll <= now]
            if not due:
                wake_at = min((job.next_poll for job in active), default=math.inf)
                if discovery is not None:
                    wake_at = min(wake_at, discovery.next_at)
                self._wakeup = anyio.Event()
                await sleep_or_wake(self._clock, wake_at - now, self._wakeup)
                continue
            self.stats.cycles += 1
            for job in active:
                job.progress = self._fanout.wants_progress(job.id)
            soon = [job for job in active if now < job.next_poll <= now + self.config.coalesce]
            await self._poller.cycle(due, soon)
            await self._observer.check_stalls(self._active())
