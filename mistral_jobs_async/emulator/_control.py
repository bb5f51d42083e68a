"""The control path (``/_emulator``): clock, forced statuses, faults, rate limit, reset, log."""

from __future__ import annotations

import msgspec
from aiohttp import web

from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._faults import Fault
from mistral_jobs_async.emulator._schemas import encoder
from mistral_jobs_async.emulator._service import (
    Service,
    decode_body,
    json_response,
    reset_service,
)

__all__ = ["Control"]


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


class Control:
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
        return json_response(self._state())

    async def clock(self, request: web.Request) -> web.Response:
        body = await decode_body(request, _clock_decoder)
        try:
            if body.speed is not None:
                self.s.store.clock.speed = body.speed
            if body.advance is not None:
                self.s.store.clock.advance(body.advance)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return json_response(self._state())

    async def force_status(self, request: web.Request) -> web.Response:
        body = await decode_body(request, _status_decoder)
        job_id = request.match_info["job_id"]
        self.s.store.force_status(job_id, body.status, hold=body.hold)
        return json_response(encoder.encode(self.s.store.job_snapshot(job_id)))

    async def get_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return json_response(encoder.encode(self.s.store.job_snapshot(job_id)))

    async def delete_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        self.s.store.delete_job(job_id)
        return json_response(b'{"deleted":true}')

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await decode_body(request, _faults_decoder)
        self.s.faults.add(*body.faults)
        return json_response(self._state())

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.s.faults.clear()
        return json_response(self._state())

    async def rate_limit(self, request: web.Request) -> web.Response:
        body = await decode_body(request, _rate_decoder)
        try:
            self.s.limiter.configure(body.rate, burst=body.burst)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return json_response(self._state())

    async def reset(self, request: web.Request) -> web.Response:
        reset_service(self.s)
        return json_response(self._state())

    async def requests(self, request: web.Request) -> web.Response:
        return json_response(encoder.encode(list(self.s.request_log)))
