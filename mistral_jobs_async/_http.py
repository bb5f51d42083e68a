"""Send one request: the one session, auth, deadlines, redirects, retries, decoding, downloads.

This and ``_exchange.py`` are the only modules that use aiohttp's client. The API key goes
nowhere but the ``Authorization`` header: not in a message, a repr or a log line. What it
guards against, beyond the happy path:

* **Deadlines.** ``timeout`` bounds a whole attempt, redirects included: connecting, sending,
  reading, unpacking and decoding (uploads and downloads: each connect and each read, since
  the body may take long to send).
* **Bounded answers.** A body may grow to ``max_response_bytes``, as sent and once unpacked
  (``_body.py``); past it, ``ResponseTooLargeError``, with memory flat.
* **Redirects.** The API does not redirect: ``_redirects.py`` says which may be followed.
* **One exchange** (``_exchange.py``) sends a request and reads its answer; its transport
  failures become the package's errors there, and error answers in ``_answers.py``.
* **One loop.** aiohttp sessions belong to the event loop they were made in: using the
  client from another loop (a second ``asyncio.run``) is a ``ConfigurationError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import TypeVar

import aiohttp
import anyio
import msgspec

from mistral_jobs_async import __version__
from mistral_jobs_async._answers import error_answer
from mistral_jobs_async._body import ACCEPT_ENCODING
from mistral_jobs_async._budget import RequestBudget
from mistral_jobs_async._downloads import Download
from mistral_jobs_async._exceptions import (
    ConfigurationError,
    RateLimitError,
    RedirectError,
    ResponseDecodeError,
)
from mistral_jobs_async._exchange import Answer, Request, exchange, timed_out
from mistral_jobs_async._redirects import origin, redirect_target, shown
from mistral_jobs_async._retry import Recover, RetryPolicy, call_with_retries
from mistral_jobs_async._uploads import BinaryStream, Upload

__all__ = ["BinaryStream", "HttpClient", "Upload"]

T = TypeVar("T")
logger = logging.getLogger("mistral_jobs_async")

_USER_AGENT = f"mistral-jobs-async/{__version__}"
_MAX_REDIRECTS = 5

if sys.version_info >= (3, 11):
    # One timer for the whole attempt. asyncio's own costs two thirds of an anyio cancel
    # scope's CPU, which showed per request (benchmarks/bench_client.py); the client runs on
    # asyncio only (aiohttp), and it tells its own cancel from a caller's (Task.uncancel).
    _deadline = asyncio.timeout
else:  # pragma: no cover - Python 3.10

    @contextlib.asynccontextmanager
    async def _deadline(seconds: float) -> AsyncIterator[None]:
        with anyio.fail_after(seconds):
            yield


class _Secret(str):
    """A header value whose repr hides it (tracebacks that show locals, debuggers, Sentry)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


class HttpClient:
    """Sends requests with one ``aiohttp.ClientSession`` (its own, or the caller's)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        retry: RetryPolicy,
        session: aiohttp.ClientSession | None,
        max_response_bytes: int,
        budget: RequestBudget | None = None,
    ) -> None:
        self.max_response_bytes = max_response_bytes
        self.budget = budget
        self._headers = {
            "Authorization": _Secret(f"Bearer {api_key}"),
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": _USER_AGENT,
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self.base_url = base_url.rstrip("/")
        self._origin = origin(self.base_url)
        self.retry = retry
        self.timeout = timeout
        # A streamed body (an upload, a download) may take longer than the timeout: aiohttp
        # bounds each connect and each read instead. Any other attempt is bounded whole by one
        # deadline of ours (_deadline), and aiohttp only bounds the connect: a per-read timer
        # besides cost CPU on every request, and aiohttp's own total timeout can turn a
        # caller's cancel that lands with it into a timeout (aiohttp enters its timer twice
        # while waiting for the headers; aio-libs/aiohttp#5979), so the request went on.
        self._socket_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )
        self._attempt_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout)
        self._session = session
        self._own_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_date: tuple[str, float] | None = None
        self.closed = False
        #: Who this client is to the service, as a hash of its URL and key (never the key):
        #: what tells organisations apart where processes share state (Redis keys).
        self.identity = hashlib.sha256(f"{self.base_url}\n{api_key}".encode()).hexdigest()[:16]

    def _get_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ConfigurationError("this AsyncClient is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise ConfigurationError(
                "this AsyncClient was first used in another event loop (a second "
                "asyncio.run()?): a client and its connections belong to one loop; create the "
                "client inside the coroutine that asyncio.run() runs"
            )
        if self._session is None:
            self._session = aiohttp.ClientSession()
        elif self._session.closed:
            raise ConfigurationError("the aiohttp session given to the AsyncClient is closed")
        return self._session

    async def aclose(self) -> None:
        """Close the session if the client opened it; later requests raise.

        From another event loop than the one the session was made in, the session cannot be
        closed (its loop may be gone): it is dropped instead.
        """
        self.closed = True
        session, self._session = self._session, None
        if session is None or not self._own_session:
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            logger.warning("AsyncClient closed from another event loop: its session is dropped")
            return
        await session.close()

    def server_offset(self) -> float:
        """Seconds the server's clock is ahead of ours, from the last ``Date`` (0 if none).

        ``Date`` has whole seconds, so this is up to a second low.
        """
        if self._last_date is None:
            return 0.0
        raw, seen = self._last_date
        try:
            return parsedate_to_datetime(raw).timestamp() - seen
        except (TypeError, ValueError, IndexError):
            return 0.0

    async def request(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[T],
        *,
        params: Mapping[str, str] | None = None,
        json: bytes | None = None,
        upload: Upload | None = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
        recover: Recover[T] | None = None,
    ) -> T:
        """Send ``method path`` with retries and decode the answer with ``decoder``.

        ``recover`` looks for what a failed attempt may have done (see ``_retry.py``).
        """
        sent = Request(method, self.base_url + path, params, json, upload)

        def decode(answer: Answer) -> T:
            try:
                return decoder.decode(answer.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                problem = str(exc)
            raise ResponseDecodeError(
                f"the answer to {method} {sent.url} (HTTP {answer.status}) is not the JSON the "
                f"API promises: {problem}",
                status_code=answer.status,
                request_id=answer.request_id,
            )

        return await self._call(
            sent, decode, idempotent=idempotent, retry=retry, recover=recover, path=path
        )

    async def download(
        self, path: str, sink: Download, *, params: Mapping[str, str] | None = None
    ) -> int:
        """``GET path``, its body written to ``sink`` as it comes (unpacked); the bytes written.

        Retried from the start when ``sink`` can start over.
        """
        sent = Request("GET", self.base_url + path, params, None, None, sink)
        return await self._call(sent, lambda answer: sink.written, path=path)

    async def _call(
        self,
        sent: Request,
        finish: Callable[[Answer], T],
        *,
        path: str,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
        recover: Recover[T] | None = None,
    ) -> T:
        """Attempts of ``sent`` under the retry policy, each answer turned into ``T``."""
        method = sent.method
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE", "PUT", "OPTIONS")
        # A body sent or received as a stream may take longer than one timeout: aiohttp's
        # connect and read timeouts bound it instead of the whole-attempt deadline.
        streamed = sent.upload is not None or sent.sink is not None

        async def attempt() -> T:
            # Looked up per attempt, first: a closed client or another loop fails before
            # anything else, and the client may be closed while a retry waits.
            session = self._get_session()
            if self.budget is not None:
                await self.budget.acquire()  # before the timeout: waiting is not the server's
            try:
                if streamed:
                    return await self._send(session, sent, finish, self._socket_timeout)
                async with _deadline(self.timeout):
                    return await self._send(session, sent, finish, self._attempt_timeout)
            except RateLimitError as exc:
                if self.budget is not None:
                    await self.budget.rate_limited(exc.retry_after)
                raise
            except TimeoutError:  # the deadline's (the exchange turns aiohttp's into ours)
                raise timed_out(sent, self.timeout) from None

        policy = retry or self.retry
        once = (sent.upload is not None and not sent.upload.repeatable) or (
            sent.sink is not None and not sent.sink.repeatable
        )
        if once:
            policy = replace(policy, max_retries=0)
        return await call_with_retries(
            attempt, policy, idempotent=idempotent, what=f"{method} {path}", recover=recover
        )

    async def _send(
        self,
        session: aiohttp.ClientSession,
        sent: Request,
        finish: Callable[[Answer], T],
        socket_timeout: aiohttp.ClientTimeout,
    ) -> T:
        """One attempt: a request and its same-origin redirects (a few at most), answered."""
        for _ in range(_MAX_REDIRECTS + 1):
            answer = await exchange(
                session, sent, headers=self._headers if sent.json is None else self._json_headers,
                timeout=socket_timeout, limit=self.max_response_bytes,
                timeout_seconds=self.timeout,
            )  # fmt: skip
            if answer.date is not None:
                self._last_date = answer.date
            status = answer.status
            if 300 <= status < 400 and (location := answer.headers.get("Location")) is not None:
                target = redirect_target(
                    sent.method, sent.url, status, location, allowed=self._origin,
                    base_url=self.base_url, replayable=sent.upload is None and sent.sink is None,
                )  # fmt: skip
                sent = replace(sent, url=target, params=None)  # the target carries its query
                continue
            if status >= 400:
                raise error_answer(
                    status, answer.body, answer.headers, request_id=answer.request_id,
                    method=sent.method, url=sent.url, clock=self.retry.clock,
                )  # fmt: skip
            return finish(answer)
        raise RedirectError(
            f"{sent.method} {shown(sent.url)}: more than {_MAX_REDIRECTS} redirects",
            status_code=0, location=shown(sent.url), method=sent.method, url=sent.url,
        )  # fmt: skip
