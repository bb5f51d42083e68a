"""What both job resources share: ``watch``, ``watcher`` and ``wait`` over a watch target."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import msgspec

from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import fetch_page
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import item_path
from mistral_jobs_async.models._common import JobBase, ListAnswer, Page
from mistral_jobs_async.resources._recovery import Claims
from mistral_jobs_async.watcher import Clock, WatchConfig, Watcher, WatchSession, wait_for_end

__all__ = ["JobsTarget", "WatchableJobs"]

J = TypeVar("J", bound=JobBase)


class JobsTarget:
    """A job API as the watcher polls it: get one job, or one page of the list."""

    def __init__(
        self,
        get: Callable[[str, RetryPolicy], Awaitable[JobBase]],
        page: Callable[[int, int, float | None, RetryPolicy], Awaitable[Page[Any]]],
        *,
        filters_by_creation: bool,
    ) -> None:
        self._get = get
        self._page = page
        self.filters_by_creation = filters_by_creation

    async def get(self, job_id: str, retry: RetryPolicy) -> JobBase:
        """The detailed job."""
        return await self._get(job_id, retry)

    async def page(
        self, page: int, page_size: int, created_after: float | None, retry: RetryPolicy
    ) -> Page[Any]:
        """One page of jobs, newest first (created after ``created_after`` if supported)."""
        return await self._page(page, page_size, created_after, retry)


class WatchableJobs(Generic[J]):
    """A job resource's ``watch``, ``watcher`` and ``wait``, and what they poll with."""

    _collection: str
    _job_type: type[J]
    _decoder: msgspec.json.Decoder[J]
    _list_decoder: msgspec.json.Decoder[ListAnswer[J]]
    #: Whether the API's list takes ``created_after`` (the watcher bounds its sweeps with it).
    _filters_by_creation = False

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        #: Jobs this resource's creates returned: a lookup after a failed create skips them.
        self._claims = Claims()

    def _created_after(self, timestamp: float) -> dict[str, str]:
        """The list query that keeps jobs created after ``timestamp`` (none by default)."""
        return {}

    def _watch_target(self) -> JobsTarget:
        async def get(job_id: str, retry: RetryPolicy) -> JobBase:
            path = item_path(self._collection, "job_id", job_id)
            return await self._http.request("GET", path, self._decoder, retry=retry)

        async def page(
            number: int, size: int, created_after: float | None, retry: RetryPolicy
        ) -> Page[Any]:
            query = self._created_after(created_after) if created_after is not None else {}
            return await fetch_page(
                self._http, self._collection, self._list_decoder, number, size,
                params=query, retry=retry,
            )  # fmt: skip

        return JobsTarget(get, page, filters_by_creation=self._filters_by_creation)

    def _retry_policy(self) -> RetryPolicy:
        return self._http.retry

    def watcher(
        self,
        job_ids: str | Iterable[str] = (),
        *,
        config: WatchConfig | None = None,
        state: bytes | None = None,
        close_when_done: bool = True,
        clock: Clock | None = None,
    ) -> Watcher:
        """A :class:`~mistral_jobs_async.watcher.Watcher` of these jobs, to enter yourself.

        Use it for many subscribers or for jobs added later (``close_when_done=False`` keeps
        it running when every job has ended); ``state`` resumes from ``save_state()``;
        ``clock`` replaces real time (tests).
        """
        return Watcher(
            self._watch_target(),
            job_ids,
            retry=self._retry_policy(),
            config=config,
            state=state,
            close_when_done=close_when_done,
            clock=clock,
        )

    def watch(
        self,
        job_ids: str | Iterable[str],
        *,
        config: WatchConfig | None = None,
        state: bytes | None = None,
    ) -> WatchSession:
        """``async with jobs.watch(ids) as events: async for event in events: ...``.

        ``job_ids`` is an iterable of job ids, or one id as a string; a malformed id raises
        ``InvalidRequestError`` at once. Events are ``Transition``, ``JobVanished``,
        ``PollFailed`` and ``JobStalled``; the iteration ends when every job has reached its
        API's terminal set (or vanished).
        """
        return WatchSession(self.watcher(job_ids, config=config, state=state))

    async def wait(
        self, job_id: str, *, timeout: float | None = None, config: WatchConfig | None = None
    ) -> J:
        """The job once it has ended (SUCCESS, FAILED, ... never a parked VALIDATED).

        Raises ``WaitTimeoutError`` after ``timeout`` seconds (the job keeps running) and
        ``NotFoundError`` if the job vanishes.
        """
        job = await wait_for_end(self.watch([job_id], config=config), job_id, timeout)
        if not isinstance(job, self._job_type):  # the target only yields this API's jobs
            raise TypeError(f"expected a {self._job_type.__name__}, got {type(job).__name__}")
        return job
