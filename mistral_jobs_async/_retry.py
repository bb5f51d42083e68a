"""The retry policy: what is retried, how long to wait, and the one place tenacity is used.

What is retried depends on whether a repeat could do the work twice. There is no idempotency
key in the API, and a gateway can make a job, then answer 503, 429 or 502, or lose the
answer. So creates, uploads, starts and cancels pass a ``recover`` hook that looks for what a
failed attempt did (the newest jobs or files matched on the request; the job's status). It
runs after every failure that may have reached the server, before any retry and before
giving up: what it finds is the result. If the lookup itself fails, the request is not sent
again.

| failure                                 | GET, DELETE | POST (create, upload, start, cancel) |
|-----------------------------------------|-------------|--------------------------------------|
| ConnectError (refused, DNS, TLS)        | retried     | retried: it never reached the server |
| 429, 503 with Retry-After               | retried     | looked up; retried if it was not done|
| 408, 500, 502, 503 without Retry-After  | retried     | looked up; retried if it was not done|
| 504, timeout, broken connection or body | retried     | looked up; not retried: it may still |
|                                         |             | be under way, so the error is raised |
| a 2xx answer that is not the JSON       | retried     | looked up; not retried               |
| an answer over max_response_bytes       | not retried | not retried                          |
| other statuses (400, 401, 404, 409...)  | not retried | not retried                          |

The wait before a retry is the server's ``Retry-After`` when it sent one (seconds or an HTTP
date); a hint longer than ``retry_after_max`` is not waited for: the error is raised at once,
carrying it. Without a hint the wait is an exponential backoff with full jitter:
``uniform(0, min(backoff_max, backoff_initial * 2**n))``. Each request builds its own tenacity
state (concurrent requests never share one), only our own error types are retried (never a
cancellation), and ``sleep`` and ``clock`` are injectable so tests run in no time.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from mistral_jobs_async._exceptions import (
    APIStatusError,
    ConfigurationError,
    ConnectError,
    MistralJobsError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
)

__all__ = [
    "CHECKED_RETRY_STATUSES",
    "DEFAULT_BACKOFF_INITIAL",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_AFTER_MAX",
    "RETRY_STATUSES",
    "RetryPolicy",
    "call_with_retries",
    "may_have_been_handled",
    "parse_retry_after",
    "should_retry",
]

T = TypeVar("T")
logger = logging.getLogger("mistral_jobs_async")

DEFAULT_MAX_RETRIES = 2
DEFAULT_BACKOFF_INITIAL = 0.5
DEFAULT_BACKOFF_MAX = 8.0
DEFAULT_RETRY_AFTER_MAX = 60.0
#: Statuses an idempotent request retries.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses a POST retries once its lookup showed it was not done (504: it may be under way).
CHECKED_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried. ``RetryPolicy(sleep=...)`` makes tests instant.

    ``max_retries`` bounds the retries (so a request makes at most ``max_retries + 1``
    attempts); the waits are described in this module's docstring.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX
    #: False hands 429s to the caller at once (the watcher pauses all its polling instead).
    retry_rate_limited: bool = True
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    #: Waits the delay before each retry instead of ``sleep``, its own way: a watcher's
    #: requests wait on the watcher's clock and take a token of its budget.
    before_retry: Callable[[float], Awaitable[None]] | None = field(default=None, repr=False)

    async def pause(self, seconds: float) -> None:
        """The wait before a retry: through ``before_retry`` when set, else ``sleep``."""
        if self.before_retry is not None:
            await self.before_retry(seconds)
        else:
            await self.sleep(seconds)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, not {self.max_retries}")
        if self.backoff_initial < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ConfigurationError("backoff and retry_after bounds must be >= 0")

    def wait_for(self, exc: BaseException, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) after ``exc``."""
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (retry_number - 1))
        return self.jitter(0.0, ceiling)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


_SECONDS = re.compile(r"\d{1,12}(?:\.\d+)?")


def should_retry(
    exc: BaseException, *, idempotent: bool, policy: RetryPolicy, checked: bool = False
) -> bool:
    """Whether ``exc`` is worth another attempt (see the table in this module's docstring).

    ``checked``: a lookup showed that the failed request was not done.
    """
    if isinstance(exc, ConnectError):
        return True
    if isinstance(exc, APIStatusError):
        if exc.retry_after is not None and exc.retry_after > policy.retry_after_max:
            return False  # longer than we may wait: raise now, with the server's hint
        if exc.status_code == 429:
            return policy.retry_rate_limited
        if exc.status_code == 503 and exc.retry_after is not None:
            return True
        if checked:
            return exc.status_code in CHECKED_RETRY_STATUSES
        return idempotent and exc.status_code in RETRY_STATUSES
    if isinstance(exc, ResponseTooLargeError):
        return False  # it would only be as large again
    if isinstance(exc, TransportError | ResponseDecodeError):
        return idempotent
    return False


def may_have_been_handled(exc: BaseException) -> bool:
    """Whether the server may have done the work of a request that failed with ``exc``."""
    if isinstance(exc, ConnectError):
        return False  # it never left
    if isinstance(exc, APIStatusError):
        # A 4xx other than 408/429 is the service refusing the request itself.
        return exc.status_code >= 500 or exc.status_code in (408, 429)
    # A timeout, a broken answer, or a 2xx answer that is not JSON: it may have been done.
    return isinstance(exc, TransportError | ResponseDecodeError)


#: A lookup of what a failed attempt may have done: the result it made, or None.
Recover = Callable[[MistralJobsError], Awaitable[T | None]]


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    what: str,
    recover: Recover[T] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the policy's retries are spent.

    The first attempt runs bare: most requests succeed at once, and building tenacity's state
    costs more CPU than the rest of the client's work on a request. Only after a retryable
    failure does a tenacity loop, built for this request alone, take over the retries.
    ``recover`` (creates, uploads) runs after each failure that may have reached the server.
    The error finally raised carries the number of attempts made.
    """
    attempts = 0
    unverified: list[MistralJobsError] = []  # failures whose outcome could not be checked
    not_done: list[MistralJobsError] = []  # failures a lookup showed had done nothing

    async def one() -> T:
        nonlocal attempts
        attempts += 1
        try:
            return await attempt()
        except MistralJobsError as exc:
            exc.attempts = attempts
            if recover is None or not may_have_been_handled(exc):
                raise
            failed = exc
        # Outside the ``except``: the lookup's own errors must not chain onto this one.
        lookup_error: MistralJobsError | None = None
        try:
            found = await recover(failed)
        except MistralJobsError as exc:
            lookup_error, found = exc, None
        if lookup_error is not None:
            logger.warning(
                "%s failed (%s) and checking whether it was done anyway failed too (%s): "
                "not sending it again", what, failed, lookup_error,
            )  # fmt: skip
            unverified.append(failed)
        if found is None:
            if lookup_error is None:
                not_done.append(failed)
            raise failed
        logger.info("%s failed (%s) but had been done: using what it made", what, failed)
        return found

    def retryable(exc: BaseException) -> bool:
        if any(exc is failure for failure in unverified):
            return False
        checked = any(exc is failure for failure in not_done)
        return should_retry(exc, idempotent=idempotent, policy=policy, checked=checked)

    try:
        return await one()
    except MistralJobsError as exc:
        if policy.max_retries == 0 or not retryable(exc):
            raise
        first = exc

    def log_retry(exc: BaseException, number: int, delay: float) -> None:
        logger.info(
            "retrying %s in %.2fs (attempt %d of %d): %s",
            what, delay, number + 1, policy.max_retries + 1, exc,
        )  # fmt: skip

    # Retry number n (1-based) follows attempt n; tenacity counts only the retries it runs.
    delay = policy.wait_for(first, 1)
    log_retry(first, 1, delay)
    await policy.pause(delay)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        return policy.wait_for(exc, state.attempt_number + 1)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        delay = state.next_action.sleep if state.next_action else 0.0
        log_retry(exc, state.attempt_number + 1, delay)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_retries),
        wait=wait,
        retry=retry_if_exception(retryable),
        sleep=policy.pause,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        result: T = await retrying(one)
    except MistralJobsError as exc:
        # The error says all there is to say; tenacity's frames would only bury it.
        raise exc.with_traceback(None) from None
    return result
