"""``jobs.watch(...)`` and ``jobs.wait(...)``: a watcher with one subscription, and waits."""

from __future__ import annotations

from collections.abc import Collection
from types import TracebackType
from typing import Generic

import anyio

from mistral_jobs_async._exceptions import (
    InvalidRequestError,
    JobEndedError,
    MistralJobsError,
    NotFoundError,
    WaitTimeoutError,
)
from mistral_jobs_async.watcher._engine import Watcher
from mistral_jobs_async.watcher._events import J, JobVanished, Transition
from mistral_jobs_async.watcher._fanout import Subscription
from mistral_jobs_async.watcher._state import StateFile

__all__ = ["WatchSession", "until_set", "wait_for"]


class WatchSession(Generic[J]):
    """``async with jobs.watch(ids) as events``: a watcher and one subscription to it.

    The events object is a :class:`Subscription`; ``events.watcher`` is the watcher (add or
    remove jobs, ``save_state()``, ``stats``). Leaving the block stops every poll.
    """

    def __init__(
        self,
        watcher: Watcher[J],
        *,
        progress: bool = False,
        state_file: StateFile | None = None,
    ) -> None:
        self.watcher = watcher
        self._progress = progress
        self._state_file = state_file
        self._subscription: Subscription[J] | None = None

    async def __aenter__(self) -> Subscription[J]:
        self._subscription = self.watcher.subscribe(progress=self._progress)
        try:
            if self._state_file is not None:
                self._subscription.keep_state_in(self._state_file)
            await self.watcher.__aenter__()
        except BaseException:
            await self._subscription.aclose()  # and the state file with it
            raise
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


def until_set(until: str | Collection[str] | None) -> frozenset[str] | None:
    """``until`` as a set of statuses (a lone string is one status); None: the terminal set."""
    if until is None:
        return None
    if not isinstance(until, str | Collection):
        raise InvalidRequestError("until", f"must be statuses, not {until!r}")
    statuses = frozenset([until] if isinstance(until, str) else until)
    if not statuses or not all(isinstance(s, str) and s for s in statuses):
        raise InvalidRequestError("until", f"must be statuses, not {until!r}")
    return statuses


async def wait_for(
    session: WatchSession[J],
    job_id: str,
    *,
    until: frozenset[str] | None,
    timeout: float | None,
) -> J:
    """The job once it reaches one of ``until`` (default: its terminal set).

    Raises ``JobEndedError`` if it ends elsewhere, ``NotFoundError`` if it vanishes and
    ``WaitTimeoutError`` once ``timeout`` passes (the job keeps running).
    """
    last: str | None = None
    try:
        with anyio.fail_after(timeout):
            async with session as events:
                async for event in events:
                    if isinstance(event, JobVanished):
                        raise NotFoundError(
                            f"job {job_id} vanished while waiting for it", status_code=404
                        )
                    if not isinstance(event, Transition):
                        continue
                    last = event.status
                    if (event.terminal and until is None) or (until and event.status in until):
                        return event.job
                    if event.terminal:
                        assert until is not None
                        wanted = " or ".join(sorted(until))
                        raise JobEndedError(
                            f"job {job_id} ended {event.status} without reaching {wanted}",
                            job_id=job_id, status=event.status, until=until, job=event.job,
                        )  # fmt: skip
    except TimeoutError:
        raise WaitTimeoutError(
            f"job {job_id} is still {last or 'unobserved'} after {timeout}s "
            "(it keeps running; only the wait ended)",
            job_id=job_id,
            last_status=last,
        ) from None
    raise MistralJobsError(f"the watch of {job_id} ended before the job did (was it removed?)")
