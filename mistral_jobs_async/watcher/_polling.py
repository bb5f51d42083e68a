"""The requests a watcher makes: list sweeps that observe many jobs, and GETs of one job."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Generic, Protocol

import anyio

from mistral_jobs_async._exceptions import (
    AuthenticationError,
    MistralJobsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async.models._common import Page
from mistral_jobs_async.watcher._budget import Budget
from mistral_jobs_async.watcher._clock import Clock
from mistral_jobs_async.watcher._config import WatchConfig, WatchStats
from mistral_jobs_async.watcher._events import J
from mistral_jobs_async.watcher._observe import Observer, WatchedJob

__all__ = ["Poller", "Target"]

logger = logging.getLogger("mistral_jobs_async.watcher")

#: Sweeps failing in a row before the watcher polls one by one (for ``base_interval``).
_SWEEP_FAILURES_BEFORE_GETS = 3


class Target(Protocol[J]):
    """One job API as the watcher polls it (the job resources are targets)."""

    #: Whether the list endpoint takes ``created_after``.
    _filters_by_creation: bool

    async def _watch_get(self, job_id: str, retry: RetryPolicy) -> J:
        """The detailed job."""
        ...

    async def _watch_page(
        self,
        page: int,
        page_size: int,
        created_after: float | None,
        retry: RetryPolicy,
        filters: Mapping[str, str] | None = None,
    ) -> Page[J]:
        """One page of the organisation's jobs, newest first (matching ``filters``, if any)."""
        ...


class Poller(Generic[J]):
    """Chooses and makes the requests of a cycle; every one goes through the budget."""

    def __init__(
        self,
        target: Target[J],
        budget: Budget,
        observer: Observer[J],
        *,
        jobs: dict[str, WatchedJob],
        config: WatchConfig,
        clock: Clock,
        stats: WatchStats,
        retry: RetryPolicy,
        stop_on: Callable[[BaseException], None],
    ) -> None:
        self._target = target
        self._budget = budget
        self._observer = observer
        self._jobs = jobs
        self._config = config
        self._clock = clock
        self._stats = stats
        self._retry = retry
        self._stop_on = stop_on
        self._estimated_pages: int | None = None
        self._next_probe = 0.0
        self.sweep_cooldown_until = 0.0
        self._failures = 0
        self._resume: tuple[float | None, int] | None = None

    async def cycle(self, due: list[WatchedJob], soon: list[WatchedJob]) -> None:
        """Poll the due jobs: by one list sweep when it costs fewer requests, else one by one.

        Jobs due within ``coalesce`` seconds count towards the sweep (it sees them anyway).
        Resumed jobs, suspected 404s and changes a sweep cannot vouch for get a GET: only a
        GET carries the events they need. GETs in place of a failed sweep are bounded by what
        the budget pays within one fast interval, nearest-to-the-end jobs first; the rest stay
        due for the next cycle, which takes the sweep up again where it stopped.
        """
        now = self._clock.now()
        sweepable = [job for job in due + soon if not job.needs_get]
        singles = [job for job in due if job.needs_get]
        if (
            len(sweepable) >= 2
            and now >= self.sweep_cooldown_until
            and self.sweep_pays(len(sweepable))
        ):
            unseen = await self.sweep(sweepable)
            # What the sweep left behind: unseen jobs, and changes it found but cannot vouch
            # for (their GETs come in this same cycle, so the change is reported at once).
            singles += [job for job in unseen if job.next_poll <= now and not job.needs_get]
            singles += [job for job in sweepable if job.needs_history and not job.done]
        else:
            singles += [job for job in sweepable if job.next_poll <= now]
        if len(singles) > self.gets_per_cycle():
            singles.sort(key=_urgency)
            del singles[self.gets_per_cycle() :]
        if singles:
            async with anyio.create_task_group() as group:
                for job in singles:
                    group.start_soon(self.poll_one, job)

    def gets_per_cycle(self) -> int:
        """The GETs one cycle may make: what the budget pays within one fast interval."""
        return max(
            self._config.max_in_flight,
            int(self._config.requests_per_second * self._config.fast_interval),
        )

    def sweep_pays(self, due: int) -> bool:
        """A sweep costs the pages it walks; it pays when they are fewer than the GETs.

        The estimate is what the last sweep needed; now and then a sweep is tried anyway, so
        that one expensive estimate (jobs spread over many pages once) does not stick.
        """
        pages = self._estimated_pages if self._estimated_pages is not None else 1
        if pages <= due:
            return True
        now = self._clock.now()
        if now >= self._next_probe:
            self._next_probe = now + 4 * self._config.max_interval
            return True
        return False

    async def sweep(self, jobs: list[WatchedJob]) -> list[WatchedJob]:
        """Observe ``jobs`` through list pages; return those the pages did not show."""
        self._stats.sweeps += 1
        known = [job.created_at for job in jobs if job.created_at is not None]
        # Bounded by the oldest job sought, when every sought job's creation time is known.
        oldest = min(known) if len(known) == len(jobs) else None
        bounded = oldest is not None and self._target._filters_by_creation
        created_after = oldest - 1 if bounded and oldest is not None else None
        wanted = {job.id: job for job in jobs}
        size = self._config.page_size
        # A sweep that failed part-way is taken up again at the page that failed: the pages
        # before it were seen (newer jobs only push older ones to later pages).
        number = self._resume[1] if self._resume and self._resume[0] == created_after else 0
        self._resume = None
        while wanted:
            page = await self.page(number, size, created_after)
            if page is None:
                return []  # paused or stopped: the jobs stay due
            if isinstance(page, MistralJobsError):
                return self._failed_sweep(page, number, created_after, list(wanted.values()))
            self._failures = 0
            total_pages = max(1, -(-page.total // size))
            for item in page.data:
                job = self._jobs.get(item.id)
                if job is not None and not job.done:
                    wanted.pop(item.id, None)
                    await self._observer.observe(job, item, detailed=False)
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

    def _failed_sweep(
        self,
        error: MistralJobsError,
        number: int,
        created_after: float | None,
        wanted: list[WatchedJob],
    ) -> list[WatchedJob]:
        """A page failed after the client's retries: take the sweep up again next cycle.

        The jobs it was to show stay due, and no GET replaces it at once (600 GETs for one
        bad page would cost more than the page). Only after several sweeps in a row fail does
        the watcher poll one by one for a while, bounded per cycle by the budget.
        """
        self._failures += 1
        if self._failures < _SWEEP_FAILURES_BEFORE_GETS:
            logger.info("list page %d failed (%s): taking the sweep up there", number, error)
            self._resume = (created_after, number)
            return []
        logger.info("list sweeps keep failing (%s): polling one by one for a while", error)
        self._failures = 0
        self.sweep_cooldown_until = self._clock.now() + self._config.base_interval
        return wanted

    async def page(
        self,
        number: int,
        size: int,
        created_after: float | None,
        filters: Mapping[str, str] | None = None,
    ) -> Page[J] | MistralJobsError | None:
        """One list page; the error if it failed; None if the watch paused or stopped."""
        async with self._budget.request("list"):
            try:
                return await self._target._watch_page(
                    number, size, created_after, self._retry, filters
                )
            except RateLimitError as exc:
                self._budget.pause(exc)
                return None
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._stop_on(exc)
                return None
            except MistralJobsError as exc:
                return exc

    async def poll_one(self, job: WatchedJob) -> None:
        """GET one job and observe it; errors become pauses, backoffs or the watch's end."""
        async with self._budget.request("get"):
            if job.needs_history:
                self._stats.history_requests += 1
            try:
                item = await self._target._watch_get(job.id, self._retry)
            except RateLimitError as exc:
                self._budget.pause(exc)
                return
            except NotFoundError:
                await self._observer.vanished(job)
                return
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._stop_on(exc)
                return
            except MistralJobsError as exc:
                await self._observer.failed(job, exc)
                return
        await self._observer.observe(job, item, detailed=True)


#: The order jobs get their GETs in when the budget cannot pay for all of them in one cycle:
#: jobs a GET must finish first, then those nearest to their end, then the rest.
_STAGE = {"CANCELLATION_REQUESTED": 0, "RUNNING": 1, "STARTED": 2, "VALIDATED": 3}


def _urgency(job: WatchedJob) -> tuple[int, int, float]:
    return (0 if job.needs_get else 1, _STAGE.get(job.status or "", 4), job.next_poll)
