"""Send one request: the one session, auth, timeouts, status to exception, msgspec decoding.

This is the only module that imports aiohttp's client. It never puts the API key anywhere
but the ``Authorization`` header: not in a message, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
import msgspec

from mistral_jobs_async import __version__
from mistral_jobs_async._exceptions import (
    ConfigurationError,
    ConnectError,
    IncompleteResponseError,
    InvalidRequestError,
    RequestTimeoutError,
    ResponseDecodeError,
    TransportError,
    status_error,
)
from mistral_jobs_async._retry import RetryPolicy, call_with_retries, parse_retry_after
from mistral_jobs_async.models._common import Error

__all__ = ["BinaryStream", "HttpClient", "Upload"]

T = TypeVar("T")
#: What ``files.upload`` streams from: an open binary file, or any buffered or raw byte stream.
BinaryStream = IO[bytes] | io.BufferedIOBase | io.RawIOBase
logger = logging.getLogger("mistral_jobs_async")

_USER_AGENT = f"mistral-jobs-async/{__version__}"
_REQUEST_ID_HEADERS = ("x-request-id", "mistral-correlation-id", "x-kong-request-id")
_ERROR_BODY_SNIPPET = 300


class _Secret(str):
    """A header value whose repr hides it (tracebacks that show locals, debuggers, Sentry)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


_error_decoder = msgspec.json.Decoder(Error)


class Upload:
    """A file to send as multipart form data, streamed, and reopened or rewound per attempt.

    A path is opened for each attempt; a stream is rewound to where it stood. A stream that
    cannot be rewound is sent once, without retries.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryStream,
        filename: str,
        fields: Mapping[str, str],
    ) -> None:
        self.source = source
        self.filename = filename
        self.fields = fields
        self._start: int | None = None
        if not isinstance(source, (str, os.PathLike)) and getattr(source, "seekable", bool)():
            self._start = source.tell()

    @property
    def repeatable(self) -> bool:
        """Whether the content can be sent again."""
        return isinstance(self.source, (str, os.PathLike)) or self._start is not None

    def open(self) -> tuple[IO[bytes] | io.RawIOBase, bool]:
        """The stream to send from its start, and whether to close it afterwards."""
        if isinstance(self.source, (str, os.PathLike)):
            try:
                return Path(self.source).open("rb"), True
            except OSError as exc:
                raise InvalidRequestError(
                    "file", f"cannot read {self.source}: {exc.strerror}"
                ) from None
        if self._start is not None:
            self.source.seek(self._start)
        # aiohttp closes what it sends; the caller's stream must stay open for the caller.
        return _Borrowed(self.source), False


class _Borrowed(io.RawIOBase):
    """A read-only view of a caller's stream whose ``close`` leaves the stream open."""

    def __init__(self, stream: BinaryStream) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def fileno(self) -> int:
        # aiohttp sizes a body by fstat(fileno()): right for a plain file, wrong for a stream
        # that decodes one (gzip, zip members), whose descriptor is the compressed file.
        # Those are sent without a length (chunked) instead.
        if isinstance(self._stream, (io.FileIO, io.BufferedReader, io.BufferedRandom)):
            return self._stream.fileno()
        raise io.UnsupportedOperation("fileno")

    def seekable(self) -> bool:
        return self._stream.seekable()

    def tell(self) -> int:
        return self._stream.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)


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
    ) -> None:
        self.max_response_bytes = max_response_bytes
        self._headers = {
            "Authorization": _Secret(f"Bearer {api_key}"),
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # Uploads may take longer than one request: bound each read and connect instead.
        self._upload_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )
        self._session = session
        self._own_session = session is None
        self.closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ConfigurationError("this AsyncClient is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        elif self._session.closed:
            raise ConfigurationError("the aiohttp session given to the AsyncClient is closed")
        return self._session

    async def aclose(self) -> None:
        """Close the session if the client opened it; later requests raise."""
        self.closed = True
        session, self._session = self._session, None
        if session is not None and self._own_session:
            await session.close()

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
    ) -> T:
        """Send ``method path`` with retries and decode the answer with ``decoder``."""
        self._get_session()  # a closed client fails before anything else
        url = self.base_url + path
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE", "PUT", "OPTIONS")

        async def attempt() -> T:
            # Looked up per attempt: the client may be closed while a retry waits.
            return await self._send(
                self._get_session(), method, url, decoder, params=params, json=json,
                upload=upload,
            )  # fmt: skip

        policy = retry or self.retry
        if upload is not None and not upload.repeatable:
            policy = replace(policy, max_retries=0)
        return await call_with_retries(
            attempt, policy, idempotent=idempotent, what=f"{method} {path}"
        )

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        decoder: msgspec.json.Decoder[T],
        *,
        params: Mapping[str, str] | None,
        json: bytes | None,
        upload: Upload | None,
    ) -> T:
        headers = self._headers
        data: Any = json
        timeout = self._timeout
        to_close: IO[bytes] | io.RawIOBase | None = None
        if json is not None:
            headers = {**headers, "Content-Type": "application/json"}
        elif upload is not None:
            stream, close = upload.open()
            to_close = stream if close else None
            form = aiohttp.FormData()
            for name, value in upload.fields.items():
                form.add_field(name, value)
            form.add_field("file", stream, filename=upload.filename)
            data = form
            timeout = self._upload_timeout
        # Errors are raised after the ``except`` blocks, so that no aiohttp exception (whose
        # request_info holds the Authorization header) stays chained as ``__context__``.
        failure: TransportError | None = None
        try:
            async with session.request(
                method, url, params=params, data=data, headers=headers, timeout=timeout,
                raise_for_status=False,
            ) as response:  # fmt: skip
                body = await response.read()
                status = response.status
                response_headers = response.headers
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error or exc
            failure = ConnectError(f"cannot connect: {reason}", method=method, url=url)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            failure = RequestTimeoutError("no answer in time", method=method, url=url)
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            failure = IncompleteResponseError(
                f"the connection broke before the whole answer arrived ({type(exc).__name__})",
                method=method,
                url=url,
            )
        except aiohttp.ClientError as exc:
            # str() of an aiohttp error names the URL and status, never the headers.
            failure = TransportError(f"{type(exc).__name__}: {exc}", method=method, url=url)
        except RuntimeError:  # aiohttp: "Session is closed" (a caller's session)
            if session.closed:
                raise ConfigurationError(
                    "the aiohttp session of the AsyncClient is closed"
                ) from None
            raise
        finally:
            if to_close is not None:
                to_close.close()
        if failure is not None:
            raise failure
        request_id = next(
            (response_headers[h] for h in _REQUEST_ID_HEADERS if h in response_headers), None
        )
        if status >= 400:
            raise self._status_error(
                status, body, response_headers, request_id=request_id, method=method, url=url
            )
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ResponseDecodeError(
                f"the answer to {method} {url} (HTTP {status}) is not the JSON the API "
                f"promises: {exc}",
                status_code=status,
                request_id=request_id,
            ) from None

    def _status_error(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        request_id: str | None,
        method: str,
        url: str,
    ) -> Exception:
        message: str
        type_: str | None = None
        code: int | str | None = None
        try:
            parsed = _error_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            text = body[:_ERROR_BODY_SNIPPET].decode("utf-8", "replace").strip()
            message = text or f"HTTP {status} with no body"
        else:
            found = parsed.message if parsed.message is not None else parsed.detail
            message = found if isinstance(found, str) else msgspec.json.encode(found).decode()
            type_, code = parsed.type, parsed.code
        cls = status_error(status)
        return cls(
            message,
            status_code=status,
            type=type_,
            code=code,
            request_id=request_id,
            retry_after=parse_retry_after(headers.get("Retry-After"), self.retry.clock),
            method=method,
            url=url,
        )
