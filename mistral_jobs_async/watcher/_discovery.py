"""Watching by query: find the organisation's jobs that match list filters, new ones included."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Generic

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.models._common import JobBase
from mistral_jobs_async.watcher._clock import Clock
from mistral_jobs_async.watcher._config import WatchConfig
from mistral_jobs_async.watcher._events import J
from mistral_jobs_async.watcher._observe import Observer, WatchedJob
from mistral_jobs_async.watcher._polling import Poller

__all__ = ["Discovery"]

logger = logging.getLogger("mistral_jobs_async.watcher")


class Discovery(Generic[J]):
    """Walks the filtered list (newest first) every ``base_interval`` for jobs to add.

    The first walk takes every page: every match is new. Later walks stop at the first page
    with nothing new, since new jobs come first, unless the filters include ``status``: a job
    can enter a status long after it was created, so those walks read every page of the
    (usually short) list of jobs in that status. Jobs the first walk finds already ended are
    left out unless ``include_ended``; a job created later is reported even if it ended
    before a walk found it. Each job found is observed by the page that showed it.
    """

    def __init__(
        self,
        filters: Mapping[str, str],
        *,
        include_ended: bool,
        poller: Poller[J],
        observer: Observer[J],
        jobs: dict[str, WatchedJob],
        found: Callable[[str], WatchedJob],
        config: WatchConfig,
        clock: Clock,
    ) -> None:
        self.filters = dict(filters)
        self._include_ended = include_ended
        self._poller = poller
        self._observer = observer
        self._jobs = jobs
        self._found = found
        self._config = config
        self._clock = clock
        self._ignored: set[str] = set()  # found already ended, or removed: not reported
        self._walked_once = False
        # The newest creation time the first walk saw (the server's clock): a job created
        # after it is reported even if it ended before a walk found it.
        self._first_newest: int | None = None
        self.next_at = 0.0

    def ignore(self, job_ids: list[str]) -> None:
        """Never add these again (removed from the watch by its user)."""
        self._ignored.update(job_ids)

    def _new(self, item: JobBase) -> bool:
        """Whether a job was created after the first walk (so it belongs to the watch)."""
        if not self._walked_once or self._first_newest is None or item.created_at is None:
            return False
        return item.created_at >= self._first_newest  # the first walk ignored what it saw

    async def run(self) -> None:
        """One walk; the next one is due ``base_interval`` later (sooner after a failure)."""
        size = self._config.page_size
        whole = not self._walked_once or "status" in self.filters
        number = 0
        while True:
            page = await self._poller.page(number, size, None, self.filters)
            if page is None:
                self.next_at = self._clock.now() + self._config.fast_interval
                return  # paused or stopped
            if isinstance(page, MistralJobsError):
                logger.info("finding jobs failed (%s): trying again soon", page)
                self.next_at = self._clock.now() + self._config.fast_interval
                return
            new = 0
            for item in page.data:
                if item.id in self._ignored:
                    continue
                job = self._jobs.get(item.id)
                if job is None:
                    if item.is_terminal and not (self._include_ended or self._new(item)):
                        self._ignored.add(item.id)
                        continue
                    new += 1
                    job = self._found(item.id)
                await self._observer.observe(job, item, detailed=False)
            if not self._walked_once:
                created = [i.created_at for i in page.data if i.created_at is not None]
                self._first_newest = max([self._first_newest or 0, *created])
            if not page.has_more or (new == 0 and not whole):
                break
            number += 1
        self._walked_once = True
        self.next_at = self._clock.now() + self._config.base_interval
