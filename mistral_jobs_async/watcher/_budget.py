"""The request budget every request of one watcher goes through, its retries included."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from mistral_jobs_async._exceptions import RateLimitError
from mistral_jobs_async.watcher._clock import Clock
from mistral_jobs_async.watcher._config import WatchConfig, WatchStats

__all__ = ["Budget"]

logger = logging.getLogger("mistral_jobs_async.watcher")


class Budget:
    """At most ``requests_per_second`` requests and ``max_in_flight`` at once; 429s pause all.

    A 429 pauses every request of the watcher for its Retry-After, including those already
    waiting for a token: no per-job storm. Time is the watcher's clock throughout.
    """

    def __init__(self, config: WatchConfig, clock: Clock, stats: WatchStats) -> None:
        self._config = config
        self._clock = clock
        self._stats = stats
        self._limiter = anyio.CapacityLimiter(config.max_in_flight)
        self._next_token = 0.0
        self.paused_until = 0.0

    @asynccontextmanager
    async def request(self, kind: str) -> AsyncIterator[None]:
        """A slot and a token for one request (``kind``: ``"list"`` or ``"get"``), counted."""
        async with self._limiter:
            await self.take_token()
            self._stats.requests += 1
            if kind == "list":
                self._stats.list_requests += 1
            else:
                self._stats.get_requests += 1
            yield

    async def take_token(self) -> None:
        """Wait for the next token of the shared rate, across every task of the watcher."""
        while True:
            now = self._clock.now()
            slot = max(now, self._next_token, self.paused_until)
            if slot <= now:
                self._next_token = now + 1.0 / self._config.requests_per_second
                return
            # Wait, then look again: a 429 may have paused everything meanwhile.
            await self._clock.sleep(slot - now)

    async def before_retry(self, seconds: float) -> None:
        """The retry policy's hook: a client retry waits on the watcher's clock, then a token."""
        await self._clock.sleep(seconds)
        await self.take_token()
        self._stats.requests += 1
        self._stats.retries += 1

    def pause(self, error: RateLimitError) -> None:
        """Hold every request for the 429's Retry-After (``base_interval`` without one)."""
        wait = error.retry_after if error.retry_after is not None else self._config.base_interval
        until = self._clock.now() + wait
        if until > self.paused_until:
            logger.info("rate limited: pausing every poll for %.1fs", wait)
            self.paused_until = until
        self._stats.rate_limited += 1
