"""``list()`` results that can be awaited (one page) or iterated (every item, all pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._validation import check_page
from mistral_jobs_async.models._common import ListAnswer, Page

__all__ = ["AsyncPager", "list_pages"]


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
        query = {**(params or {}), "page": str(number), "page_size": str(size)}
        answer = await http.request("GET", path, decoder, params=query)
        return Page(data=answer.data, total=answer.total, page=number, page_size=size)

    return AsyncPager(fetch, page, page_size)


class AsyncPager(Generic[T]):
    """``await pager`` gives the requested page; ``async for item in pager`` gives every item.

    Iteration starts at the requested page and walks the pages until ``total`` is reached or a
    page comes back empty. Lists are newest first, so a job created during the walk pushes the
    others one place back; an item seen on an earlier page is not yielded twice.
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
        while True:
            result = await self._fetch(page, self._page_size)
            for item in result.data:
                if item.id not in seen:
                    seen.add(item.id)
                    yield item
            if not result.has_more:
                return
            page += 1

    async def all(self) -> list[T]:
        """Every item, as a list."""
        return [item async for item in self]
