"""``Emulator``: start the server on loopback and hold the Python control handle."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from mistral_jobs_async._exceptions import EmulatorError
from mistral_jobs_async.emulator._app import create_app
from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._faults import Fault, Faults, RateLimiter
from mistral_jobs_async.emulator._lifecycle import Timings
from mistral_jobs_async.emulator._service import Observer, RequestRecord, Service, reset_service
from mistral_jobs_async.emulator._store import Store

__all__ = ["Emulator"]

_SHUTDOWN_TIMEOUT = 2.0


@contextlib.contextmanager
def _handle_errors() -> Iterator[None]:
    """The store speaks HTTP errors; the Python handle raises plain ``EmulatorError``."""
    try:
        yield
    except ApiError as exc:
        raise EmulatorError(exc.message) from None


class Emulator:
    """A local Mistral training-job service: both job APIs and files, on a real aiohttp server.

    ``async with Emulator() as emu`` serves in the running event loop; ``with Emulator() as emu``
    serves from a background thread (for synchronous tests, or tests whose event loop changes
    between fixtures). Either way ``emu.url`` is the base URL to give a client, and the methods
    below steer the simulated service from Python; they are thread-safe.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        speed: float = 1.0,
        api_keys: Collection[str] | None = None,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        failure_rate: float = 0.0,
        timings: Timings | None = None,
        forge_hold_unstarted: bool = False,
        control_token: str | None = "",
        start_time: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        max_upload_bytes: int = 512 * 1024 * 1024,
        request_log_size: int = 100_000,
        fine_tunable_models: Mapping[str, int] | None = None,
    ) -> None:
        """Configure the emulator; nothing listens until it is entered or :meth:`start`-ed.

        ``speed`` is simulated seconds per real second (0 freezes the clock; use
        :meth:`advance`). ``api_keys`` limits the accepted keys (default: any non-empty key).
        ``rate_limit`` is requests/second per key. ``failure_rate`` is the share of jobs that
        fail while RUNNING. ``control_token`` guards the HTTP control path: ``""`` (default)
        draws a random one, ``None`` disables the path. ``fine_tunable_models`` (name to context
        length) replaces the table of base models a fine-tuning job may name
        (``emulator.FINE_TUNABLE_MODELS``); any other is a 400 naming it.
        """
        if isinstance(api_keys, str):
            raise EmulatorError("api_keys takes a collection of keys, e.g. ['my-key'], not a str")
        self._host = host
        self._port = port
        self.clock = SimClock(speed=speed, start=start_time, monotonic=monotonic)
        self._service = Service(
            store=Store(
                self.clock,
                seed=seed,
                timings=timings or Timings(),
                failure_rate=failure_rate,
                forge_hold_unstarted=forge_hold_unstarted,
                fine_tunable_models=fine_tunable_models,
            ),
            faults=Faults(seed),
            limiter=RateLimiter(rate_limit, burst=rate_burst, monotonic=monotonic),
            api_keys=frozenset(api_keys) if api_keys is not None else None,
            control_token=secrets.token_urlsafe(24) if control_token == "" else control_token,
            max_upload_bytes=max_upload_bytes,
            request_log=deque(maxlen=request_log_size),
            counts=Counter(),
        )
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop: Callable[[], None] | None = None

    def __repr__(self) -> str:
        state = self._url or "not started"
        return f"<Emulator {state}>"

    # --- serving -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the service, e.g. ``http://127.0.0.1:54321`` (fine-tuning under /v1)."""
        if self._url is None:
            raise EmulatorError("the emulator is not started")
        return self._url

    @property
    def control_token(self) -> str | None:
        """Bearer token of the HTTP control path under ``/_emulator`` (None when disabled)."""
        return self._service.control_token

    async def start(self) -> None:
        """Listen on the configured host and port (port 0: a free one)."""
        if self._runner is not None:
            raise EmulatorError("the emulator is already started")
        runner = web.AppRunner(
            create_app(self._service),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._runner = runner
        self._url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> Emulator:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            stopping = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread, re-raised there)
                failure.append(exc)
                ready.set()
                return

            def request_stop() -> None:
                loop.call_soon_threadsafe(stopping.set)

            self._thread_stop = request_stop
            ready.set()
            try:
                await stopping.wait()
            finally:
                await self.stop()

        self._thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name="mistral-jobs-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread_stop is not None:
            self._thread_stop()
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self._thread_stop = None

    # --- control -------------------------------------------------------------------------------

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self.clock.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.clock.speed = value

    def advance(self, seconds: float) -> None:
        """Move the simulated clock ahead; every step that falls due is applied on next read."""
        self.clock.advance(seconds)

    def now(self) -> float:
        """The simulated time, Unix seconds."""
        return self.clock.now()

    def set_status(self, job_id: str, status: str, *, hold: bool = False) -> None:
        """Force a job (of any key) into ``status``; unless ``hold``, its lifecycle goes on.

        Any string is accepted, to test clients against statuses they do not know; such a job
        stays in that status until forced again.
        """
        with _handle_errors():
            self._service.store.force_status(job_id, status, hold=hold)

    def delete_job(self, job_id: str) -> None:
        """Make a job vanish: it answers 404 from now on."""
        with _handle_errors():
            self._service.store.delete_job(job_id)

    def job(self, job_id: str) -> dict[str, Any]:
        """The detailed job as the API would answer it (whatever key owns it)."""
        with _handle_errors():
            return self._service.store.job_snapshot(job_id)

    def job_ids(self, api_key: str | None = None) -> list[str]:
        """Ids of every job, or of one key's jobs, oldest first."""
        return self._service.store.job_ids(api_key)

    def inject(self, *faults: Fault) -> None:
        """Add fault rules (tried in order, after those already active)."""
        self._service.faults.add(*faults)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._service.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The fault rules still active."""
        return self._service.faults.active

    def set_rate_limit(self, rate: float | None, *, burst: float | None = None) -> None:
        """Limit each key to ``rate`` requests/second (None: no limit)."""
        self._service.limiter.configure(rate, burst=burst)

    @property
    def requests(self) -> list[RequestRecord]:
        """The API requests received (most recent ``request_log_size``), oldest first."""
        return list(self._service.request_log)

    def request_count(self, method: str | None = None, route: str | None = None) -> int:
        """How many API requests matched ``method`` and ``route`` (e.g. ``/v1/files/{file_id}``)."""
        return sum(
            n
            for (m, r), n in list(self._service.counts.items())
            if (method is None or m == method.upper()) and (route is None or r == route)
        )

    def clear_requests(self) -> None:
        """Forget the request log and counts."""
        self._service.request_log.clear()
        self._service.counts.clear()

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer`` with every complete API exchange (used to check the spec)."""
        self._service.observers.append(observer)

    def reset(self) -> None:
        """Forget every job, file, fault and logged request; keep the configuration."""
        reset_service(self._service)
