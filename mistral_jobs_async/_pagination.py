"""``list()`` results that can be awaited (one page) or iterated (every item, all pages)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from multidict import MultiDict

from mistral_jobs_async._exceptions import PaginationError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import check_page
from mistral_jobs_async.models._common import ListAnswer, Page

__all__ = ["AsyncPager", "fetch_page", "list_pages"]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> int | None: ...


#: Ids remembered from the last pages walked, to skip items pushed back by new ones.
_REMEMBERED_PAGES = 10
#: Full pages in a row whose items all carry one creation second before the walk gives up.
_STALLED_PAGES = 20


T = TypeVar("T", bound=_HasId)


def list_pages(
    http: HttpClient,
    path: str,
    decoder: msgspec.json.Decoder[ListAnswer[T]],
    *,
    page: int,
    page_size: int,
    params: Mapping[str, str] | None = None,
) -> AsyncPager[T]:
    """The pager of a list endpoint: ``params`` plus ``page`` and ``page_size`` per request."""
    check_page(page, page_size)

    async def fetch(number: int, size: int) -> Page[T]:
        return await fetch_page(http, path, decoder, number, size, params=params)

    return AsyncPager(fetch, page, page_size)


async def fetch_page(
    http: HttpClient,
    path: str,
    decoder: msgspec.json.Decoder[ListAnswer[T]],
    number: int,
    size: int,
    *,
    params: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
) -> Page[T]:
    """One page of a list endpoint (``retry`` overrides the client's policy)."""
    # A MultiDict keeps a repeated parameter (files' sample_type, source) repeated.
    query = MultiDict(params or {})
    query.update(page=str(number), page_size=str(size))
    answer = await http.request("GET", path, decoder, params=query, retry=retry)
    return Page(data=answer.data, total=answer.total, page=number, page_size=size)


class AsyncPager(Generic[T]):
    """``await pager`` gives the requested page; ``async for item in pager`` gives every item.

    Iteration starts at the requested page and walks the pages until ``total`` is reached or a
    page comes back short, holding one page at a time. Lists are newest first, so a job
    created during the walk pushes the others one place back; an item seen on an earlier
    page is not yielded twice. (An item deleted during the walk pulls the others forward, so
    one may be missed.) A walk that stops making progress raises ``PaginationError``: a page
    of nothing new while more are announced, twice the pages the first total called for, or
    page after page from one creation second. ``AsyncPager`` is not a coroutine: ``await``
    it, don't hand it to ``create_task``.
    """

    def __init__(
        self, fetch: Callable[[int, int], Awaitable[Page[T]]], page: int, page_size: int
    ) -> None:
        self._fetch = fetch
        self._page = page
        self._page_size = page_size

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._fetch(self._page, self._page_size).__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        # Memory stays flat however long the walk: the ids of the last few pages (an item
        # pushed back by new jobs was on one of them), and the oldest creation time reached.
        recent: deque[set[str]] = deque(maxlen=_REMEMBERED_PAGES)
        frontier: int | None = None
        stalled = 0
        page = self._page
        limit: int | None = None
        while True:
            result = await self._fetch(page, self._page_size)
            fresh = [item for item in result.data if not any(item.id in ids for ids in recent)]
            recent.append({item.id for item in result.data})
            for item in fresh:
                yield item
            times = [item.created_at for item in fresh if item.created_at is not None]
            if times:
                oldest = min(times)
                stalled = stalled + 1 if oldest == frontier else 0
                frontier = oldest if frontier is None else min(frontier, oldest)
            if limit is None:
                # Enough pages for the total first announced, twice over for jobs created
                # meanwhile: a server whose total keeps growing cannot keep us walking forever.
                limit = page + 2 * -(-result.total // self._page_size) + 2
            page += 1
            if not result.has_more:
                return
            if not fresh:
                raise PaginationError(
                    f"page {page - 1} held nothing new though the server announced "
                    f"{result.total} items: it ignores the page number or repeats itself"
                )
            if page >= limit:
                raise PaginationError(
                    f"walked {page - self._page} pages, twice what the first total called for: "
                    f"the total keeps growing ({result.total} now)"
                )
            if stalled >= _STALLED_PAGES:
                raise PaginationError(
                    f"{stalled} full pages in a row of items created in the same second: "
                    "the server is not paging through a real list"
                )

    async def all(self) -> list[T]:
        """Every item, as a list."""
        return [item async for item in self]
