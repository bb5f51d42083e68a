"""The leader's work: poll the union of every process's jobs and publish what it sees."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from redis.exceptions import RedisError

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.sharing import _scripts
from mistral_jobs_async.sharing._connection import text
from mistral_jobs_async.watcher._state import decode_saved_job, encode_state, saved_of

if TYPE_CHECKING:
    from mistral_jobs_async.sharing._shared import SharedWatcher
    from mistral_jobs_async.watcher import Watcher

__all__ = ["elect", "lead"]

logger = logging.getLogger("mistral_jobs_async.sharing")
#: The most events one publish carries.
_BATCH = 200


async def elect(shared: SharedWatcher[Any], redis: Any) -> None:
    """Take the lease whenever it is free, and lead while it is held, until cancelled."""
    acquire = redis.register_script(_scripts.ACQUIRE)
    keys = shared.keys
    ttl_ms = int(shared.sharing.lease_ttl * 1000)

    async def step() -> None:
        token = await acquire(keys=[keys.lease, keys.fence], args=[shared.process_id, ttl_ms])
        if token is not None:
            shared.leading = text(token)
            logger.info("leading %s (lease %s)", keys.prefix, shared.leading)
            try:
                await lead(shared, redis, shared.leading)
            finally:
                shared.leading = None
        # Look again a little after the lease could have lapsed, not in step with others.
        await anyio.sleep(shared.sharing.lease_ttl / 3 * random.uniform(0.8, 1.2))

    await shared._forever("taking the lead", step)


async def lead(shared: SharedWatcher[Any], redis: Any, token: str) -> None:
    """Lead while the lease ``token`` holds: run the watcher, publish each event under fence.

    Returns when the lease is lost (not renewed in time, or taken over after a pause: the
    publish script then refuses, so a leader that lost its lease writes nothing more). The
    lease is released on the way out, so another process takes over at once.
    """
    keys = shared.keys
    publish = redis.register_script(_scripts.PUBLISH)
    release = redis.register_script(_scripts.RELEASE)
    saved = []
    for raw in (await redis.hgetall(keys.state)).values():
        with contextlib.suppress(msgspec.MsgspecError):  # another version's entry: re-observed
            saved.append(decode_saved_job(raw))
    watcher = shared._resource.watcher(
        config=shared.config, state=encode_state(saved) if saved else None, close_when_done=False
    )
    shared.led.append(watcher)
    # A lost Redis (or a refused key) in any of the leader's tasks ends the leadership: each
    # task hands its error here and cancels the rest, and it is raised once, bare (not in an
    # exception group), for the election loop to wait out (or to stop on).
    failures: list[BaseException] = []
    try:
        async with watcher, anyio.create_task_group() as group:

            async def guarded(step: Callable[[], Awaitable[None]]) -> None:
                try:
                    await step()
                except (RedisError, OSError, MistralJobsError) as exc:
                    failures.append(exc)
                    group.cancel_scope.cancel()

            group.start_soon(
                guarded, partial(_keep_lease, shared, redis, token, group.cancel_scope)
            )
            group.start_soon(guarded, partial(_follow_interest, shared, redis, watcher))
            await guarded(
                partial(_publish_all, shared, publish, token, watcher, group.cancel_scope)
            )
    finally:
        shared.retire(watcher)
        with anyio.move_on_after(2, shield=True), contextlib.suppress(RedisError, OSError):
            await release(keys=[keys.lease], args=[token])  # Redis may be what failed
    if failures:
        raise failures[0]


async def _publish_all(
    shared: SharedWatcher[Any],
    publish: Any,
    token: str,
    watcher: Watcher[Any],
    scope: anyio.CancelScope,
) -> None:
    """Publish every event of the leader's watcher, until the lease is found lost.

    Events already waiting go out together, in one script (one round trip for a burst).
    """
    async with watcher.subscribe(progress=shared.sharing.progress) as events:
        async for event in events:
            batch = [event, *events.take_ready(_BATCH - 1)]
            if not await _publish(shared, publish, token, batch):
                logger.warning("lost the lease of %s: no longer leading", shared.keys.prefix)
                scope.cancel()
                return


async def _publish(shared: SharedWatcher[Any], publish: Any, token: str, batch: list[Any]) -> bool:
    """Append the events to the stream and their jobs' state to the hash, under the lease."""
    keys = shared.keys
    args: list[Any] = [token, shared.sharing.stream_maxlen]
    for event in batch:
        state = saved_of(event)
        saved = msgspec.json.encode(state) if state is not None else b""
        args += [event.job_id, saved, shared._wire.encode(event)]
    written = await publish(keys=[keys.lease, keys.events, keys.seq, keys.state], args=args)
    return written is not None


async def _keep_lease(
    shared: SharedWatcher[Any], redis: Any, token: str, scope: anyio.CancelScope
) -> None:
    """Renew the lease every third of its time; stop leading the moment it is not ours."""
    renew = redis.register_script(_scripts.RENEW)
    ttl_ms = int(shared.sharing.lease_ttl * 1000)
    while True:
        await anyio.sleep(shared.sharing.lease_ttl / 3)
        if not await renew(keys=[shared.keys.lease], args=[token, ttl_ms]):
            logger.warning("the lease of %s was lost: no longer leading", shared.keys.prefix)
            scope.cancel()
            return


async def _follow_interest(shared: SharedWatcher[Any], redis: Any, watcher: Watcher[Any]) -> None:
    """Keep the watcher on the union of the jobs live processes follow."""
    keys = shared.keys
    every = min(shared.sharing.interest_ttl / 3, shared.config.fast_interval)
    while True:
        seconds, micros = await redis.time()
        now_ms = seconds * 1000 + micros // 1000
        await redis.zremrangebyscore(keys.members, "-inf", now_ms)
        members = [m.decode() for m in await redis.zrange(keys.members, 0, -1)]
        wanted: set[str] = set()
        if members:
            raw = await redis.sunion([keys.interest(m) for m in members])
            wanted = {item.decode() for item in raw}
        current = set(watcher.job_ids)
        if wanted - current:
            watcher.add(sorted(wanted - current))
        if current - wanted:
            watcher.remove(sorted(current - wanted))
        await anyio.sleep(every)
