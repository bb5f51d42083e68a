"""While Redis is away: each process follows its own jobs with a local watcher."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from mistral_jobs_async.watcher._state import SavedJob, encode_state

if TYPE_CHECKING:
    from mistral_jobs_async.sharing._shared import SharedWatcher

__all__ = ["follow_locally_when_redis_is_away"]

logger = logging.getLogger("mistral_jobs_async.sharing")
_LOOK_EVERY = 0.25


async def follow_locally_when_redis_is_away(shared: SharedWatcher[Any]) -> None:
    """After ``fallback_after`` seconds without Redis, watch this process's jobs locally.

    The local watcher resumes from what this process has given its subscribers (so it reads
    back from each job's events what happened meanwhile, flagged ``missed``), polls like any
    watcher (each process for itself: N processes cost N watchers while Redis is away), and
    stops when Redis answers again. The shared stream then takes over; what the resumed
    leader publishes again is skipped by ``hand_over``.
    """
    after = shared.sharing.fallback_after
    assert after is not None
    while True:
        await anyio.sleep(_LOOK_EVERY)
        since = shared.redis_down_since
        if since is None or anyio.current_time() - since < after:
            continue
        ids = shared.job_ids
        logger.warning(
            "Redis away for %.0fs: following %d jobs with a local watcher until it is back",
            anyio.current_time() - since, len(ids),
        )  # fmt: skip
        await _follow(shared, ids)
        logger.warning("Redis is back: the shared watch takes over again")


async def _follow(shared: SharedWatcher[Any], ids: list[str]) -> None:
    # Not ended (``job_ids``): each resumes from the last status given here.
    saved = [SavedJob(id=job_id, status=shared.status_of(job_id)) for job_id in ids]
    watcher = shared._resource.watcher(
        config=shared.config, state=encode_state(saved), close_when_done=False
    )
    shared.led.append(watcher)  # its polls are this process's too
    try:
        async with (
            watcher,
            watcher.subscribe(progress=shared.sharing.progress) as events,
            anyio.create_task_group() as group,
        ):

            async def until_redis_is_back() -> None:
                while shared.redis_down_since is not None:
                    watcher.add(shared.job_ids)  # jobs added meanwhile
                    await anyio.sleep(_LOOK_EVERY)
                group.cancel_scope.cancel()

            group.start_soon(until_redis_is_back)
            async for event in events:
                await shared.hand_over(event)
    finally:
        shared.retire(watcher)
