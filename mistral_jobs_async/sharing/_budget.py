"""``RedisBudget``: one request rate for every process of an organisation, kept in Redis.

A generic cell rate algorithm (GCRA) in one Lua script: Redis keeps the theoretical arrival
time of the next request, every process asks it before each attempt, and a 429 seen by any
process sets a pause every process waits out. Written here rather than taken from a
rate-limit library because it must also carry the 429 pause and run on Redis's own clock
(no skew between hosts); the well-kept Python ones are synchronous or keep no such pause.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from redis.exceptions import RedisError

from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async.sharing._connection import connect

__all__ = ["RedisBudget"]

logger = logging.getLogger("mistral_jobs_async.sharing")

#: KEYS: next-arrival time, pause. ARGV: interval (ms), burst allowance (ms).
#: 0 if the request may go now (and it is counted), else the milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return math.ceil(wait) end
local nxt = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], nxt, 'PX', math.ceil(nxt - now + 1000))
return 0
"""

#: KEYS: pause. ARGV: pause (ms). Extends the pause, never shortens it.
_PAUSE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local till = now + tonumber(ARGV[1])
if till > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], till, 'PX', tonumber(ARGV[1]) + 1000)
end
return till
"""


class RedisBudget:
    """``requests_per_second`` (bursts of ``burst``) across every process on ``namespace``.

    Give it to each process's client: ``AsyncClient(budget=RedisBudget(url, ...))``. Use it
    as an async context manager (it opens the Redis connection when given a URL). A 429 with
    no Retry-After pauses everyone for ``pause_without_hint`` seconds.
    """

    def __init__(
        self,
        redis: Any,
        *,
        requests_per_second: float,
        burst: float = 1.0,
        namespace: str = "mistral-jobs",
        pause_without_hint: float = 1.0,
    ) -> None:
        if not requests_per_second > 0 or burst < 1:
            raise ConfigurationError("requests_per_second must be > 0 and burst >= 1")
        self._redis_arg = redis
        self._redis: Any = None
        self._interval_ms = 1000.0 / requests_per_second
        self._burst_ms = self._interval_ms * (burst - 1)
        self._keys = [f"{namespace}:budget:next", f"{namespace}:budget:paused"]
        self._pause_without_hint = pause_without_hint
        #: How often a request had to wait, and how many 429s this process reported.
        self.waits = 0
        self.rate_limits = 0
        self._down = False

    async def __aenter__(self) -> RedisBudget:
        self._redis = await connect(self._redis_arg)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if isinstance(self._redis_arg, str) and self._redis is not None:
            await self._redis.aclose()

    async def acquire(self) -> None:
        """Wait for this process's turn in the shared rate (and out any 429 pause).

        If Redis does not answer, the request goes (said once in the log): a budget that is
        away must not stop every request of the process, and the server's own 429s still
        hold the rate.
        """
        if self._redis is None:
            raise ConfigurationError("enter the RedisBudget (async with) before using it")
        while True:
            try:
                wait_ms = await self._acquire(
                    keys=self._keys, args=[self._interval_ms, self._burst_ms]
                )
            except (RedisError, OSError) as exc:
                self._away(exc)
                return
            self._down = False
            if not wait_ms:
                return
            self.waits += 1
            await anyio.sleep(int(wait_ms) / 1000)

    async def rate_limited(self, retry_after: float | None) -> None:
        """Pause every process for the 429's Retry-After (if Redis answers)."""
        self.rate_limits += 1
        seconds = retry_after if retry_after is not None else self._pause_without_hint
        try:
            await self._pause(keys=self._keys[1:], args=[max(1, int(seconds * 1000))])
        except (RedisError, OSError) as exc:
            self._away(exc)

    def _away(self, error: BaseException) -> None:
        if not self._down:
            logger.warning("the shared request budget is away (%s): requests go unbudgeted", error)
        self._down = True
