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

Every browser that follows a job subscribes to the app's one watcher: 100 browsers on 10 jobs
cost the API what 10 jobs cost. When the last subscriber of a job leaves, its polling stops
(unless the app asked to keep the job with ``MistralJobs.keep``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from mistral_jobs_async import AsyncClient, ConfigurationError
from mistral_jobs_async.watcher import (
    JobStalled,
    JobVanished,
    PollFailed,
    Transition,
    WatchConfig,
    Watcher,
    WatchEvent,
)

__all__ = [
    "Api",
    "ClientDep",
    "JobsDep",
    "MistralJobs",
    "get_client",
    "get_jobs",
    "job_events",
    "mistral_lifespan",
]

Api = Literal["fine_tuning", "forge"]


class MistralJobs:
    """The app's client and its shared watchers (one per job API), with subscriber counts."""

    def __init__(self, client: AsyncClient, watchers: dict[Api, Watcher]) -> None:
        self.client = client
        self.watchers = watchers
        self._subscribers: Counter[tuple[Api, str]] = Counter()
        self._kept: set[tuple[Api, str]] = set()

    def keep(self, job_id: str, api: Api = "fine_tuning") -> None:
        """Poll this job until it ends, even with no subscriber (e.g. right after launching)."""
        self._kept.add((api, job_id))
        self.watchers[api].add([job_id])

    def subscribe(self, job_id: str, api: Api = "fine_tuning") -> AbstractAsyncContextManager[Any]:
        """A subscription to one job's events; the job is polled while anyone holds one."""
        return self._subscription(job_id, api)

    @asynccontextmanager
    async def _subscription(self, job_id: str, api: Api) -> AsyncIterator[Any]:
        # No task group is held open across this yield: the subscription is a plain stream.
        watcher = self.watchers[api]
        key = (api, job_id)
        self._subscribers[key] += 1
        subscription = watcher.subscribe(job_ids={job_id})
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
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI ``lifespan``: one client and one watcher per API for the app's whole life.

    ``client`` builds the client (default: ``AsyncClient()``, from ``MISTRAL_API_KEY`` and
    ``MISTRAL_BASE_URL``). Both are closed when the app shuts down, polls included.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            jobs_client = await stack.enter_async_context(client())
            watchers: dict[Api, Watcher] = {
                "fine_tuning": jobs_client.fine_tuning.jobs.watcher(
                    config=config, close_when_done=False
                ),
                "forge": jobs_client.forge.jobs.watcher(config=config, close_when_done=False),
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


def _payload(event: WatchEvent) -> tuple[str, dict[str, Any]]:
    if isinstance(event, Transition):
        return "transition", {
            "job_id": event.job_id,
            "previous": event.previous,
            "status": event.status,
            "terminal": event.terminal,
            "observed_at": event.observed_at,
        }
    if isinstance(event, JobVanished):
        return "vanished", {"job_id": event.job_id, "last_status": event.last_status}
    if isinstance(event, PollFailed):
        return "poll_failed", {"job_id": event.job_id, "error": str(event.error)}
    assert isinstance(event, JobStalled)
    return "stalled", {"job_id": event.job_id, "status": event.status}


def job_events(request: Request, job_id: str, api: Api = "fine_tuning") -> StreamingResponse:
    """A ready endpoint body: one job's events as Server-Sent Events, ending at its end.

    The stream opens with a ``status`` event (the last status the watcher knows, if any),
    then sends ``transition``, ``vanished``, ``poll_failed`` and ``stalled`` events. It ends
    after a terminal transition or a vanished job. A browser that disconnects releases its
    subscription.
    """
    jobs = get_jobs(request)

    async def stream() -> AsyncIterator[bytes]:
        watcher = jobs.watchers[api]
        async with jobs.subscribe(job_id, api) as events:
            known = watcher.status_of(job_id)
            if known is not None:
                yield _sse("status", {"job_id": job_id, "status": known})
                if job_id not in watcher.job_ids:
                    return  # it had already ended: nothing more will come
            async for event in events:
                name, data = _payload(event)
                yield _sse(name, data)
                if (name == "transition" and data["terminal"]) or name == "vanished":
                    return

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
