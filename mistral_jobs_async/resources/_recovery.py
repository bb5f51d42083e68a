"""Did a failed create or upload happen anyway? Find what it made before trying again.

The API has no idempotency key, and a gateway can make the job and then answer 503, 429 or
502, or lose the answer. So after a create (or upload) fails in a way that may have reached
the server, and before it is retried or its error raised, the client lists the newest jobs
(files) and looks for one that

* matches every field the request set (what the server fills in by default is not compared;
  an integration's key is never echoed, so it is not compared either),
* was created since the first attempt (less a margin for clock skew; the server's clock is
  read from its ``Date`` headers), and
* was not already returned by another call of this client.

``start`` and ``cancel`` get the same care from :func:`state_check`: the job is fetched,
and if it already shows the action done, that is the result (a second cancel of a job that
is being cancelled would only be a 409).

If one is found it is the result (the oldest, if several). If the lookup itself fails, the
create is not sent again: its error is raised. What this cannot tell apart is two identical
creates in flight at once (from this process with both answers lost, or from two
processes): each may return the other's job. Give concurrent creates a distinct ``suffix``
(or, for files, a distinct name) where that matters.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import msgspec

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._retry import Recover
from mistral_jobs_async.models._common import Page

__all__ = ["Claims", "Lookup", "agrees", "recovery", "state_check"]

#: Seconds before the first attempt that a made job's ``created_at`` may show: whole seconds
#: on the server, and a ``Date`` header up to a second behind.
_SKEW_MARGIN = 2.0
#: Pages of the newest items a lookup reads at most (100 each).
_MAX_PAGES = 3
_PAGE_SIZE = 100


class _Created(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> int | None: ...


T = TypeVar("T", bound=_Created)
#: One page of the newest items (number, created since): what a lookup reads.
Lookup = Callable[[int, int, float], Awaitable[Page[T]]]


class Claims:
    """Ids this client's creates (or uploads) have returned, the most recent few thousand."""

    def __init__(self, size: int = 4096) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._size = size

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._ids

    def add(self, item_id: str) -> None:
        """Remember an id as returned."""
        if item_id in self._ids:
            return
        self._order.append(item_id)
        self._ids.add(item_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())


def agrees(wanted: Any, got: Any) -> bool:
    """Whether what the server reports (``got``) agrees with what was asked (``wanted``).

    A field not asked for, or one the server leaves out (None), agrees: only a different value
    counts against a match.
    """
    if wanted is None or got is None:
        return True
    if isinstance(wanted, Mapping):
        return isinstance(got, Mapping) and all(agrees(v, got.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(got, list) or len(wanted) != len(got):
            return False
        if all(isinstance(v, str) for v in wanted):
            return sorted(wanted) == sorted(got)
        return all(agrees(w, g) for w, g in zip(wanted, got, strict=True))
    if isinstance(wanted, float) or isinstance(got, float):
        number = isinstance(got, int | float) and not isinstance(got, bool)
        return number and math.isclose(wanted, got, rel_tol=1e-9, abs_tol=1e-12)
    return bool(wanted == got)


def recovery(
    http: HttpClient,
    lookup: Lookup[T],
    wanted: Mapping[str, Any],
    claims: Claims,
    *,
    extra: Callable[[T], bool] | None = None,
) -> Recover[T]:
    """The ``recover`` hook of one create: call it just before the first attempt."""
    started = time.time()

    async def recover(error: MistralJobsError) -> T | None:
        # The bound, in the server's clock, as its latest Date header tells it.
        since = started + min(0.0, http.server_offset()) - _SKEW_MARGIN
        candidates: list[T] = []
        for number in range(_MAX_PAGES):
            page = await lookup(number, _PAGE_SIZE, since)
            for item in page.data:
                if item.created_at is None or item.created_at < since or item.id in claims:
                    continue
                if agrees(wanted, msgspec.to_builtins(item)) and (extra is None or extra(item)):
                    candidates.append(item)
            older = any(i.created_at is not None and i.created_at < since for i in page.data)
            if older or not page.has_more:
                break
        if not candidates:
            return None
        found = min(candidates, key=lambda item: item.created_at or 0)
        claims.add(found.id)
        return found

    return recover


def state_check(get: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> Recover[T]:
    """The ``recover`` hook of a start or cancel: the job, if it shows the action done."""

    async def recover(error: MistralJobsError) -> T | None:
        job = await get()
        return job if done(job) else None

    return recover
