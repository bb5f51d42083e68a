"""Send one request: the one session, auth, deadlines, redirects, retries, decoding, downloads.

This is the only module that imports aiohttp's client. It never puts the API key anywhere
but the ``Authorization`` header: not in a message, a repr or a log line. What it guards
against, beyond the happy path:

* **Deadlines.** ``timeout`` bounds a whole attempt: connecting, sending, reading, unpacking
  and decoding (uploads: each connect and each read, since the body may take long to send).
* **Bounded answers.** A body may grow to ``max_response_bytes``, as sent and once unpacked
  (``_body.py``); past it, ``ResponseTooLargeError``, with memory flat.
* **Redirects.** The API does not redirect: ``_redirects.py`` says which may be followed.
* **Error answers** become the package's exceptions in ``_answers.py``.
* **One loop.** aiohttp sessions belong to the event loop they were made in: using the
  client from another loop (a second ``asyncio.run``) is a ``ConfigurationError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
import msgspec

from mistral_jobs_async import __version__
from mistral_jobs_async._answers import error_answer
from mistral_jobs_async._body import (
    ACCEPT_ENCODING,
    CHUNK,
    BadBody,
    BodyTooLarge,
    copy_body,
    read_body,
)
from mistral_jobs_async._budget import RequestBudget
from mistral_jobs_async._downloads import Download
from mistral_jobs_async._exceptions import (
    ConfigurationError,
    ConnectError,
    IncompleteResponseError,
    MistralJobsError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
)
from mistral_jobs_async._redirects import origin, redirect_target, shown
from mistral_jobs_async._retry import Recover, RetryPolicy, call_with_retries
from mistral_jobs_async._uploads import BinaryStream, Upload

__all__ = ["BinaryStream", "HttpClient", "Upload"]

T = TypeVar("T")
logger = logging.getLogger("mistral_jobs_async")

_USER_AGENT = f"mistral-jobs-async/{__version__}"
_REQUEST_ID_HEADERS = ("x-request-id", "mistral-correlation-id", "x-kong-request-id")
_MAX_REDIRECTS = 5


class _Secret(str):
    """A header value whose repr hides it (tracebacks that show locals, debuggers, Sentry)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


@dataclass(frozen=True, slots=True)
class _Request:
    """One request as it is sent (a redirect makes a new one)."""

    method: str
    url: str
    params: Mapping[str, str] | None
    json: bytes | None
    upload: Upload | None
    #: A download's destination: a 2xx body goes there as it comes, not into memory.
    sink: Download | None = None


class _Answer:
    """What came back: status, headers and the (unpacked) body."""

    __slots__ = ("body", "headers", "request_id", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes | bytearray,
        request_id: str | None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.request_id = request_id


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
        # The whole-attempt deadline is ours (anyio); aiohttp bounds each connect and read,
        # which is all an upload gets (its body may take longer than one timeout to send).
        # A streamed body (an upload, a download) may take longer than the timeout: the
        # connection and each read are bounded instead. Any other attempt is bounded whole by
        # aiohttp's total timeout: the timer it keeps anyway, where an asyncio.timeout around
        # the attempt plus aiohttp's per-read timer cost a fifth of the client's CPU per
        # request (benchmarks/bench_client.py).
        self._socket_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )
        self._attempt_timeout = self._timeouts(timeout)
        self._session = session
        self._own_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_date: tuple[str, float] | None = None
        self.closed = False
        #: Who this client is to the service, as a hash of its URL and key (never the key):
        #: what tells organisations apart where processes share state (Redis keys).
        self.identity = hashlib.sha256(f"{self.base_url}\n{api_key}".encode()).hexdigest()[:16]

    def _timeouts(self, total: float) -> aiohttp.ClientTimeout:
        # ceil_threshold: aiohttp would round a deadline of 5 s or more up to a whole second.
        return aiohttp.ClientTimeout(
            total=total, sock_connect=self.timeout, ceil_threshold=float("inf")
        )

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

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
        sent = _Request(method, self.base_url + path, params, json, upload)

        def decode(answer: _Answer, request_id: str | None) -> T:
            try:
                return decoder.decode(answer.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                problem = str(exc)
            raise ResponseDecodeError(
                f"the answer to {method} {sent.url} (HTTP {answer.status}) is not the JSON the "
                f"API promises: {problem}",
                status_code=answer.status,
                request_id=request_id,
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
        sent = _Request("GET", self.base_url + path, params, None, None, sink)
        return await self._call(sent, lambda answer, _: sink.written, path=path)

    async def _call(
        self,
        sent: _Request,
        finish: Callable[[_Answer, str | None], T],
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
                return await self._send(session, sent, finish, streamed=streamed)
            except RateLimitError as exc:
                if self.budget is not None:
                    await self.budget.rate_limited(exc.retry_after)
                raise

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
        sent: _Request,
        finish: Callable[[_Answer, str | None], T],
        *,
        streamed: bool,
    ) -> T:
        """One attempt: a request and its same-origin redirects (a few at most), answered.

        All within the timeout, unless a body is streamed.
        """
        if streamed:
            timeout, deadline = self._socket_timeout, None
        else:
            timeout, deadline = self._attempt_timeout, self._loop_time() + self.timeout
        for _ in range(_MAX_REDIRECTS + 1):
            answer = await self._once(session, sent, timeout, deadline)
            status = answer.status
            if 300 <= status < 400 and (location := answer.headers.get("Location")) is not None:
                target = redirect_target(
                    sent.method, sent.url, status, location, allowed=self._origin,
                    base_url=self.base_url, replayable=sent.upload is None and sent.sink is None,
                )  # fmt: skip
                sent = replace(sent, url=target, params=None)  # the target carries its query
                if deadline is not None:  # the next hop gets what is left
                    timeout = self._timeouts(max(deadline - self._loop_time(), 0.001))
                continue
            if status >= 400:
                raise error_answer(
                    status, answer.body, answer.headers, request_id=answer.request_id,
                    method=sent.method, url=sent.url, clock=self.retry.clock,
                )  # fmt: skip
            return finish(answer, answer.request_id)
        raise RedirectError(
            f"{sent.method} {shown(sent.url)}: more than {_MAX_REDIRECTS} redirects",
            status_code=0, location=shown(sent.url), method=sent.method, url=sent.url,
        )  # fmt: skip

    async def _once(
        self,
        session: aiohttp.ClientSession,
        sent: _Request,
        timeout: aiohttp.ClientTimeout,
        deadline: float | None,
    ) -> _Answer:
        method, url, json, upload = sent.method, sent.url, sent.json, sent.upload
        headers = self._headers if json is None else self._json_headers
        data: Any = json
        to_close: Any = None
        if upload is not None:
            stream, close = upload.open()
            to_close = stream if close else None
            form = aiohttp.FormData()
            for name, value in upload.fields.items():
                form.add_field(name, value)
            form.add_field("file", stream, filename=upload.filename)
            data = form
        # Errors are raised after the ``except`` blocks, so that no aiohttp exception (whose
        # request_info holds the Authorization header) stays chained as ``__context__``.
        failure: MistralJobsError | None = None
        status = 0
        request_id: str | None = None
        try:
            async with session.request(
                method, url, params=sent.params, data=data, headers=headers,
                timeout=timeout, raise_for_status=False, allow_redirects=False,
                auto_decompress=False,
            ) as response:  # fmt: skip
                status = response.status
                response_headers = response.headers
                request_id = next(
                    (response_headers[h] for h in _REQUEST_ID_HEADERS if h in response_headers),
                    None,
                )
                if "Date" in response_headers:
                    self._last_date = (response_headers["Date"], time.time())
                if 300 <= status < 400 and "Location" in response_headers:
                    body: bytes | bytearray = b""  # not read: the redirect is followed or refused
                elif sent.sink is not None and 200 <= status < 300:
                    body = b""  # the body goes to the sink, never into memory
                    await sent.sink.begin()
                    await copy_body(
                        response.content.iter_chunked(CHUNK),
                        encoding=response_headers.get("Content-Encoding", ""),
                        write=sent.sink.write,
                    )
                else:
                    body = await read_body(
                        response.content,
                        encoding=response_headers.get("Content-Encoding", ""),
                        length=response.content_length,
                        limit=self.max_response_bytes,
                        deadline=deadline,
                    )
        except BodyTooLarge as exc:
            how = "once unpacked" if exc.unpacked else "as sent"
            failure = ResponseTooLargeError(
                f"the answer to {method} {url} (HTTP {status}) is larger than "
                f"max_response_bytes ({self.max_response_bytes:,} bytes) {how}: not read",
                limit=self.max_response_bytes,
                status_code=status,
                request_id=request_id,
            )
        except BadBody as exc:
            failure = ResponseDecodeError(
                f"the answer to {method} {url} (HTTP {status}) cannot be unpacked: {exc}",
                status_code=status,
                request_id=request_id,
            )
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error or exc
            failure = ConnectError(f"cannot connect: {reason}", method=method, url=url)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            failure = RequestTimeoutError(
                f"no complete answer within the timeout ({self.timeout:g}s)",
                method=method,
                url=url,
            )
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            failure = IncompleteResponseError(
                f"the connection broke before the whole answer arrived ({type(exc).__name__})",
                method=method,
                url=url,
            )
        except aiohttp.ClientOSError as exc:
            # After the connection was made (a reset while sending or reading).
            failure = IncompleteResponseError(
                f"the connection broke during the exchange ({exc.strerror or exc})",
                method=method,
                url=url,
            )
        except aiohttp.ClientError as exc:
            # str() of an aiohttp error names the URL and status, never the headers.
            failure = TransportError(f"{type(exc).__name__}: {exc}", method=method, url=url)
        except RuntimeError:  # aiohttp: "Session is closed" (a caller's session)
            if session.closed:
                failure = ConfigurationError("the aiohttp session of the AsyncClient is closed")
            else:
                raise
        finally:
            if to_close is not None:
                to_close.close()
        if failure is not None:
            raise failure
        return _Answer(status, response_headers, body, request_id)
