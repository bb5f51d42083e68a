"""Fan-out: each subscriber gets every event of its jobs through its own bounded buffer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Generic

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mistral_jobs_async.watcher._events import J, JobVanished, Transition, WatchEvent
from mistral_jobs_async.watcher._state import SavedJob

if TYPE_CHECKING:
    from mistral_jobs_async.watcher._engine import Watcher

__all__ = ["Fanout", "Subscription"]


class Fanout(Generic[J]):
    """The subscribers of one watcher. A slow one slows the sender (backpressure), losing none.

    Each subscriber needs a stream of its own: receive clones of one anyio stream would share
    the events out between them instead of each getting all of them.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[MemoryObjectSendStream[WatchEvent[J]], frozenset[str] | None]]
        self._subscribers = []
        self.closed = False

    def add(
        self, buffer: int, only: frozenset[str] | None
    ) -> MemoryObjectReceiveStream[WatchEvent[J]]:
        """A new subscriber's receiving end (already ended if the watcher has stopped)."""
        send, receive = anyio.create_memory_object_stream[WatchEvent[J]](buffer)
        if self.closed:
            send.close()
        else:
            self._subscribers.append((send, only))
        return receive

    async def emit(self, event: WatchEvent[J]) -> None:
        """Hand ``event`` to every subscriber of its job, waiting for room in each buffer."""
        for send, only in list(self._subscribers):
            if only is not None and event.job_id not in only:
                continue
            try:
                await send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._drop(send)

    def _drop(self, send: MemoryObjectSendStream[WatchEvent[J]]) -> None:
        self._subscribers = [(s, o) for s, o in self._subscribers if s is not send]
        send.close()

    def close(self) -> None:
        """End every subscription (their iterations end once their buffers are read)."""
        self.closed = True
        for send, _ in self._subscribers:
            send.close()
        self._subscribers = []


class Subscription(Generic[J]):
    """One subscriber's events: ``async for event in subscription``.

    Iteration ends when the watcher stops (every job ended, or the watcher was closed); if it
    stopped on an error (401/403), iterating raises that error.
    """

    def __init__(
        self,
        watcher: Watcher[J],
        receive: MemoryObjectReceiveStream[WatchEvent[J]],
        only: frozenset[str] | None = None,
    ) -> None:
        self.watcher = watcher
        self._receive = receive
        self._only = only
        self._delivered: dict[str, SavedJob] = {}
        #: Called with each event as it is yielded (the state file's writer, when set).
        self.on_deliver: Callable[[WatchEvent[J]], None] | None = None

    def save_state(self) -> bytes:
        """The watch as this subscriber has seen it, to resume from after a restart.

        Only events this subscription has yielded count: anything still in its buffer will be
        reported again by the resumed watcher, so nothing is lost.
        """
        return self.watcher.save_state(delivered=self._delivered, only=self._only)

    def _note(self, event: WatchEvent[J]) -> None:
        if isinstance(event, Transition):
            self._delivered[event.job_id] = SavedJob(
                id=event.job_id,
                status=event.status,
                modified_at=event.job.modified_at,
                created_at=event.job.created_at,
                done=event.terminal,
            )
        elif isinstance(event, JobVanished):
            self._delivered[event.job_id] = SavedJob(
                id=event.job_id, status=event.last_status, done=True
            )

    def __aiter__(self) -> AsyncIterator[WatchEvent[J]]:
        return self

    async def __anext__(self) -> WatchEvent[J]:
        try:
            event = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive.close()
            fatal = self.watcher.fatal_error
            if fatal is not None:
                raise fatal from None
            raise StopAsyncIteration from None
        self._note(event)
        if self.on_deliver is not None:
            self.on_deliver(event)
        return event

    async def aclose(self) -> None:
        """Stop receiving; the watcher forgets this subscriber."""
        await self._receive.aclose()

    async def __aenter__(self) -> Subscription[J]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
