"""``SharedWatcher``: one job API's watch shared by every process on one Redis namespace."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic

import anyio
from anyio.abc import TaskGroup

from mistral_jobs_async._exceptions import MistralJobsError
from mistral_jobs_async.sharing._connection import connect, text
from mistral_jobs_async.sharing._delivery import Delivery
from mistral_jobs_async.sharing._fallback import follow_locally_when_redis_is_away
from mistral_jobs_async.sharing._interest import keep_interest
from mistral_jobs_async.sharing._leader import elect
from mistral_jobs_async.sharing._settings import Keys, SharingConfig
from mistral_jobs_async.sharing._wire import Wire
from mistral_jobs_async.watcher import WatchConfig, Watcher, WatchStats
from mistral_jobs_async.watcher._engine import id_list
from mistral_jobs_async.watcher._events import J, WatchEvent
from mistral_jobs_async.watcher._fanout import EventStream, Fanout
from mistral_jobs_async.watcher._state import SavedJob, decode_saved_job, encode_state

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mistral_jobs_async.resources._jobs import JobsResource

__all__ = ["SharedSubscription", "SharedWatcher"]

logger = logging.getLogger("mistral_jobs_async.sharing")


class SharedSubscription(EventStream[J]):
    """One subscriber's events of a :class:`SharedWatcher` (the same ``async for``)."""

    def __init__(self, watcher: SharedWatcher[J], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watcher = watcher

    def _stopped_by(self) -> BaseException | None:
        return self.watcher.fatal_error

    def save_state(self) -> bytes:
        """The jobs as this subscriber has seen them (the ``save_state()`` format)."""
        ids = self._only if self._only is not None else self.watcher.job_ids
        return encode_state([self._delivered.get(i) or SavedJob(id=i) for i in ids])


class SharedWatcher(Generic[J]):
    """Follow jobs of one API with every process that shares a Redis namespace.

    Each process says which jobs it follows (``add``) and subscribes to their events as with a
    :class:`~mistral_jobs_async.watcher.Watcher`. One process at a time, the holder of a lease,
    runs an ordinary watcher over the union of every process's jobs and appends its events to
    a Redis stream; every process reads that stream from the last entry it delivered and hands
    the events to its own subscribers. So N processes poll like one: one watcher's requests,
    one budget. If the leader dies, another takes the lease within about ``lease_ttl`` and
    resumes from the state kept beside the stream: what happened in between arrives flagged
    ``missed``, nothing twice. See ``docs/deployment.md``.
    """

    def __init__(
        self,
        jobs: JobsResource[J],
        redis: Redis | str,
        *,
        config: WatchConfig | None = None,
        sharing: SharingConfig | None = None,
        process_id: str | None = None,
    ) -> None:
        self._resource = jobs
        self._redis_arg = redis
        # redis-py's own annotations are loose (bytes | str | Any): its answers are read here
        # with the shapes its commands document.
        self._redis: Any = None
        self.config = config or WatchConfig()
        self.sharing = sharing or SharingConfig()
        self.process_id = process_id or uuid.uuid4().hex[:12]
        self.keys = Keys.of(self.sharing.namespace, jobs._http.identity, jobs._api)
        self._wire: Wire[J] = Wire(jobs._job_type)  # the leader encodes, Delivery decodes
        self._fanout: Fanout[J] = Fanout()
        self._delivery: Delivery[J] = Delivery(
            self._fanout, self._wire, stream_maxlen=self.sharing.stream_maxlen
        )
        self._ids: set[str] = set()
        #: Since when (event loop time) this process cannot read from Redis, or None.
        self.redis_down_since: float | None = None
        self._interest_changed = anyio.Event()
        self._group: TaskGroup | None = None
        self._fatal: BaseException | None = None
        #: The fencing token of the lease while this process leads, else None.
        self.leading: str | None = None
        #: The watchers this process runs now (leading, or following alone while Redis is
        #: away); those that ended are folded into ``_past`` (their polls count in ``stats``).
        self.led: list[Watcher[J]] = []
        self._past = WatchStats()

    # --- what this process follows -----------------------------------------------------------

    def add(self, job_ids: str | Iterable[str]) -> None:
        """Follow more jobs (registered in Redis at once; the leader polls them soon)."""
        new = set(id_list(job_ids)) - self._ids
        if new:
            self._ids |= new
            self._interest_changed.set()

    def remove(self, job_ids: str | Iterable[str]) -> None:
        """Stop following jobs here (the leader drops them once no process follows them)."""
        gone = set(id_list(job_ids)) & self._ids
        if gone:
            self._ids -= gone
            for job_id in gone:
                self._delivery.forget(job_id)
            self._interest_changed.set()

    @property
    def job_ids(self) -> list[str]:
        """The jobs this process follows that have not ended."""
        return sorted(self._ids - self._delivery.ended)

    def status_of(self, job_id: str) -> str | None:
        """The last status this process was told of (None before the first)."""
        return self._delivery.status.get(job_id)

    @property
    def gaps(self) -> int:
        """Entries lost to the stream's trimming before this process read them."""
        return self._delivery.gaps

    async def known_status(self, job_id: str) -> str | None:
        """The job's last status, from this process or else from the shared state in Redis.

        A job another process followed to its end before this one asked for it has no event
        left to come: its saved state says so (and it counts as ended here).
        """
        known = self._delivery
        if job_id in known.status:
            return known.status[job_id]
        raw = await self._redis.hget(self.keys.state, job_id)
        if raw is None:
            return None
        saved = decode_saved_job(raw)
        if saved.status is not None:
            known.status.setdefault(job_id, saved.status)
        if saved.done:
            known.ended.add(job_id)
        return known.status.get(job_id)

    @property
    def fatal_error(self) -> BaseException | None:
        """The error that stopped the shared watch here, if one did."""
        return self._fatal

    @property
    def stats(self) -> WatchStats:
        """What this process spent polling for the namespace (only ever while it led)."""
        total = dataclasses.replace(self._past)
        for watcher in self.led:
            total.add(watcher.stats)
        return total

    def subscribe(
        self,
        job_ids: str | Collection[str] | None = None,
        *,
        buffer: int | None = None,
        progress: bool = False,
    ) -> SharedSubscription[J]:
        """A new stream of events of this process's jobs (of ``job_ids`` only, if given).

        ``progress=True`` passes on checkpoints and estimates: the leader publishes them when
        the namespace's ``SharingConfig(progress=True)`` (the same in every process).
        """
        only = frozenset(id_list(job_ids)) if job_ids is not None else None
        receive = self._fanout.add(buffer or self.config.buffer, only, progress=progress)
        return SharedSubscription(self, receive, only)

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> SharedWatcher[J]:
        self._redis = await connect(self._redis_arg)
        last = await self._redis.xrevrange(self.keys.events, count=1)
        if last:
            # Read from here on: a new process starts at the stream's end, and from then on
            # never from "now" (a reader that was away reads what came meanwhile).
            entry_id, fields = last[0]
            self._delivery.last_id = text(entry_id)
            self._delivery.last_seq = int(fields[b"seq"])
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(keep_interest, self, self._redis)
        self._group.start_soon(self._read)
        self._group.start_soon(elect, self, self._redis)
        if self.sharing.fallback_after is not None:
            self._group.start_soon(follow_locally_when_redis_is_away, self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        self._group.cancel_scope.cancel()
        try:
            await self._group.__aexit__(None, None, None)
        finally:
            self._fanout.close()
            with anyio.move_on_after(2, shield=True):
                await self._leave()
        return None

    def retire(self, watcher: Watcher[J]) -> None:
        """A leader's or fallback's watcher ended: keep its counts, not the watcher."""
        if watcher in self.led:
            self.led.remove(watcher)
            self._past.add(watcher.stats)

    def _stop(self, error: MistralJobsError) -> None:
        """End the shared watch in this process with ``error`` (subscribers get it)."""
        if self._fatal is None:
            logger.error("the shared watch %s stopped: %s", self.keys.prefix, error)
            self._fatal = error
        self._fanout.close()

    async def _leave(self) -> None:
        """Say this process follows nothing any more (if Redis is there to hear it)."""
        from redis.exceptions import RedisError  # noqa: PLC0415 (the redis extra)

        try:
            await self._redis.zrem(self.keys.members, self.process_id)
            await self._redis.delete(self.keys.interest(self.process_id))
        except (RedisError, OSError) as exc:
            logger.warning("could not unregister from Redis (%s): it expires by itself", exc)
        finally:
            if isinstance(self._redis_arg, str):  # a client we opened (a caller's stays open)
                await self._redis.aclose()

    # --- background work -----------------------------------------------------------------------

    async def _forever(
        self, what: str, step: Callable[[], Awaitable[None]], *, health: bool = False
    ) -> None:
        """Run ``step`` again and again; a lost Redis is said once in the log and waited out.

        While Redis is away nothing is published or delivered, and the lease lapses; when it
        is back, the process registers again, reads on from its last entry, and one process
        leads again from the state kept in Redis.
        """
        from redis.exceptions import RedisError  # noqa: PLC0415 (the redis extra)

        down = False
        while True:
            try:
                await step()
            except MistralJobsError as exc:  # noqa: PERF203 (a loop that must survive)
                # The leader's watcher stopped on a refused key (401/403): polling cannot go on
                # here, and would fail the same way in every process that took over.
                self._stop(exc)
                return
            except (RedisError, OSError) as exc:
                if not down:
                    logger.warning("Redis lost (%s): %s stops until it is back", exc, what)
                    if health:
                        self.redis_down_since = anyio.current_time()
                down = True
                await anyio.sleep(1.0)
            else:
                if down:
                    logger.warning("Redis is back: %s goes on", what)
                    if health:
                        self.redis_down_since = None
                down = False

    async def _read(self) -> None:
        """Hand the stream's events to this process's subscribers, in order, once each."""
        block = int(self.sharing.read_block * 1000)
        delivery = self._delivery

        async def step() -> None:
            answer = await self._redis.xread(
                {self.keys.events: delivery.last_id}, count=500, block=block
            )
            for _, entries in answer or ():
                for entry_id, fields in entries:
                    await delivery.from_stream(
                        text(entry_id), int(fields[b"seq"]), fields[b"event"], self._ids
                    )

        await self._forever("reading the shared events", step, health=True)

    async def hand_over(self, event: WatchEvent[J]) -> None:
        """Give an event to this process's subscribers, unless it was given already.

        The local fallback's way in (see ``_delivery.py``).
        """
        await self._delivery.hand_over(event, self._ids)
