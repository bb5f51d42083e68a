"""What the emulator's parts share: the service state, request records, JSON answers."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._faults import Faults, RateLimiter
from mistral_jobs_async.emulator._schemas import ErrorOut, encoder
from mistral_jobs_async.emulator._store import Store

__all__ = [
    "BROKEN_BODY",
    "JSON",
    "Exchange",
    "Observer",
    "RequestRecord",
    "Service",
    "api_key_of",
    "current_key",
    "decode_body",
    "error_response",
    "json_response",
    "reset_service",
]

T = TypeVar("T")
JSON = "application/json"


class RequestRecord(msgspec.Struct, frozen=True):
    """One API request as the emulator saw it (the key only as a fingerprint)."""

    at: float
    method: str
    path: str
    route: str
    query: str
    status: int
    key: str | None
    fault: str | None
    duration_ms: float


@dataclass(frozen=True)
class Exchange:
    """A request and the complete answer the emulator sent, for observers (spec checks)."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    content_type: str
    status: int
    response_content_type: str
    response_headers: dict[str, str]
    response_body: bytes


Observer = Callable[[Exchange], None]


@dataclass
class Service:
    """Everything the routes need: the store, the faults, the limiter, the logs."""

    store: Store
    faults: Faults
    limiter: RateLimiter
    api_keys: frozenset[str] | None
    control_token: str | None
    max_upload_bytes: int
    request_log: deque[RequestRecord]
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    observers: list[Observer] = field(default_factory=list)


def reset_service(service: Service) -> None:
    """Back to a fresh emulator: no job, file, fault or logged request; same configuration."""
    service.store.reset()
    service.faults.clear()
    service.limiter.configure(service.limiter.rate, burst=service.limiter.burst)
    service.request_log.clear()
    service.counts.clear()


def error_response(status: int, message: str, type_: str | None = None) -> web.Response:
    """An error answer with the spec's Error body."""
    err = ApiError(status, message, type_)
    body = encoder.encode(ErrorOut(message=err.message, type=err.type, code=status))
    return web.Response(status=status, body=body, content_type=JSON)


def json_response(body: bytes) -> web.Response:
    """A 200 answer of already encoded JSON."""
    return web.Response(body=body, content_type=JSON)


# The caller's key, set by the pipeline for the handler it calls (same task, same context).
current_key: ContextVar[str] = ContextVar("mistral_emulator_api_key")


def api_key_of(request: web.Request) -> str:
    """The key of the request being handled (set by the pipeline)."""
    return current_key.get()


# What aiohttp raises on a body it cannot read: bad encoding, broken multipart framing,
# unknown charset, a connection that ends mid-body. All of them are the client's fault: 400.
BROKEN_BODY = (RequestPayloadError, ValueError, LookupError, AssertionError)


async def decode_body(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    """The JSON body decoded strictly, or a 400 ApiError that says what is wrong."""
    try:
        raw = await request.read()
    except BROKEN_BODY as exc:
        raise ApiError(400, f"Unreadable request body: {exc or type(exc).__name__}") from None
    if not raw.strip():
        raise ApiError(400, "Request body is empty: expected a JSON object")
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"Invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"Malformed JSON body: {exc}") from None
