"""A process's registration in a shared watch: itself and the jobs it follows, kept in Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from mistral_jobs_async.sharing import _scripts

if TYPE_CHECKING:
    from mistral_jobs_async.sharing._shared import SharedWatcher

__all__ = ["keep_interest"]


async def keep_interest(shared: SharedWatcher[Any], redis: Any) -> None:
    """Register the process and its jobs, renewed well before they expire, until cancelled.

    Only the differences are written (added ids, then removed ones): the set is never empty
    in between, so the leader never takes a re-registration for a process that follows
    nothing (which would drop the jobs and find them again as new).
    """
    keys, process_id = shared.keys, shared.process_id
    ttl_ms = int(shared.sharing.interest_ttl * 1000)
    register = redis.register_script(_scripts.REGISTER)
    key = keys.interest(process_id)
    registered: set[str] = set()

    async def step() -> None:
        nonlocal registered
        changed = shared._interest_changed = anyio.Event()
        ids = set(shared._ids)
        if not await redis.exists(key):
            registered = set()  # expired (or Redis came back empty): all again
        added = sorted(ids - registered)
        for start in range(0, max(1, len(added)), 1000):
            chunk = added[start : start + 1000]
            await register(keys=[keys.members, key], args=[process_id, ttl_ms, *chunk])
        if gone := registered - ids:
            await redis.srem(key, *gone)
        registered = ids
        with anyio.move_on_after(shared.sharing.interest_ttl / 3):
            await changed.wait()

    await shared._forever("registering this process's jobs", step)
