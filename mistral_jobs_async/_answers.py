"""An error answer of the API as the package's exception: its status, message and headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from mistral_jobs_async._exceptions import status_error
from mistral_jobs_async._retry import parse_retry_after
from mistral_jobs_async.models._common import Error

__all__ = ["error_answer"]

#: How much of a body that is not the spec's Error JSON an exception's message quotes.
_SNIPPET = 300
_decoder = msgspec.json.Decoder(Error)


def error_answer(
    status: int,
    body: bytes | bytearray,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    method: str,
    url: str,
    clock: Callable[[], float],
) -> Exception:
    """The exception of an answer with an error status.

    It carries the spec's ``message`` (or a FastAPI ``detail``, or the start of a body that is
    not JSON), ``type``, ``code``, and ``Retry-After`` read with ``clock`` (wall time).
    """
    message: str
    type_: str | None = None
    code: int | str | None = None
    try:
        parsed = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = bytes(body[:_SNIPPET]).decode("utf-8", "replace").strip()
        message = text or f"HTTP {status} with no body"
    else:
        found = parsed.message if parsed.message is not None else parsed.detail
        message = found if isinstance(found, str) else msgspec.json.encode(found).decode()
        type_, code = parsed.type, parsed.code
    return status_error(status)(
        message,
        status_code=status,
        type=type_,
        code=code,
        request_id=request_id,
        retry_after=parse_retry_after(headers.get("Retry-After"), clock),
        method=method,
        url=url,
    )
