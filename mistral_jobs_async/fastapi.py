"""FastAPI integration: one client and one shared watcher per app, job events as SSE.

Installed with the ``fastapi`` extra (``pip install mistral-jobs-async[fastapi]``)::

    from fastapi import FastAPI, Request
    from mistral_jobs_async.fastapi import ClientDep, JobsDep, job_events, mistral_lifespan

    app = FastAPI(lifespan=mistral_lifespan())

    @app.post("/jobs")
    async def launch(file_id: str, jobs: JobsDep):
        job = await jobs.client.fine_tuning.jobs.create(model="open-mistral-7b",
                                                        training_files=[file_id], auto_start=True)
        jobs.keep(job.id)                               # polled even before anyone subscribes
        return {"id": job.id}

    @app.get("/jobs/{job_id}/events")
    async def events(job_id: str, request: Request):
        return job_events(request, job_id)             # Server-Sent Events until the job ends

    install_error_handlers(app)  # the package's errors become HTTP answers (404, 429, 502...)

Every browser that follows a job subscribes to the app's one watcher: 100 browsers on 10 jobs
cost the API what 10 jobs cost. When the last subscriber of a job leaves, its polling stops
(unless the app asked to keep the job with ``MistralJobs.keep``).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from mistral_jobs_async._extras import missing_extra

try:
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
except ModuleNotFoundError as exc:  # the extra is not installed: say which one
    raise missing_extra("fastapi", "FastAPI and uvicorn", "fastapi", exc) from None

from mistral_jobs_async import (
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MistralJobsError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
    WaitTimeoutError,
)
from mistral_jobs_async._validation import check_id

if TYPE_CHECKING:
    from mistral_jobs_async.sharing import RedisBudget, SharingConfig
from mistral_jobs_async.watcher import (
    PollFailed,
    WatchConfig,
    Watcher,
    WatchEvent,
    event_record,
)

__all__ = [
    "Api",
    "ClientDep",
    "JobsDep",
    "MistralJobs",
    "error_response",
    "get_client",
    "get_jobs",
    "install_error_handlers",
    "job_events",
    "mistral_lifespan",
]

logger = logging.getLogger(__name__)

Api = Literal["fine_tuning", "forge"]


class MistralJobs:
    """The app's client and its shared watchers (one per job API), with subscriber counts."""

    def __init__(self, client: AsyncClient, watchers: dict[Api, Watcher[Any]]) -> None:
        self.client = client
        self.watchers = watchers
        self._subscribers: Counter[tuple[Api, str]] = Counter()
        self._kept: set[tuple[Api, str]] = set()

    def keep(self, job_id: str, api: Api = "fine_tuning") -> None:
        """Poll this job until it ends, even with no subscriber (e.g. right after launching)."""
        self._kept.add((api, job_id))
        self.watchers[api].add([job_id])

    def subscribe(
        self, job_id: str, api: Api = "fine_tuning", *, progress: bool = False
    ) -> AbstractAsyncContextManager[Any]:
        """A subscription to one job's events; the job is polled while anyone holds one.

        ``progress=True`` adds its checkpoints and estimates (a GET per poll while it runs).
        """
        return self._subscription(job_id, api, progress)

    @asynccontextmanager
    async def _subscription(self, job_id: str, api: Api, progress: bool) -> AsyncIterator[Any]:
        # No task group is held open across this yield: the subscription is a plain stream.
        check_id("job_id", job_id)  # before anything is counted or polled
        watcher = self.watchers[api]
        key = (api, job_id)
        self._subscribers[key] += 1
        subscription = watcher.subscribe(job_ids={job_id}, progress=progress)
        watcher.add([job_id])
        try:
            yield subscription
        finally:
            await subscription.aclose()
            self._subscribers[key] -= 1
            if self._subscribers[key] <= 0:
                del self._subscribers[key]
                if key not in self._kept:
                    watcher.remove([job_id])

    def subscribers(self, job_id: str, api: Api = "fine_tuning") -> int:
        """How many subscriptions follow a job now."""
        return self._subscribers[(api, job_id)]


def mistral_lifespan(
    *,
    client: Callable[[], AsyncClient] = AsyncClient,
    config: WatchConfig | None = None,
    redis_url: str | None = None,
    sharing: SharingConfig | None = None,
    budget: RedisBudget | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI ``lifespan``: one client and one watcher per API for the app's whole life.

    ``client`` builds the client (default: ``AsyncClient()``, from ``MISTRAL_API_KEY`` and
    ``MISTRAL_BASE_URL``). Both are closed when the app shuts down, polls included.

    With ``redis_url`` (the ``redis`` extra), the watchers are shared: every worker and replica
    on that Redis (and ``sharing.namespace``) follows its jobs through one leader that polls
    for all of them, so N workers cost the API what one does and every SSE stream sees every
    event, whichever worker polls. ``sharing`` defaults to ``SharingConfig(progress=True)``
    (checkpoints for the SSE streams). ``budget`` is a ``RedisBudget`` the ``client`` factory
    also gave its client (``client=lambda: AsyncClient(budget=budget)``): the lifespan opens
    it before the client is used and closes it after, so every worker's requests share one
    rate and a 429 pauses them all.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if budget is not None:
                await stack.enter_async_context(budget)
            jobs_client = await stack.enter_async_context(client())
            if budget is not None and jobs_client._http.budget is not budget:
                raise ConfigurationError(
                    "mistral_lifespan(budget=...) is not the client's budget: build the client "
                    "with it too, e.g. client=lambda: AsyncClient(budget=budget)"
                )
            watchers: dict[Api, Any]
            if redis_url is None:
                watchers = {
                    "fine_tuning": jobs_client.fine_tuning.jobs.watcher(
                        config=config, close_when_done=False
                    ),
                    "forge": jobs_client.forge.jobs.watcher(config=config, close_when_done=False),
                }
            else:
                from mistral_jobs_async.sharing import (  # noqa: PLC0415 (the redis extra)
                    SharedWatcher,
                    SharingConfig,
                )

                settings = sharing or SharingConfig(progress=True)
                watchers = {
                    "fine_tuning": SharedWatcher(
                        jobs_client.fine_tuning.jobs, redis_url, config=config, sharing=settings
                    ),
                    "forge": SharedWatcher(
                        jobs_client.forge.jobs, redis_url, config=config, sharing=settings
                    ),
                }
            for watcher in watchers.values():
                await stack.enter_async_context(watcher)
            app.state.mistral_jobs = MistralJobs(jobs_client, watchers)
            yield

    return lifespan


def get_jobs(request: Request) -> MistralJobs:
    """Dependency: the app's :class:`MistralJobs`."""
    jobs = getattr(request.app.state, "mistral_jobs", None)
    if not isinstance(jobs, MistralJobs):
        raise ConfigurationError(
            "no Mistral client on this app: create it with FastAPI(lifespan=mistral_lifespan())"
        )
    return jobs


def get_client(request: Request) -> AsyncClient:
    """Dependency: the app's one ``AsyncClient``."""
    return get_jobs(request).client


#: ``client: ClientDep`` in a route's parameters: the app's client.
ClientDep = Annotated[AsyncClient, Depends(get_client)]
#: ``jobs: JobsDep`` in a route's parameters: the app's client and watchers.
JobsDep = Annotated[MistralJobs, Depends(get_jobs)]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), msgspec.json.encode(data))


def _payload(event: WatchEvent[Any]) -> tuple[str, dict[str, Any]]:
    """The SSE event's name and data: the event's one record (``watcher.event_record``)."""
    data = event_record(event)
    name = data.pop("event")
    if isinstance(event, PollFailed):
        # What a browser may read: the short reason, not the upstream URL in the message.
        _, answer, _ = _answer(event.error)
        del data["error"]
        data.update(answer)
    return name, data


def job_events(
    request: Request, job_id: str, api: Api = "fine_tuning", *, progress: bool = True
) -> StreamingResponse:
    """A ready endpoint body: one job's events as Server-Sent Events, ending at its end.

    The stream opens with a ``status`` event (the last status the watcher knows, if any),
    then sends ``transition``, ``vanished``, ``poll_failed`` and ``stalled`` events, and with
    ``progress`` (the default) ``checkpoint`` and ``metadata`` events: a job someone follows
    this way is polled by GET while it runs, to read its checkpoints. It ends
    after a terminal transition or a vanished job. A malformed id, or a watch that stops on an
    error (the API refused the app's key), gets one ``error`` event and the stream ends. A
    browser that disconnects releases its subscription.
    """
    jobs = get_jobs(request)

    async def stream() -> AsyncIterator[bytes]:
        try:
            # Closed here, not by the garbage collector, when the browser goes away.
            async with contextlib.aclosing(_job_stream(jobs, job_id, api, progress)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except MistralJobsError as exc:
            status, body, _ = _answer(exc)
            yield _sse("error", {"job_id": job_id, "status_code": status, **body})

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _job_stream(
    jobs: MistralJobs, job_id: str, api: Api, progress: bool
) -> AsyncGenerator[bytes, None]:
    watcher = jobs.watchers[api]
    async with jobs.subscribe(job_id, api, progress=progress) as events:
        known = await watcher.known_status(job_id)
        if known is not None:
            yield _sse("status", {"job_id": job_id, "status": known})
            if job_id not in watcher.job_ids:
                return  # it had already ended: nothing more will come
        async for event in events:
            name, data = _payload(event)
            yield _sse(name, data)
            if (name == "transition" and data["terminal"]) or name == "vanished":
                return


# Errors only the app's operator can fix: the caller gets a status and a short reason (no key,
# no upstream URL); the log gets the whole error. The first match in this order wins.
_OPERATOR_ERRORS: tuple[tuple[type[MistralJobsError], int, str], ...] = (
    (AuthenticationError, 502, "the Mistral API refused this service's credentials"),
    (PermissionDeniedError, 502, "the Mistral API refused this service's credentials"),
    (RequestTimeoutError, 504, "the Mistral API did not answer in time"),
    (WaitTimeoutError, 504, "the job did not get there in time (it keeps running)"),
    (TransportError, 502, "the Mistral API could not be reached"),
    (ConfigurationError, 500, "the Mistral client is misconfigured"),
)
#: API statuses the caller of the app can act on, passed through with the API's message.
_PASSED_THROUGH = frozenset({400, 404, 409, 422, 429})


def _answer(exc: MistralJobsError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The HTTP status, JSON body and headers that stand for one of the package's errors."""
    name = type(exc).__name__
    for kind, status, reason in _OPERATOR_ERRORS:
        if isinstance(exc, kind):
            return status, {"detail": reason, "error": name}, {}
    if isinstance(exc, APIStatusError):
        body: dict[str, Any] = {"detail": exc.message, "error": name}
        body.update(
            {k: v for k in ("type", "code", "request_id") if (v := getattr(exc, k)) is not None}
        )
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        status = exc.status_code if exc.status_code in _PASSED_THROUGH else 502
        return status, body, headers
    if isinstance(exc, InvalidRequestError):
        return 400, {"detail": str(exc), "error": name, "field": exc.field}, {}
    # Decode, redirect and pagination errors: the upstream answer could not be used.
    return (
        502,
        {"detail": "the Mistral API sent an answer that could not be used", "error": name},
        {},
    )


def error_response(exc: MistralJobsError) -> JSONResponse:
    """The JSON answer :func:`install_error_handlers` gives for one of the package's errors."""
    status, body, headers = _answer(exc)
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MistralJobsError)
    response = error_response(exc)
    # The operator sees the whole error (the key is never in it); the caller sees the body.
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    logger.log(
        level, "%s %s -> %d: %s", request.method, request.url.path, response.status_code, exc
    )
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Answer the package's errors raised in routes with HTTP errors instead of a 500.

    The API's 400, 404, 409, 422 and 429 (with ``Retry-After``) pass through with its message;
    ``InvalidRequestError`` is a 400 naming the field; a refused key, a 5xx and transport
    errors are 502 (504 on timeouts) that name no key or upstream URL; a misconfigured client
    is a 500. Bodies are ``{"detail": ..., "error": <class name>}``, plus the API's ``type``,
    ``code`` and ``request_id`` when it sent them. Call it once where the app is built:
    Starlette takes no new handler once the app has started, so the lifespan cannot do it.
    """
    app.add_exception_handler(MistralJobsError, _handle)
