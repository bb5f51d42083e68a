"""The aiohttp application: routes of both APIs and files, auth, faults, logs, control path."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.web_protocol import RequestPayloadError

from mistral_jobs_async.emulator._faults import Fault, Faults, RateLimiter
from mistral_jobs_async.emulator._schemas import (
    ErrorOut,
    encoder,
    fine_tuning_job_decoder,
    training_job_decoder,
)
from mistral_jobs_async.emulator._store import ApiError, JobFilter, Store, key_fingerprint
from mistral_jobs_async.emulator._uploads import JsonlChecker

__all__ = ["CONTROL_PREFIX", "Exchange", "RequestRecord", "Service", "create_app"]

CONTROL_PREFIX = "/_emulator"
logger = logging.getLogger("mistral_jobs_async.emulator")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
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


def _error(status: int, message: str, type_: str | None = None) -> web.Response:
    err = ApiError(status, message, type_)
    body = encoder.encode(ErrorOut(message=err.message, type=err.type, code=status))
    return web.Response(status=status, body=body, content_type=JSON)


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: {raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ApiError(400, f"{name}: must be {bounds}, got {value}")
    return value


def _time_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    moment = _parse_iso(raw)
    if moment is None:
        hint = " (a '+' in a query string must be sent as %2B)" if " " in raw else ""
        raise ApiError(400, f"{name}: {raw!r} is not an ISO-8601 date-time{hint}")
    return moment


# Date, optional time with any fraction, optional Z or offset: the same on every Python (3.10's
# fromisoformat takes only 3 or 6 fraction digits and no Z).
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def _parse_iso(raw: str) -> float | None:
    """Unix seconds of an ISO-8601 date-time (UTC when no offset is given), or None."""
    match = _ISO.fullmatch(raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    seconds = moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name}: {raw!r} is not a boolean")
    return lowered in ("true", "1")


def _page(request: web.Request) -> tuple[int, int]:
    return (
        _int_param(request, "page", 0, 0, None),
        _int_param(request, "page_size", 20, 1, 100),
    )


# The caller's key, set by the pipeline for the handler it calls (same task, same context).
_current_key: ContextVar[str] = ContextVar("mistral_emulator_api_key")


def _api_key(request: web.Request) -> str:
    return _current_key.get()


# What aiohttp raises on a body it cannot read: bad encoding, broken multipart framing,
# unknown charset, a connection that ends mid-body. All of them are the client's fault: 400.
_BROKEN_BODY = (RequestPayloadError, ValueError, LookupError, AssertionError)


async def _decode_body(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    try:
        raw = await request.read()
    except _BROKEN_BODY as exc:
        raise ApiError(400, f"Unreadable request body: {exc or type(exc).__name__}") from None
    if not raw.strip():
        raise ApiError(400, "Request body is empty: expected a JSON object")
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"Invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"Malformed JSON body: {exc}") from None


class _Routes:
    """Handlers of the emulated API (they run after auth, rate limit and faults)."""

    def __init__(self, service: Service) -> None:
        self.s = service

    async def create_fine_tuning(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, fine_tuning_job_decoder)
        return _json(self.s.store.create_fine_tuning(_api_key(request), body))

    async def list_fine_tuning(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        created_by_me = _bool_param(request, "created_by_me")
        where = JobFilter(
            model=request.query.get("model"),
            status=request.query.get("status"),
            created_after=_time_param(request, "created_after"),
            created_before=_time_param(request, "created_before"),
            suffix=request.query.get("suffix"),
            wandb_project=request.query.get("wandb_project"),
            wandb_name=request.query.get("wandb_name"),
        )
        # Each key is its own organisation and its only creator: created_by_me=true is a no-op.
        del created_by_me
        return _json(self.s.store.list_jobs(_api_key(request), "fine_tuning", page, size, where))

    async def get_fine_tuning(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return _json(self.s.store.get_job(_api_key(request), "fine_tuning", job_id))

    async def start_fine_tuning(self, request: web.Request) -> web.Response:
        return _json(self.s.store.start(_api_key(request), request.match_info["job_id"]))

    async def cancel_fine_tuning(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return _json(self.s.store.cancel(_api_key(request), "fine_tuning", job_id))

    async def create_forge(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, training_job_decoder)
        return _json(self.s.store.create_forge(_api_key(request), body))

    async def list_forge(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        return _json(self.s.store.list_jobs(_api_key(request), "forge", page, size))

    async def get_forge(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return _json(self.s.store.get_job(_api_key(request), "forge", job_id))

    async def cancel_forge(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return _json(self.s.store.cancel(_api_key(request), "forge", job_id))

    async def upload_file(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "file: expected a multipart/form-data upload with a 'file' part")
        try:
            purpose, filename, checker = await self._read_upload(request)
        except ApiError:
            raise
        except _BROKEN_BODY as exc:
            raise ApiError(400, f"Malformed multipart body: {exc or type(exc).__name__}") from None
        if purpose != "fine-tune":
            raise ApiError(400, f"purpose: {purpose!r} is not supported, use 'fine-tune'")
        if checker is None:
            raise ApiError(400, "file: a 'file' part is required")
        return _json(
            self.s.store.add_file(
                _api_key(request),
                filename=filename,
                size=checker.size,
                purpose=purpose,
                sample_type=checker.sample_type or "instruct",
                num_lines=checker.lines,
                error=checker.error,
            )
        )

    async def _read_upload(self, request: web.Request) -> tuple[str, str, JsonlChecker | None]:
        """Stream the multipart parts: the file is checked chunk by chunk, never held whole."""
        reader = await request.multipart()
        purpose = "fine-tune"
        checker: JsonlChecker | None = None
        filename = ""
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "Malformed multipart body: nested multipart is not supported")
            if part.name == "purpose":
                purpose = (await part.text()).strip()
            elif part.name == "file":
                filename = part.filename or "upload.jsonl"
                checker = JsonlChecker()
                while chunk := await part.read_chunk(256 * 1024):
                    checker.feed(chunk)
                    if checker.size > self.s.max_upload_bytes:
                        raise ApiError(413, f"file: larger than {self.s.max_upload_bytes} bytes")
                checker.finish()
            else:
                await part.release()
        return purpose, filename, checker

    async def list_files(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        return _json(self.s.store.list_files(_api_key(request), page, size))

    async def get_file(self, request: web.Request) -> web.Response:
        return _json(self.s.store.get_file(_api_key(request), request.match_info["file_id"]))

    async def delete_file(self, request: web.Request) -> web.Response:
        return _json(self.s.store.delete_file(_api_key(request), request.match_info["file_id"]))


class _ClockIn(msgspec.Struct, forbid_unknown_fields=True):
    advance: float | None = None
    speed: float | None = None


class _StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    hold: bool = False


class _FaultsIn(msgspec.Struct, forbid_unknown_fields=True):
    faults: list[Fault]


class _RateLimitIn(msgspec.Struct, forbid_unknown_fields=True):
    rate: float | None
    burst: float | None = None


_clock_decoder = msgspec.json.Decoder(_ClockIn)
_status_decoder = msgspec.json.Decoder(_StatusIn)
_faults_decoder = msgspec.json.Decoder(_FaultsIn)
_rate_decoder = msgspec.json.Decoder(_RateLimitIn)


class _Control:
    """The control path: clock, forced statuses, faults, rate limit, reset, request log."""

    def __init__(self, service: Service) -> None:
        self.s = service

    def _state(self) -> bytes:
        store = self.s.store
        return encoder.encode(
            {
                "time": store.clock.now(),
                "speed": store.clock.speed,
                "jobs": len(store.job_ids()),
                "requests": sum(self.s.counts.values()),
                "faults": self.s.faults.active,
                "rate_limit": self.s.limiter.rate,
            }
        )

    async def state(self, request: web.Request) -> web.Response:
        return _json(self._state())

    async def clock(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, _clock_decoder)
        try:
            if body.speed is not None:
                self.s.store.clock.speed = body.speed
            if body.advance is not None:
                self.s.store.clock.advance(body.advance)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return _json(self._state())

    async def force_status(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, _status_decoder)
        job_id = request.match_info["job_id"]
        self.s.store.force_status(job_id, body.status, hold=body.hold)
        return _json(encoder.encode(self.s.store.job_snapshot(job_id)))

    async def get_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return _json(encoder.encode(self.s.store.job_snapshot(job_id)))

    async def delete_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        self.s.store.delete_job(job_id)
        return _json(b'{"deleted":true}')

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, _faults_decoder)
        self.s.faults.add(*body.faults)
        return _json(self._state())

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.s.faults.clear()
        return _json(self._state())

    async def rate_limit(self, request: web.Request) -> web.Response:
        body = await _decode_body(request, _rate_decoder)
        try:
            self.s.limiter.configure(body.rate, burst=body.burst)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return _json(self._state())

    async def reset(self, request: web.Request) -> web.Response:
        reset_service(self.s)
        return _json(self._state())

    async def requests(self, request: web.Request) -> web.Response:
        return _json(encoder.encode(list(self.s.request_log)))


def reset_service(service: Service) -> None:
    """Back to a fresh emulator: no job, file, fault or logged request; same configuration."""
    service.store.reset()
    service.faults.clear()
    service.limiter.configure(service.limiter.rate, burst=service.limiter.burst)
    service.request_log.clear()
    service.counts.clear()


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else request.path


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _log_line(
    request: web.Request, status: int, elapsed_ms: float, who: str, fault: Fault | None = None
) -> None:
    """The one log line of a request: never the key, only its fingerprint."""
    if logger.isEnabledFor(logging.INFO):
        target = request.path + (f"?{request.query_string}" if request.query_string else "")
        logger.info(
            '%s "%s %s" %s %.1fms %s%s',
            request.remote,
            request.method,
            target,
            status or "dropped",
            elapsed_ms,
            who,
            f" fault={fault.kind}" if fault is not None else "",
        )


class _Pipeline:
    """Middleware of the API: request id, faults, auth, rate limit, error bodies, logs."""

    # What ``@web.middleware`` sets on a function, set here on the class of a callable object.
    __middleware_version__ = 1

    def __init__(self, service: Service) -> None:
        self.s = service

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX + "/") or request.path == CONTROL_PREFIX:
            return await self._control(request, handler)
        started = time.perf_counter()
        fault = self.s.faults.pick(request.method, request.path)
        key: str | None = None
        response: web.StreamResponse | None = None
        try:
            if fault is not None and fault.kind == "latency":
                await asyncio.sleep(fault.latency)
            if fault is not None and not fault.after and fault.kind != "latency":
                response = self._fault_response(request, fault)
            else:
                response, key = await self._handle(request, handler)
                if fault is not None and fault.after:
                    response = await self._fault_after(request, fault, response)
        finally:
            status = response.status if response is not None else 0
            if fault is not None and fault.kind in ("drop", "truncate"):
                status = 0
            self._record(request, started, status, key, fault)
        return response

    async def _handle(
        self, request: web.Request, handler: Handler
    ) -> tuple[web.StreamResponse, str | None]:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            missing = _error(401, "No API key provided: send 'Authorization: Bearer <key>'")
            self._observe(request, missing)
            return missing, None
        if self.s.api_keys is not None and key not in self.s.api_keys:
            refused = _error(401, "Invalid API key")
            self._observe(request, refused)
            return refused, None
        wait = self.s.limiter.acquire(key)
        if wait is not None:
            limited = _error(429, "Rate limit exceeded: too many requests per second")
            limited.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            self._observe(request, limited)
            return limited, key
        token = _current_key.set(key)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except ApiError as exc:
            response = _error(exc.status, exc.message, exc.type)
        except web.HTTPException as exc:
            response = _error(exc.status, exc.reason)
        except Exception:
            # An emulator bug must still answer like the service would: JSON, no traceback.
            logger.exception("internal error on %s %s", request.method, request.path)
            response = _error(500, "Internal server error")
        finally:
            _current_key.reset(token)
        self._observe(request, response)
        return response, key

    def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "drop":
            _abort(request)
            return web.Response(status=499)
        if fault.kind == "corrupt":
            # Deliberately outside the spec: not shown to observers.
            return web.Response(body=b'{"object": "job", "id": ', content_type=JSON)
        response = _error(fault.status, f"Injected fault: HTTP {fault.status}")
        header = fault.retry_after_header()
        if header is not None:
            response.headers["Retry-After"] = header
        self._observe(request, response)
        return response

    async def _fault_after(
        self, request: web.Request, fault: Fault, response: web.StreamResponse
    ) -> web.StreamResponse:
        if fault.kind != "truncate" or not isinstance(response, web.Response):
            return self._fault_response(request, fault)
        body = response.body
        data = body if isinstance(body, bytes) else b""
        partial = web.StreamResponse(status=response.status)
        partial.content_type = JSON
        partial.content_length = len(data)
        await partial.prepare(request)
        await partial.write(data[: len(data) // 2])
        _abort(request)
        return partial

    def _observe(self, request: web.Request, response: web.StreamResponse) -> None:
        if not self.s.observers or not isinstance(response, web.Response):
            return
        body = response.body
        exchange = Exchange(
            method=request.method,
            path=request.path,
            route=_route_name(request),
            query=dict(request.query),
            content_type=request.content_type,
            status=response.status,
            response_content_type=response.content_type,
            response_headers=dict(response.headers),
            response_body=body if isinstance(body, bytes) else b"",
        )
        for observer in self.s.observers:
            observer(exchange)

    def _record(
        self,
        request: web.Request,
        started: float,
        status: int,
        key: str | None,
        fault: Fault | None,
    ) -> None:
        route = _route_name(request)
        fingerprint = key_fingerprint(key) if key else None
        elapsed = (time.perf_counter() - started) * 1000
        record = RequestRecord(
            at=self.s.store.clock.now(),
            method=request.method,
            path=request.path,
            route=route,
            query=request.query_string,
            status=status,
            key=fingerprint,
            fault=fault.kind if fault is not None else None,
            duration_ms=round(elapsed, 3),
        )
        self.s.request_log.append(record)
        self.s.counts[(request.method, route)] += 1
        _log_line(request, status, elapsed, f"key={fingerprint or '-'}", fault)

    async def _control(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await self._control_answer(request, handler)
        _log_line(request, response.status, (time.perf_counter() - started) * 1000, "control")
        return response

    async def _control_answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.s.control_token
        if token is None:
            return _error(404, "The control path is disabled on this emulator")
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not given.strip():
            return _error(401, "The control path needs 'Authorization: Bearer <control token>'")
        if scheme.lower() != "bearer" or given.strip() != token:
            return _error(403, "Forbidden: the control path takes the control token, not API keys")
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc.status, exc.message, exc.type)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason)


def create_app(service: Service) -> web.Application:
    """Build the aiohttp application of one emulator."""
    app = web.Application(middlewares=[_Pipeline(service)], client_max_size=8 * 1024 * 1024)
    api = _Routes(service)
    control = _Control(service)
    ft = "/v1/fine_tuning/jobs"
    forge = "/forge/training/jobs"
    routes: Iterable[web.RouteDef] = [
        web.post(ft, api.create_fine_tuning),
        web.get(ft, api.list_fine_tuning, allow_head=False),
        web.get(ft + "/{job_id}", api.get_fine_tuning, allow_head=False),
        web.post(ft + "/{job_id}/start", api.start_fine_tuning),
        web.post(ft + "/{job_id}/cancel", api.cancel_fine_tuning),
        web.post(forge, api.create_forge),
        web.get(forge, api.list_forge, allow_head=False),
        web.get(forge + "/{job_id}", api.get_forge, allow_head=False),
        web.post(forge + "/{job_id}/cancel", api.cancel_forge),
        web.post("/v1/files", api.upload_file),
        web.get("/v1/files", api.list_files, allow_head=False),
        web.get("/v1/files/{file_id}", api.get_file, allow_head=False),
        web.delete("/v1/files/{file_id}", api.delete_file),
        web.get(CONTROL_PREFIX + "/state", control.state, allow_head=False),
        web.post(CONTROL_PREFIX + "/clock", control.clock),
        web.get(CONTROL_PREFIX + "/jobs/{job_id}", control.get_job, allow_head=False),
        web.post(CONTROL_PREFIX + "/jobs/{job_id}/status", control.force_status),
        web.delete(CONTROL_PREFIX + "/jobs/{job_id}", control.delete_job),
        web.post(CONTROL_PREFIX + "/faults", control.add_faults),
        web.delete(CONTROL_PREFIX + "/faults", control.clear_faults),
        web.put(CONTROL_PREFIX + "/rate_limit", control.rate_limit),
        web.post(CONTROL_PREFIX + "/reset", control.reset),
        web.get(CONTROL_PREFIX + "/requests", control.requests, allow_head=False),
    ]
    app.add_routes(routes)
    app.on_response_prepare.append(_add_request_id)
    return app


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-request-id"] = uuid.uuid4().hex
