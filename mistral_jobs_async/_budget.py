"""The seam for a request budget shared beyond one client (e.g. by every process, in Redis).

The API's rate limit is per organisation, as low as 1 request/s: several processes with a
client each can only keep under it together. A client given a ``budget`` asks it before each
attempt (retries included) and tells it of each 429, so that one process's 429 pauses all of
them for its Retry-After. ``mistral_jobs_async.sharing.RedisBudget`` is one, on Redis.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RequestBudget"]


class RequestBudget(Protocol):
    """What ``AsyncClient(budget=...)`` calls around every attempt of every request."""

    async def acquire(self) -> None:
        """Wait until this request may go (the shared rate, and any 429 pause)."""
        ...

    async def rate_limited(self, retry_after: float | None) -> None:
        """A request was answered 429: pause everyone sharing the budget for ``retry_after``."""
        ...
