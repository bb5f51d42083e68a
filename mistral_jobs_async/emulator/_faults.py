"""Injected faults and the per-key rate limit, for testing clients against bad days.

Faults are rules tried in order on each API request; the first one that matches (method, path
pattern) and wins its ``rate`` draw fires and uses up one of its ``times``. Rules with
``times=1`` in a row form a script ("the next request gets a 503, the one after is dropped").
A fault fires either *before* the request is handled (nothing changes on the server) or
*after* (the job is created, then the answer is lost), which is what a client's retry policy
for non-idempotent POSTs must survive.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from mistral_jobs_async._exceptions import EmulatorError

__all__ = ["Fault", "FaultKind", "Faults", "RateLimiter"]

FaultKind = Literal["status", "latency", "drop", "truncate", "corrupt"]


@dataclass(frozen=True)
class Fault:
    """One fault rule. Build it with :meth:`http`, :meth:`delay`, :meth:`drop`, :meth:`truncate`."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    retry_after_http_date: bool = False
    latency: float = 0.0
    rate: float = 1.0
    times: int | None = None
    method: str | None = None
    path: str | None = None
    after: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise EmulatorError("rate must be within 0..1")
        if self.times is not None and self.times < 1:
            raise EmulatorError("times must be >= 1 (or None for no limit)")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise EmulatorError(f"status must be an error status (400..599), not {self.status}")
        if not (math.isfinite(self.latency) and self.latency >= 0):
            raise EmulatorError("latency must be a finite number >= 0")
        if self.retry_after is not None and not (
            math.isfinite(self.retry_after) and self.retry_after >= 0
        ):
            raise EmulatorError("retry_after must be a finite number >= 0")
        if self.kind == "latency" and self.after:
            raise EmulatorError("a latency fault delays the answer: it cannot fire after it")
        if self.kind == "truncate" and not self.after:
            # A body can only be cut once there is one: truncation always follows handling.
            object.__setattr__(self, "after", True)

    @classmethod
    def http(
        cls,
        status: int,
        *,
        retry_after: float | None = None,
        retry_after_http_date: bool = False,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Answer with an error status (429, 500, 503, or any 4xx/5xx) and the Error body."""
        return cls(
            "status",
            status=status,
            retry_after=retry_after,
            retry_after_http_date=retry_after_http_date,
            rate=rate,
            times=times,
            method=method,
            path=path,
            after=after,
        )

    @classmethod
    def delay(
        cls,
        seconds: float,
        *,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Add ``seconds`` of real latency, then answer normally."""
        return cls("latency", latency=seconds, rate=rate, times=times, method=method, path=path)

    @classmethod
    def drop(
        cls,
        *,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Close the connection without an answer (before or after handling the request)."""
        return cls("drop", rate=rate, times=times, method=method, path=path, after=after)

    @classmethod
    def corrupt(
        cls,
        *,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Answer 200 with a body that is not valid JSON (a broken proxy, a bad deploy)."""
        return cls("corrupt", rate=rate, times=times, method=method, path=path, after=after)

    @classmethod
    def truncate(
        cls,
        *,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Handle the request, send half of the body, then close the connection."""
        return cls("truncate", rate=rate, times=times, method=method, path=path, after=True)

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (``path`` is a shell-style pattern)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def retry_after_header(self) -> str | None:
        """The Retry-After header value, in seconds or as an HTTP date."""
        if self.retry_after is None:
            return None
        if self.retry_after_http_date:
            return time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + self.retry_after)
            )
        return str(math.ceil(self.retry_after))


class Faults:
    """The ordered, thread-safe set of active fault rules."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._seed = seed
        self._rng = random.Random(seed)

    def add(self, *faults: Fault) -> None:
        """Append rules; they are tried after the ones already there."""
        with self._lock:
            self._rules.extend(faults)

    def clear(self) -> None:
        """Remove every rule and restart the random draws from the seed."""
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(self._seed)

    @property
    def active(self) -> list[Fault]:
        """The rules still able to fire, in order."""
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault that fires for this request, if any; uses up one of its ``times``."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if rule.times is not None:
                    if rule.times == 1:
                        del self._rules[index]
                    else:
                        self._rules[index] = replace(rule, times=rule.times - 1)
                return rule
            return None


class RateLimiter:
    """A token bucket per API key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self.configure(rate, burst=burst)

    def configure(self, rate: float | None, *, burst: float | None = None) -> None:
        """Set the limit (``None`` turns it off) and refill every bucket."""
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise EmulatorError("rate limit must be a finite number > 0 requests/second (or None)")
        if burst is not None and not (math.isfinite(burst) and burst >= 1):
            raise EmulatorError("burst must be a finite number >= 1 (or None)")
        with self._lock:
            self.rate = rate
            self.burst = max(1.0, burst if burst is not None else (rate or 1.0))
            self._buckets.clear()

    def acquire(self, key: str) -> float | None:
        """Take a token for ``key``; return None, or the seconds to wait when there is none."""
        with self._lock:
            rate = self.rate
            if rate is None:
                return None
            now = self._monotonic()
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
