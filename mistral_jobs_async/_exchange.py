"""One exchange over aiohttp: a request sent, and its answer read within bounds or an error.

Nothing here retries, follows a redirect or decodes JSON (``_http.py`` does); this module
turns aiohttp's many failure types into the package's transport errors, and reads a body
within ``max_response_bytes`` (``_body.py``). No aiohttp exception, whose ``request_info``
holds the ``Authorization`` header, leaves it, not even chained as ``__context__``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from mistral_jobs_async._body import CHUNK, BadBody, BodyTooLarge, copy_body, read_body
from mistral_jobs_async._downloads import Download
from mistral_jobs_async._exceptions import (
    ConfigurationError,
    ConnectError,
    IncompleteResponseError,
    MistralJobsError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
)
from mistral_jobs_async._uploads import Upload

__all__ = ["Answer", "Request", "exchange", "timed_out"]

_REQUEST_ID_HEADERS = ("x-request-id", "mistral-correlation-id", "x-kong-request-id")


@dataclass(frozen=True, slots=True)
class Request:
    """One request as it is sent (a redirect makes a new one)."""

    method: str
    url: str
    params: Mapping[str, str] | None
    json: bytes | None
    upload: Upload | None
    #: A download's destination: a 2xx body goes there as it comes, not into memory.
    sink: Download | None = None


@dataclass(slots=True)  # not frozen: one is made per request, and frozen costs per field
class Answer:
    """What came back: status, headers, the (unpacked) body and the request id.

    ``date`` is the server's ``Date`` header and this machine's time when it came (for the
    offset between the two clocks).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes | bytearray
    request_id: str | None
    date: tuple[str, float] | None


def timed_out(sent: Request, seconds: float) -> RequestTimeoutError:
    """The error of an attempt that had no complete answer within ``seconds``."""
    return RequestTimeoutError(
        f"no complete answer within the timeout ({seconds:g}s)", method=sent.method, url=sent.url
    )


async def exchange(
    session: aiohttp.ClientSession,
    sent: Request,
    *,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    limit: int,
    timeout_seconds: float,
) -> Answer:
    """Send ``sent`` with ``headers`` and read its answer.

    ``timeout`` is aiohttp's (the connect, and each read for a streamed body; the caller
    bounds the rest); ``timeout_seconds`` is what a timeout's message names. A body over
    ``limit`` is refused, as sent or unpacked.
    A 3xx with a ``Location`` is not read; a 2xx to a download goes to its sink.
    """
    method, url, upload = sent.method, sent.url, sent.upload
    data: Any = sent.json
    to_close: Any = None
    if upload is not None:
        stream, close = upload.open()
        to_close = stream if close else None
        form = aiohttp.FormData()
        for name, value in upload.fields.items():
            form.add_field(name, value)
        form.add_field("file", stream, filename=upload.filename)
        data = form
    # Errors are raised after the ``except`` blocks, so that no aiohttp exception stays
    # chained as ``__context__``.
    failure: MistralJobsError | None = None
    status = 0
    request_id: str | None = None
    date: tuple[str, float] | None = None
    try:
        async with session.request(
            method, url, params=sent.params, data=data, headers=headers, timeout=timeout,
            raise_for_status=False, allow_redirects=False, auto_decompress=False,
        ) as response:  # fmt: skip
            status = response.status
            response_headers = response.headers
            request_id = next(
                (response_headers[h] for h in _REQUEST_ID_HEADERS if h in response_headers),
                None,
            )
            if "Date" in response_headers:
                date = (response_headers["Date"], time.time())
            encoding = response_headers.get("Content-Encoding", "")
            if 300 <= status < 400 and "Location" in response_headers:
                body: bytes | bytearray = b""  # not read: the redirect is followed or refused
            elif sent.sink is not None and 200 <= status < 300:
                body = b""  # the body goes to the sink, never into memory
                await sent.sink.begin()
                await copy_body(
                    response.content.iter_chunked(CHUNK), encoding=encoding, write=sent.sink.write
                )
            else:
                body = await read_body(
                    response.content, encoding=encoding, length=response.content_length,
                    limit=limit,
                )  # fmt: skip
    except BodyTooLarge as exc:
        how = "once unpacked" if exc.unpacked else "as sent"
        failure = ResponseTooLargeError(
            f"the answer to {method} {url} (HTTP {status}) is larger than "
            f"max_response_bytes ({limit:,} bytes) {how}: not read",
            limit=limit,
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
        failure = timed_out(sent, timeout_seconds)
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
    return Answer(status, response_headers, body, request_id, date)
