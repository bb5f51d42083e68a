"""Follow many training jobs at once and get their status transitions as an async iterator.

Usually reached through ``client.fine_tuning.jobs.watch(ids)`` / ``client.forge.jobs.watch``
and ``...jobs.wait(id)``; this module holds the machinery and the event types.

How it spends requests (see ``docs/watcher.md`` for the whole story):

* **One budget.** Every request of a watcher takes a token from one rate limiter
  (``requests_per_second``) and a slot from one ``CapacityLimiter`` (``max_in_flight``).
  A 429 pauses the whole watcher for its Retry-After: no per-job storm.
* **Sweep or GET, by cost.** When several jobs are due, one list sweep (pages of 100,
  newest first, bounded by ``created_after`` where the API has it) observes them all at once;
  it is chosen when the pages it needs are fewer than the GETs it replaces, and abandoned for
  GETs as soon as the remaining pages would cost more. Jobs a sweep cannot see get a GET.
* **Adaptive cadence per job.** Fast right after a change and in short-lived statuses
  (VALIDATING, STARTED, CANCELLATION_REQUESTED), growing while a job sits in QUEUED or
  RUNNING, capped, with jitter so jobs do not poll in lockstep.
* **Three clocks apart.** Poll cadence is the watcher's; retrying one failed request is the
  client's ``RetryPolicy`` (minus 429s, which pause the watcher); deadlines are the caller's
  (``wait(timeout=...)`` or an anyio cancel scope). A failed request is never an observation.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Protocol

import anyio
import msgspec
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mistral_jobs_async._exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MistralJobsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WaitTimeoutError,
)
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import check_id
from mistral_jobs_async.models._common import JobBase, Page

__all__ = [
    "FAST_STATUSES",
    "AnyioClock",
    "Clock",
    "JobStalled",
    "JobVanished",
    "PollFailed",
    "Subscription",
    "Target",
    "Transition",
    "WatchConfig",
    "WatchEvent",
    "WatchSession",
    "WatchStats",
    "Watcher",
    "wait_for_end",
]

logger = logging.getLogger("mistral_jobs_async.watcher")

#: Statuses that usually last seconds: polled at ``fast_interval``.
FAST_STATUSES = frozenset({"VALIDATING", "STARTED", "CANCELLATION_REQUESTED"})
_STATE_VERSION = 1


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    """A job was seen in a new status (``previous`` is None on its first observation).

    ``missed`` marks changes that happened while no watcher was running (after a resume):
    they are reported late, but reported. ``job`` is the job as last fetched (from a list
    sweep it carries no events or checkpoints).
    """

    job_id: str
    previous: str | None
    status: str
    job: JobBase
    observed_at: float
    missed: bool = False

    @property
    def terminal(self) -> bool:
        """Whether ``status`` is final for the job's API."""
        return self.status in self.job.TERMINAL


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


#: Every event a watcher yields: a small closed set to match on.
WatchEvent = Transition | JobVanished | PollFailed | JobStalled


# --- time ----------------------------------------------------------------------------------


class Clock(Protocol):
    """The watcher's one seam to time: inject one to run its cadence in virtual time."""

    def now(self) -> float:
        """Monotonic seconds (schedules and budgets)."""
        ...

    def wall(self) -> float:
        """Unix seconds (the ``observed_at`` of events)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class AnyioClock:
    """Real time: the event loop's clock, ``time.time()`` and ``anyio.sleep``."""

    def now(self) -> float:
        """The event loop's monotonic time."""
        return anyio.current_time()

    def wall(self) -> float:
        """Unix time."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``anyio.sleep``."""
        await anyio.sleep(seconds)


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchConfig:
    """Cadence and budget of a watcher. Seconds throughout."""

    #: Cadence: after a change and in FAST_STATUSES; the first wait otherwise; its ceiling.
    fast_interval: float = 2.0
    base_interval: float = 5.0
    max_interval: float = 60.0
    growth: float = 1.5
    jitter: float = 0.1
    error_backoff_max: float = 60.0
    requests_per_second: float = 5.0
    max_in_flight: int = 4
    page_size: int = 100
    #: Report a job that keeps one status this long (None: never).
    stall_after: float | None = None
    #: Events each subscriber may hold before the watcher waits for it.
    buffer: int = 256
    #: Jobs due within this many seconds join a cycle that is happening anyway.
    coalesce: float = 1.0

    def __post_init__(self) -> None:
        positive = ("fast_interval", "base_interval", "max_interval", "requests_per_second")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be > 0")
        if self.growth < 1 or not 0 <= self.jitter < 1 or self.max_in_flight < 1:
            raise ConfigurationError("growth >= 1, 0 <= jitter < 1, max_in_flight >= 1")
        if not 1 <= self.page_size <= 100 or self.buffer < 1:
            raise ConfigurationError("page_size must be in 1..100 and buffer >= 1")


@dataclass
class WatchStats:
    """What a watcher spent and saw, for dashboards and benchmarks."""

    requests: int = 0
    list_requests: int = 0
    get_requests: int = 0
    sweeps: int = 0
    cycles: int = 0
    transitions: int = 0
    rate_limited: int = 0
    retries: int = 0


# --- what the watcher polls ----------------------------------------------------------------


class Target(Protocol):
    """One job API as the watcher sees it (implemented by the resources)."""

    @property
    def filters_by_creation(self) -> bool:
        """Whether the list endpoint takes ``created_after``."""
        ...

    async def get(self, job_id: str, retry: RetryPolicy) -> JobBase:
        """The detailed job."""
        ...

    async def page(
        self, page: int, page_size: int, created_after: float | None, retry: RetryPolicy
    ) -> Page[Any]:
        """One page of the organisation's jobs, newest first."""
        ...


class _SavedJob(msgspec.Struct):
    id: str
    status: str | None = None
    modified_at: int | None = None
    created_at: int | None = None
    done: bool = False


class _SavedState(msgspec.Struct):
    version: int
    jobs: list[_SavedJob]


@dataclass
class _Job:
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
    done: bool = False


def _id_list(job_ids: str | Iterable[str]) -> list[str]:
    """Ids as a list, each checked; a lone string is one id, not its characters."""
    if isinstance(job_ids, str):
        job_ids = [job_ids]
    elif not isinstance(job_ids, Iterable):
        raise InvalidRequestError("job_ids", f"must be ids, not {type(job_ids).__name__}")
    return [check_id("job_id", job_id) for job_id in job_ids]


# --- the watcher ---------------------------------------------------------------------------


class Watcher:
    """Polls a set of jobs of one API and fans their events out to subscribers.

    Use it as an async context manager: it owns a task group for its polling, which stops
    (with every request in flight) when the block exits, is cancelled, or every job has ended
    and ``close_when_done`` is set. Subscribers get their own bounded buffer; a slow one slows
    the polling down (backpressure) rather than losing events.
    """

    def __init__(
        self,
        target: Target,
        job_ids: str | Iterable[str] = (),
        *,
        retry: RetryPolicy,
        config: WatchConfig | None = None,
        state: bytes | None = None,
        close_when_done: bool = True,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._target = target
        self.config = config or WatchConfig()
        # The client's retry policy for one request, except that 429s come back here at once.
        self._retry = replace(retry, retry_rate_limited=False, sleep=self._retry_sleep)
        self._client_sleep = retry.sleep
        self._close_when_done = close_when_done
        self._rng = rng or random.Random()
        self._clock = clock or AnyioClock()
        self._jobs: dict[str, _Job] = {}
        self._subscribers: list[tuple[MemoryObjectSendStream[WatchEvent], frozenset[str] | None]]
        self._subscribers = []
        self._wakeup = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._limiter = anyio.CapacityLimiter(self.config.max_in_flight)
        self._next_token = 0.0
        self._paused_until = 0.0
        self._estimated_pages: int | None = None
        self._next_probe = 0.0
        self._sweep_cooldown_until = 0.0
        self._fatal: BaseException | None = None
        self._run_scope = anyio.CancelScope()
        self._finished = False
        self.stats = WatchStats()
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
        for job_id in _id_list(job_ids):
            if job_id not in self._jobs:
                self._jobs[job_id] = _Job(id=job_id, interval=self.config.base_interval)
        self._wake()

    def remove(self, job_ids: str | Iterable[str]) -> None:
        """Stop watching jobs (no event is sent for them); a lone string is one id."""
        for job_id in _id_list(job_ids):
            job = self._jobs.pop(job_id, None)
            if job is not None:
                job.done = True
        self._wake()

    @property
    def job_ids(self) -> list[str]:
        """The jobs still being watched."""
        return [job.id for job in self._jobs.values() if not job.done]

    def status_of(self, job_id: str) -> str | None:
        """The last status seen for a job (None before its first observation)."""
        job = self._jobs.get(job_id)
        return job.status if job else None

    def _wake(self) -> None:
        self._wakeup.set()

    # --- state -------------------------------------------------------------------------------

    def save_state(
        self,
        *,
        delivered: dict[str, _SavedJob] | None = None,
        only: frozenset[str] | None = None,
    ) -> bytes:
        """The watcher's knowledge as bytes, to start a new watcher from after a restart.

        This counts events still waiting in a subscriber's buffer as seen; a subscription's
        own ``save_state()`` counts only what it has yielded, so nothing is lost.
        """
        jobs: list[_SavedJob] = []
        for job in self._jobs.values():
            if delivered is not None and (only is None or job.id in only):
                jobs.append(delivered.get(job.id) or _SavedJob(id=job.id))
            else:
                jobs.append(
                    _SavedJob(
                        id=job.id,
                        status=job.status,
                        modified_at=job.modified_at,
                        created_at=job.created_at,
                        done=job.done,
                    )
                )
        return msgspec.json.encode(_SavedState(version=_STATE_VERSION, jobs=jobs))

    def _load(self, state: bytes) -> None:
        try:
            saved = msgspec.json.decode(state, type=_SavedState)
        except msgspec.MsgspecError as exc:
            raise ConfigurationError(f"not a saved watcher state: {exc}") from None
        if saved.version != _STATE_VERSION:
            raise ConfigurationError(f"saved state version {saved.version} is not supported")
        for entry in saved.jobs:
            self._jobs[entry.id] = _Job(
                id=entry.id,
                status=entry.status,
                modified_at=entry.modified_at,
                created_at=entry.created_at,
                interval=self.config.base_interval,
                resumed=entry.status is not None and not entry.done,
                done=entry.done,
            )

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(
        self, job_ids: str | Collection[str] | None = None, *, buffer: int | None = None
    ) -> Subscription:
        """A new stream of events (of ``job_ids`` only, if given), with its own buffer."""
        send, receive = anyio.create_memory_object_stream[WatchEvent](buffer or self.config.buffer)
        only = frozenset(_id_list(job_ids)) if job_ids is not None else None
        if self._finished:
            send.close()
        else:
            self._subscribers.append((send, only))
        return Subscription(self, receive, only)

    async def _emit(self, event: WatchEvent) -> None:
        for send, only in list(self._subscribers):
            if only is not None and event.job_id not in only:
                continue
            try:
                await send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._drop_subscriber(send)

    def _drop_subscriber(self, send: MemoryObjectSendStream[WatchEvent]) -> None:
        self._subscribers = [(s, o) for s, o in self._subscribers if s is not send]
        send.close()

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Watcher:
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
        for send, _ in self._subscribers:
            send.close()
        self._subscribers = []

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

    def _active(self) -> list[_Job]:
        return [job for job in self._jobs.values() if not job.done]

    async def _loop(self) -> None:
        while True:
            active = self._active()
            if not active and self._close_when_done:
                return
            now = self._clock.now()
            if now < self._paused_until:
                await self._clock.sleep(self._paused_until - now)
                continue
            due = [job for job in active if job.next_poll <= now]
            if not due:
                wake_at = min((job.next_poll for job in active), default=math.inf)
                self._wakeup = anyio.Event()
                await self._sleep_or_wake(wake_at - now)
                continue
            self.stats.cycles += 1
            soon = [job for job in active if now < job.next_poll <= now + self.config.coalesce]
            await self._cycle(due, soon)
            await self._check_stalls()

    async def _sleep_or_wake(self, seconds: float) -> None:
        """Sleep on the watcher's clock until ``seconds`` pass or ``add()`` wakes the loop."""
        wakeup = self._wakeup
        async with anyio.create_task_group() as group:

            async def sleep() -> None:
                if math.isfinite(seconds):
                    await self._clock.sleep(seconds)
                else:
                    await anyio.sleep_forever()
                group.cancel_scope.cancel()

            async def wake() -> None:
                await wakeup.wait()
                group.cancel_scope.cancel()

            group.start_soon(sleep)
            group.start_soon(wake)

    # --- one polling cycle -------------------------------------------------------------------

    async def _cycle(self, due: list[_Job], soon: list[_Job]) -> None:
        """Poll the due jobs: by one list sweep when it costs fewer requests, else one by one.

        Jobs due within ``coalesce`` seconds count towards the sweep (it sees them anyway);
        resumed jobs and suspected 404s always get a GET (a sweep cannot show what they need).
        """
        now = self._clock.now()
        sweepable = [job for job in due + soon if not job.resumed and not job.gone_suspect]
        singles = [job for job in due if job.resumed or job.gone_suspect]
        if (
            len(sweepable) >= 2
            and now >= self._sweep_cooldown_until
            and self._sweep_pays(len(sweepable))
        ):
            unseen = await self._sweep(sweepable)
            singles += [job for job in unseen if job.next_poll <= now]
        else:
            singles += [job for job in sweepable if job.next_poll <= now]
        if singles:
            async with anyio.create_task_group() as group:
                for job in singles:
                    group.start_soon(self._poll_one, job)

    def _sweep_pays(self, due: int) -> bool:
        """A sweep costs the pages it walks; it pays when they are fewer than the GETs.

        The estimate is what the last sweep needed; now and then a sweep is tried anyway, so
        that one expensive estimate (jobs spread over many pages once) does not stick.
        """
        pages = self._estimated_pages if self._estimated_pages is not None else 1
        if pages <= due:
            return True
        now = self._clock.now()
        if now >= self._next_probe:
            self._next_probe = now + 4 * self.config.max_interval
            return True
        return False

    async def _take_token(self) -> None:
        """The shared request budget: at most ``requests_per_second``, across every task."""
        while True:
            now = self._clock.now()
            slot = max(now, self._next_token, self._paused_until)
            if slot <= now:
                self._next_token = now + 1.0 / self.config.requests_per_second
                return
            # Wait, then look again: a 429 may have paused everything meanwhile.
            await self._clock.sleep(slot - now)

    async def _retry_sleep(self, seconds: float) -> None:
        """The client's wait before retrying one request, then a token: retries are budgeted."""
        await self._client_sleep(seconds)
        await self._take_token()
        self.stats.requests += 1
        self.stats.retries += 1

    def _pause(self, error: RateLimitError) -> None:
        wait = error.retry_after if error.retry_after is not None else self.config.base_interval
        until = self._clock.now() + wait
        if until > self._paused_until:
            logger.info("rate limited: pausing every poll for %.1fs", wait)
            self._paused_until = until
        self.stats.rate_limited += 1

    async def _sweep(self, jobs: list[_Job]) -> list[_Job]:
        """Observe ``jobs`` through list pages; return those the pages did not show."""
        self.stats.sweeps += 1
        known = [job.created_at for job in jobs if job.created_at is not None]
        # Bounded by the oldest job sought, when every sought job's creation time is known.
        oldest = min(known) if len(known) == len(jobs) else None
        bounded = oldest is not None and self._target.filters_by_creation
        created_after = oldest - 1 if bounded and oldest is not None else None
        wanted = {job.id: job for job in jobs}
        size = self.config.page_size
        number = 0
        while wanted:
            async with self._limiter:
                await self._take_token()
                self.stats.requests += 1
                self.stats.list_requests += 1
                try:
                    page = await self._target.page(number, size, created_after, self._retry)
                except RateLimitError as exc:
                    self._pause(exc)
                    return []  # the jobs stay due; the loop polls them after the pause
                except (AuthenticationError, PermissionDeniedError) as exc:
                    self._stop_on(exc)
                    return []
                except MistralJobsError as exc:
                    logger.info("list sweep failed (%s): polling one by one for a while", exc)
                    self._sweep_cooldown_until = self._clock.now() + self.config.base_interval
                    return list(wanted.values())
            total_pages = max(1, -(-page.total // size))
            for item in page.data:
                job = self._jobs.get(item.id)
                if job is not None and not job.done:
                    wanted.pop(item.id, None)
                    await self._observe(job, item, detailed=False)
            if not wanted:
                self._estimated_pages = number + 1  # what observing these jobs took
                break
            self._estimated_pages = total_pages
            if not page.has_more:
                break
            if oldest is not None and not bounded:
                created = [item.created_at for item in page.data if item.created_at is not None]
                if created and min(created) < oldest:
                    break  # past the oldest job we look for
            remaining_pages = total_pages - (number + 1)
            if remaining_pages > len(wanted):
                break  # the rest is cheaper one by one
            number += 1
        return list(wanted.values())

    async def _poll_one(self, job: _Job) -> None:
        async with self._limiter:
            await self._take_token()
            self.stats.requests += 1
            self.stats.get_requests += 1
            try:
                item = await self._target.get(job.id, self._retry)
            except RateLimitError as exc:
                self._pause(exc)
                return
            except NotFoundError:
                await self._not_found(job)
                return
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._stop_on(exc)
                return
            except MistralJobsError as exc:
                await self._failed(job, exc)
                return
        await self._observe(job, item, detailed=True)

    def _stop_on(self, error: BaseException) -> None:
        """End the whole watch with ``error`` (the key is refused: polling cannot go on)."""
        if self._fatal is None:
            self._fatal = error
        self._run_scope.cancel()

    async def _not_found(self, job: _Job) -> None:
        if not self._current(job):
            return
        if not job.gone_suspect:
            # One 404 may be a blip (a replica behind): confirm before declaring the job gone.
            job.gone_suspect = True
            job.next_poll = self._clock.now() + self.config.fast_interval
            return
        job.done = True
        await self._emit(
            JobVanished(job_id=job.id, last_status=job.status, observed_at=self._clock.wall())
        )

    async def _failed(self, job: _Job, error: MistralJobsError) -> None:
        if not self._current(job):
            return
        job.failures += 1
        backoff = min(
            self.config.error_backoff_max, self.config.base_interval * 2 ** (job.failures - 1)
        )
        job.next_poll = self._clock.now() + self._jittered(backoff)
        await self._emit(
            PollFailed(
                job_id=job.id, error=error, failures=job.failures, observed_at=self._clock.wall()
            )
        )

    # --- observations ------------------------------------------------------------------------

    def _current(self, job: _Job) -> bool:
        """Whether ``job`` is still watched (``remove()`` may have come during its request)."""
        return self._jobs.get(job.id) is job and not job.done

    async def _observe(self, job: _Job, item: JobBase, *, detailed: bool) -> None:
        if not self._current(job) or (job.resumed and not detailed):
            return  # removed meanwhile; or resumed, which needs a GET's events to replay
        now = self._clock.now()
        previous = job.status
        job.failures = 0
        job.gone_suspect = False
        if item.created_at is not None:
            job.created_at = item.created_at
        auto_start = getattr(item, "auto_start", None)
        if auto_start is not None:
            job.auto_start = auto_start
        changed = item.status != previous
        replay = job.resumed and detailed
        saved_modified = job.modified_at
        # The job's state moves first, the events go out after: a subscriber that joins while
        # an event is being delivered (emitting can wait on slow subscribers) reads the new
        # status from status_of() instead of missing the change.
        job.resumed = False
        job.status = item.status
        job.modified_at = item.modified_at or job.modified_at
        if changed:
            job.changed_at = now
            job.stall_reported = False
        if item.is_terminal:
            job.done = True
        else:
            job.interval = self._next_interval(job, changed)
            job.next_poll = now + self._jittered(job.interval)
        if replay:
            await self._replay_missed(job, item, previous, saved_modified)
        elif changed:
            await self._emit(
                Transition(
                    job_id=job.id,
                    previous=previous,
                    status=item.status,
                    job=item,
                    observed_at=self._clock.wall(),
                    missed=False,
                )
            )
            self.stats.transitions += 1

    async def _replay_missed(
        self, job: _Job, item: JobBase, saved: str | None, saved_modified: int | None
    ) -> None:
        """After a resume: report every status change since the saved one, flagged missed."""
        changes = [
            (str(event.data["status"]), event.created_at or 0)
            for event in item.events or []
            if event.data and "status" in event.data
        ]
        # Replay what follows the last change into the saved status (timestamps are whole
        # seconds, so "after modified_at" alone could drop a change made in that second).
        start = next(
            (i + 1 for i in range(len(changes) - 1, -1, -1) if changes[i][0] == saved),
            None,
        )
        if start is None:
            since = saved_modified or 0
            start = next((i for i, (_, at) in enumerate(changes) if at > since), len(changes))
        statuses = [status for status, _ in changes[start:]]
        if not statuses or statuses[-1] != item.status:
            statuses.append(item.status)
        previous = saved
        for status in statuses:
            if status == previous:
                continue
            await self._emit(
                Transition(
                    job_id=job.id,
                    previous=previous,
                    status=status,
                    job=item,
                    observed_at=self._clock.wall(),
                    missed=True,
                )
            )
            self.stats.transitions += 1
            previous = status

    def _next_interval(self, job: _Job, changed: bool) -> float:
        config = self.config
        status = job.status or ""
        if status == "VALIDATED" and job.auto_start is False:
            return config.max_interval  # parked until someone calls start: not finished
        if changed or status in FAST_STATUSES:
            return config.fast_interval
        if job.interval < config.base_interval:
            return config.base_interval
        return min(config.max_interval, max(config.base_interval, job.interval * config.growth))

    def _jittered(self, seconds: float) -> float:
        spread = self.config.jitter
        return seconds * (1.0 + self._rng.uniform(-spread, spread))

    async def _check_stalls(self) -> None:
        limit = self.config.stall_after
        if limit is None:
            return
        now = self._clock.now()
        for job in self._active():
            if job.status is None or job.stall_reported or job.changed_at == 0.0:
                continue
            if now - job.changed_at >= limit:
                job.stall_reported = True
                await self._emit(
                    JobStalled(
                        job_id=job.id,
                        status=job.status,
                        since=self._clock.wall() - (now - job.changed_at),
                        observed_at=self._clock.wall(),
                    )
                )


class Subscription:
    """One subscriber's events: ``async for event in subscription``.

    Iteration ends when the watcher stops (every job ended, or the watcher was closed); if it
    stopped on an error (401/403), iterating raises that error.
    """

    def __init__(
        self,
        watcher: Watcher,
        receive: MemoryObjectReceiveStream[WatchEvent],
        only: frozenset[str] | None = None,
    ) -> None:
        self.watcher = watcher
        self._receive = receive
        self._only = only
        self._delivered: dict[str, _SavedJob] = {}

    def save_state(self) -> bytes:
        """The watch as this subscriber has seen it, to resume from after a restart.

        Only events this subscription has yielded count: anything still in its buffer will be
        reported again by the resumed watcher, so nothing is lost.
        """
        return self.watcher.save_state(delivered=self._delivered, only=self._only)

    def _note(self, event: WatchEvent) -> None:
        if isinstance(event, Transition):
            self._delivered[event.job_id] = _SavedJob(
                id=event.job_id,
                status=event.status,
                modified_at=event.job.modified_at,
                created_at=event.job.created_at,
                done=event.terminal,
            )
        elif isinstance(event, JobVanished):
            self._delivered[event.job_id] = _SavedJob(
                id=event.job_id, status=event.last_status, done=True
            )

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        try:
            event = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive.close()
            fatal = self.watcher._fatal
            if fatal is not None:
                raise fatal from None
            raise StopAsyncIteration from None
        self._note(event)
        return event

    async def aclose(self) -> None:
        """Stop receiving; the watcher forgets this subscriber."""
        await self._receive.aclose()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class WatchSession:
    """``async with jobs.watch(ids) as events``: a watcher and one subscription to it.

    The events object is a :class:`Subscription`; ``events.watcher`` is the watcher (add or
    remove jobs, ``save_state()``, ``stats``). Leaving the block stops every poll.
    """

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> Subscription:
        self._subscription = self.watcher.subscribe()
        await self.watcher.__aenter__()
        return self._subscription

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._subscription is not None:
            await self._subscription.aclose()
        return await self.watcher.__aexit__(exc_type, exc, tb)


async def wait_for_end(session: WatchSession, job_id: str, timeout: float | None) -> JobBase:
    """The job once it reaches its terminal set; raises if it vanishes or ``timeout`` passes."""
    last: str | None = None
    try:
        with anyio.fail_after(timeout):
            async with session as events:
                async for event in events:
                    if isinstance(event, Transition):
                        last = event.status
                        if event.terminal:
                            return event.job
                    elif isinstance(event, JobVanished):
                        raise NotFoundError(
                            f"job {job_id} vanished while waiting for it",
                            status_code=404,
                        )
    except TimeoutError:
        raise WaitTimeoutError(
            f"job {job_id} is still {last or 'unobserved'} after {timeout}s "
            "(it keeps running; only the wait ended)",
            job_id=job_id,
            last_status=last,
        ) from None
    raise MistralJobsError(f"the watch of {job_id} ended before the job did (was it removed?)")
