"""The aiohttp application: the middleware (auth, rate limit, faults, logs) and the routes.

The handlers live in ``_routes.py`` (the API) and ``_control.py`` (``/_emulator``); what they
share, in ``_service.py``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from email.utils import formatdate

from aiohttp import web

from mistral_jobs_async.emulator._control import Control
from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._faults import Fault
from mistral_jobs_async.emulator._files import SIGNED_PREFIX
from mistral_jobs_async.emulator._routes import Routes
from mistral_jobs_async.emulator._service import (
    JSON,
    Exchange,
    RequestRecord,
    Service,
    current_key,
    error_response,
)
from mistral_jobs_async.emulator._store import key_fingerprint

__all__ = ["CONTROL_PREFIX", "create_app"]

CONTROL_PREFIX = "/_emulator"
logger = logging.getLogger("mistral_jobs_async.emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        if request.path.startswith(SIGNED_PREFIX + "/"):
            return await self._signed(request, handler)
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
            missing = error_response(401, "No API key provided: send 'Authorization: Bearer <key>'")
            self._observe(request, missing)
            return missing, None
        if self.s.api_keys is not None and key not in self.s.api_keys:
            refused = error_response(401, "Invalid API key")
            self._observe(request, refused)
            return refused, None
        wait = self.s.limiter.acquire(key)
        if wait is not None:
            limited = error_response(429, "Rate limit exceeded: too many requests per second")
            limited.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            self._observe(request, limited)
            return limited, key
        token = current_key.set(key)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.type)
        except web.HTTPException as exc:
            response = error_response(exc.status, exc.reason)
        except ConnectionError:
            # The client hung up while its request was still being read (its own timeout ran
            # out): there is no one to answer, and nothing went wrong here.
            logger.debug("client left during %s %s", request.method, request.path)
            return web.Response(status=499), key
        except Exception:
            # An emulator bug must still answer like the service would: JSON, no traceback.
            logger.exception("internal error on %s %s", request.method, request.path)
            response = error_response(500, "Internal server error")
        finally:
            current_key.reset(token)
        self._observe(request, response)
        return response, key

    def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "drop":
            _abort(request)
            return web.Response(status=499)
        if fault.kind == "corrupt":
            # Deliberately outside the spec: not shown to observers.
            return web.Response(body=b'{"object": "job", "id": ', content_type=JSON)
        response = error_response(fault.status, f"Injected fault: HTTP {fault.status}")
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

    async def _signed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A signed URL: no key asked (the signature is checked by the handler)."""
        started = time.perf_counter()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.type)
        _log_line(request, response.status, (time.perf_counter() - started) * 1000, "signed")
        return response

    async def _control(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await self._control_answer(request, handler)
        _log_line(request, response.status, (time.perf_counter() - started) * 1000, "control")
        return response

    async def _control_answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.s.control_token
        if token is None:
            return error_response(404, "The control path is disabled on this emulator")
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not given.strip():
            return error_response(
                401, "The control path needs 'Authorization: Bearer <control token>'"
            )
        if scheme.lower() != "bearer" or given.strip() != token:
            return error_response(
                403, "Forbidden: the control path takes the control token, not API keys"
            )
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.type)
        except web.HTTPException as exc:
            return error_response(exc.status, exc.reason)


def create_app(service: Service) -> web.Application:
    """Build the aiohttp application of one emulator."""
    app = web.Application(middlewares=[_Pipeline(service)], client_max_size=8 * 1024 * 1024)
    api = Routes(service)
    control = Control(service)
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
        web.get("/v1/files/{file_id}/content", api.download_file, allow_head=False),
        web.get("/v1/files/{file_id}/url", api.signed_url, allow_head=False),
        web.get(SIGNED_PREFIX + "/{file_id}", api.signed_download, allow_head=False),
        web.delete("/v1/files/{file_id}", api.delete_file),
        web.get("/v1/models", api.list_models, allow_head=False),
        web.get("/v1/models/{model_id}", api.get_model, allow_head=False),
        web.delete("/v1/models/{model_id}", api.delete_model),
        web.patch("/v1/fine_tuning/models/{model_id}", api.update_model),
        web.post("/v1/fine_tuning/models/{model_id}/archive", api.archive_model),
        web.delete("/v1/fine_tuning/models/{model_id}/archive", api.archive_model),
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
    app.on_response_prepare.append(_stamp(service))
    return app


def _stamp(service: Service) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """A request id on every answer, and a ``Date`` from the simulated clock.

    The real service's ``Date`` and ``created_at`` come from one clock; so do the emulator's
    (clients read the server's time from ``Date``, e.g. to look for a job a failed create made).
    """

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["x-request-id"] = uuid.uuid4().hex
        response.headers["Date"] = formatdate(service.store.clock.now(), usegmt=True)

    return stamp
