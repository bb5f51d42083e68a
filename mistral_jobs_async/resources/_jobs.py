"""What both job resources share: ``get``, ``cancel``, ``watch``, ``watcher`` and ``wait``.

A resource is also the watcher's target: the watcher polls through ``_watch_get`` and
``_watch_page`` with its own retry policy (its budget, its clock). A resource remembers the
watchers it made, so that a ``start`` or ``cancel`` through it makes them look at that job
again at once instead of at the job's slow cadence.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Generic

import msgspec

from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import fetch_page
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import item_path
from mistral_jobs_async.models._common import J, ListAnswer, Page
from mistral_jobs_async.resources._recovery import Claims, state_check

# The watcher is imported when first used: it is half of what importing the client costs,
# and a program that only creates, starts or reads jobs never needs it
# (benchmarks/bench_import.py).
if TYPE_CHECKING:
    from mistral_jobs_async.watcher import Clock, WatchConfig, Watcher, WatchSession
    from mistral_jobs_async.watcher._state import StateFile

__all__ = ["JobsResource"]


class JobsResource(Generic[J]):
    """The operations every job API has, and the watching built on them."""

    _collection: str
    #: The API's name where one is needed (Redis keys): ``fine_tuning`` or ``forge``.
    _api: str
    _job_type: type[J]
    _decoder: msgspec.json.Decoder[J]
    _list_decoder: msgspec.json.Decoder[ListAnswer[J]]
    #: Whether the API's list takes ``created_after`` (the watcher bounds its sweeps with it).
    _filters_by_creation = False
    #: Statuses that show a cancel was taken (a lost answer is checked against them).
    _cancel_taken: frozenset[str]

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        #: Jobs this resource's creates returned: a lookup after a failed create skips them.
        self._claims = Claims()
        self._watchers: weakref.WeakSet[Watcher[J]] = weakref.WeakSet()

    def _created_after(self, timestamp: float) -> dict[str, str]:
        """The list query that keeps jobs created after ``timestamp`` (none by default)."""
        return {}

    async def get(self, job_id: str) -> J:
        """The job, with its events (and, for fine-tuning, its checkpoints)."""
        return await self._watch_get(job_id, self._http.retry)

    async def cancel(self, job_id: str) -> J:
        """Ask the service to cancel the job; this client's watchers of it look again at once.

        A cancel whose answer is lost is checked (the job being cancelled) before a retry.
        """
        path = item_path(self._collection, "job_id", job_id) + "/cancel"
        taken = self._cancel_taken
        recover = state_check(lambda: self.get(job_id), lambda job: job.status in taken)
        job = await self._http.request("POST", path, self._decoder, recover=recover)
        self._acted_on(job_id)
        return job

    def _acted_on(self, job_id: str) -> None:
        """A start or cancel went through: the watchers of this job poll it soon."""
        for watcher in list(self._watchers):
            watcher.poll_soon(job_id)

    # --- what the watcher polls --------------------------------------------------------------

    async def _watch_get(self, job_id: str, retry: RetryPolicy) -> J:
        path = item_path(self._collection, "job_id", job_id)
        return await self._http.request("GET", path, self._decoder, retry=retry)

    async def _watch_page(
        self,
        number: int,
        size: int,
        created_after: float | None,
        retry: RetryPolicy,
        filters: Mapping[str, str] | None = None,
    ) -> Page[J]:
        query = dict(filters or {})
        if created_after is not None:
            query.update(self._created_after(created_after))
        return await fetch_page(
            self._http, self._collection, self._list_decoder, number, size,
            params=query, retry=retry,
        )  # fmt: skip

    # --- watching ----------------------------------------------------------------------------

    def watcher(
        self,
        job_ids: str | Iterable[str] = (),
        *,
        config: WatchConfig | None = None,
        state: bytes | None = None,
        close_when_done: bool = True,
        clock: Clock | None = None,
    ) -> Watcher[J]:
        """A :class:`~mistral_jobs_async.watcher.Watcher` of these jobs, to enter yourself.

        Use it for many subscribers or for jobs added later (``close_when_done=False`` keeps
        it running when every job has ended); ``state`` resumes from ``save_state()``;
        ``clock`` replaces real time (tests: ``VirtualClock``).
        """
        from mistral_jobs_async.watcher import Watcher  # noqa: PLC0415 (on first use)

        watcher = Watcher(
            self,
            job_ids,
            retry=self._http.retry,
            config=config,
            state=state,
            close_when_done=close_when_done,
            clock=clock,
        )
        self._watchers.add(watcher)
        return watcher

    def watch(
        self,
        job_ids: str | Iterable[str],
        *,
        config: WatchConfig | None = None,
        state: bytes | None = None,
        state_path: str | os.PathLike[str] | None = None,
        progress: bool = False,
        clock: Clock | None = None,
    ) -> WatchSession[J]:
        """``async with jobs.watch(ids) as events: async for event in events: ...``.

        ``job_ids`` is an iterable of job ids, or one id as a string; a malformed id raises
        ``InvalidRequestError`` at once. Events are ``Transition``, ``JobVanished``,
        ``PollFailed`` and ``JobStalled`` (and, with ``progress=True``, ``CheckpointReported``
        and ``MetadataChanged``); the iteration ends when every job has reached its API's
        terminal set (or vanished).

        ``state_path`` makes the watch durable: its state is kept in that file as events are
        yielded, and a watch started again on the same path (after a crash, even SIGKILL)
        yields exactly what was not yet yielded, flagged ``missed``, none twice. ``state``
        resumes from ``save_state()`` bytes kept elsewhere.
        """
        from mistral_jobs_async.watcher import WatchSession  # noqa: PLC0415 (on first use)

        state_file, state = _durable(state_path, state)
        watcher = self.watcher(job_ids, config=config, state=state, clock=clock)
        return WatchSession(watcher, progress=progress, state_file=state_file)

    def watch_all(
        self,
        *,
        include_ended: bool = False,
        config: WatchConfig | None = None,
        state_path: str | os.PathLike[str] | None = None,
        progress: bool = False,
        clock: Clock | None = None,
    ) -> WatchSession[J]:
        """Follow every job of the organisation, jobs created during the watch included.

        Jobs already ended when first found are left out unless ``include_ended``. The
        watch goes on until its block is left (new jobs may come at any time); finding new
        jobs costs the list's first page every ``base_interval``. See the fine-tuning
        resource's ``watch_all`` for filters (Forge's list has none).
        """
        return self._watch_query(
            {}, include_ended=include_ended, config=config, state_path=state_path,
            progress=progress, clock=clock,
        )  # fmt: skip

    def _watch_query(
        self,
        filters: Mapping[str, str],
        *,
        include_ended: bool,
        config: WatchConfig | None,
        state_path: str | os.PathLike[str] | None,
        progress: bool,
        clock: Clock | None,
    ) -> WatchSession[J]:
        from mistral_jobs_async.watcher import Watcher, WatchSession  # noqa: PLC0415

        state_file, state = _durable(state_path, None)
        watcher = Watcher(
            self, (), retry=self._http.retry, config=config, state=state,
            close_when_done=False, clock=clock, query=filters, include_ended=include_ended,
        )  # fmt: skip
        self._watchers.add(watcher)
        return WatchSession(watcher, progress=progress, state_file=state_file)

    async def wait(
        self,
        job_id: str,
        *,
        until: str | Collection[str] | None = None,
        timeout: float | None = None,
        config: WatchConfig | None = None,
        clock: Clock | None = None,
    ) -> J:
        """The job once it reaches one of ``until``: by default, once it has ended.

        ``until={"VALIDATED"}`` returns at validation, e.g. to read the cost estimate in
        ``metadata`` before ``start``; a status recovered from the job's history counts (the
        job returned is then as fetched, already further on). Without ``until`` a parked
        VALIDATED job is not the end: the wait goes on until someone starts it.

        Raises ``JobEndedError`` if the job ends in another status, ``NotFoundError`` if it
        vanishes, ``WaitTimeoutError`` after ``timeout`` seconds (the job keeps running).
        """
        from mistral_jobs_async.watcher._session import until_set, wait_for  # noqa: PLC0415

        statuses = until_set(until)
        session = self.watch(job_id, config=config, clock=clock)
        return await wait_for(session, job_id, until=statuses, timeout=timeout)


def _durable(
    state_path: str | os.PathLike[str] | None, state: bytes | None
) -> tuple[StateFile | None, bytes | None]:
    """The state file of a durable watch and the state it holds (or ``state`` as given)."""
    if state_path is None:
        return None, state
    if state is not None:
        raise ConfigurationError("give state or state_path, not both")
    from mistral_jobs_async.watcher._state import StateFile  # noqa: PLC0415 (on first use)

    state_file = StateFile(state_path)
    return state_file, state_file.load()
