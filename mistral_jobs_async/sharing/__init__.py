"""Share one poller between processes (workers, replicas) through Redis.

Installed with the ``redis`` extra (``pip install 'mistral-jobs-async[redis]'``)::

    async with AsyncClient() as client, SharedWatcher(client.fine_tuning.jobs, "redis://...") as w:
        w.add(job_ids)
        async for event in w.subscribe():
            ...

Modules: ``_settings`` (keys and timings), ``_scripts`` (the Lua that makes each step
atomic), ``_wire`` (events as stream entries), ``_leader`` (what the lease holder does) and
``_shared`` (``SharedWatcher``: interest, the stream reader, the election), ``_fallback``
(a local watcher while Redis is away), ``_connection`` (opening Redis) and ``_budget``
(``RedisBudget``: one request rate for every process).
"""

from __future__ import annotations

from mistral_jobs_async._extras import missing_extra

try:
    import redis.asyncio  # noqa: F401 (checked here so the error names the extra)
except ModuleNotFoundError as exc:
    raise missing_extra("sharing", "the redis package", "redis", exc) from None

from mistral_jobs_async.sharing._budget import RedisBudget
from mistral_jobs_async.sharing._settings import Keys, SharingConfig
from mistral_jobs_async.sharing._shared import SharedSubscription, SharedWatcher

__all__ = ["Keys", "RedisBudget", "SharedSubscription", "SharedWatcher", "SharingConfig"]
