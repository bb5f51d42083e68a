"""``list()`` results that can be awaited (one page) or iterated (every item, all pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async._validation import check_page
from mistral_jobs_async.models._common import ListAnswer, Page

__all__ = ["AsyncPager", "fetch_page", "list_pages"]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


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
    query = {**(params or {}), "page": str(number), "page_size": str(size)}
    answer = await http.request("GET", path, decoder, params=query, retry=retry)
    return Page(data=answer.data, total=answer.total, page=number, page_size=size)


class AsyncPager(Generic[T]):
    """``await pager`` gives the requested page; ``async for item in pager`` gives every item.

    Iteration starts at the requested page and walks the pages until ``total`` is reached or a
    page comes back short. Lists are newest first, so a job created during the walk pushes the
    others one place back; an item seen on an earlier page is not yielded twice. (An item
    deleted during the walk pulls the others forward, so one may be missed.) The walk also
    stops on a page with nothing new, and after twice the pages the first total called for.
    ``AsyncPager`` is not a coroutine: ``await`` it, don't hand it to ``create_task``.
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
        seen: set[str] = set()
        page = self._page
        limit: int | None = None
        while True:
            result = await self._fetch(page, self._page_size)
            fresh = [item for item in result.data if item.id not in seen]
            for item in fresh:
                seen.add(item.id)
                yield item
            if limit is None:
                # Enough pages for the total first announced, twice over for jobs created
                # meanwhile: a server whose total keeps growing cannot keep us walking forever.
                limit = page + 2 * -(-result.total // self._page_size) + 2
            page += 1
            # A short or empty page is the last one; a page of nothing new means the server
            # ignores ``page`` (or repeats itself): stop rather than loop.
            if not result.has_more or not fresh or page >= limit:
                return

    async def all(self) -> list[T]:
        """Every item, as a list."""
        return [item async for item in self]
