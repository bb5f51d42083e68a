"""Job resources kept fresh: one shared watcher per API tells subscribers when a job changes.

A job is followed once a client reads its resource (or a tool creates it); each status
change and checkpoint then publishes ``ResourceUpdated(job://<api>/<id>)`` on the server's
subscription bus, which the SDK delivers to every ``subscriptions/listen`` stream that asked
for that URI. The watchers run for the server's life (its lifespan), with one request budget.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from mistral_jobs_async._client import AsyncClient, jobs_of
from mistral_jobs_async.watcher import CheckpointReported, JobVanished, Transition

__all__ = ["Follower", "job_uri"]

logger = logging.getLogger("mistral_jobs_async.mcp")
_APIS = ("fine_tuning", "forge")


def job_uri(api: str, job_id: str) -> str:
    """A job's resource URI."""
    return f"job://{api}/{job_id}"


class Follower:
    """The jobs the server follows, and the watchers that follow them."""

    def __init__(self, client: AsyncClient, bus: SubscriptionBus) -> None:
        self._client = client
        self._bus = bus
        self._watchers: dict[str, Any] = {}

    def follow(self, api: str, job_id: str) -> None:
        """Follow a job (again: a no-op) while the server runs."""
        watcher = self._watchers.get(api)
        if watcher is not None and job_id not in watcher.job_ids:
            watcher.add(job_id)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Follower]:
        """Run the watchers (the server's lifespan)."""
        async with anyio.create_task_group() as group, contextlib.AsyncExitStack() as stack:
            for api in _APIS:
                jobs = jobs_of(self._client, api)
                watcher = await stack.enter_async_context(jobs.watcher(close_when_done=False))
                self._watchers[api] = watcher
                await self._start(group, api, watcher)
            try:
                yield self
            finally:
                self._watchers.clear()
                group.cancel_scope.cancel()

    async def _start(self, group: TaskGroup, api: str, watcher: Any) -> None:
        events = watcher.subscribe(progress=True)

        async def publish() -> None:
            async with events:
                async for event in events:
                    if isinstance(event, Transition | CheckpointReported | JobVanished):
                        await self._bus.publish(ResourceUpdated(job_uri(api, event.job_id)))

        group.start_soon(publish)
