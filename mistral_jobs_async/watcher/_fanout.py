"""Fan-out: each subscriber gets every event of its jobs through its own bounded buffer."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mistral_jobs_async.watcher._events import (
    CheckpointReported,
    J,
    MetadataChanged,
    WatchEvent,
)
from mistral_jobs_async.watcher._state import SavedJob, StateFile, saved_of

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11 on

    from mistral_jobs_async.watcher._engine import Watcher

__all__ = ["Fanout", "Subscription"]


@dataclass(frozen=True, eq=False)
class _Subscriber(Generic[J]):
    send: MemoryObjectSendStream[WatchEvent[J]]
    only: frozenset[str] | None
    progress: bool

    def wants(self, event: WatchEvent[J]) -> bool:
        if self.only is not None and event.job_id not in self.only:
            return False
        return self.progress or not isinstance(event, CheckpointReported | MetadataChanged)


class Fanout(Generic[J]):
    """The subscribers of one watcher. A slow one slows the sender (backpressure), losing none.

    Each subscriber needs a stream of its own: receive clones of one anyio stream would share
    the events out between them instead of each getting all of them.
    """

    def __init__(self) -> None:
        self._subscribers: list[_Subscriber[J]] = []
        # Who asked for progress: subscribers of every job, and of each job by id.
        self._progress_all = 0
        self._progress_of: Counter[str] = Counter()
        self.closed = False

    def add(
        self, buffer: int, only: frozenset[str] | None, *, progress: bool = False
    ) -> MemoryObjectReceiveStream[WatchEvent[J]]:
        """A new subscriber's receiving end (already ended if the watcher has stopped)."""
        send, receive = anyio.create_memory_object_stream[WatchEvent[J]](buffer)
        if self.closed:
            send.close()
        else:
            self._subscribers.append(_Subscriber(send, only, progress))
            self._count_progress(only, progress, +1)
        return receive

    def _count_progress(self, only: frozenset[str] | None, progress: bool, step: int) -> None:
        if not progress:
            return
        if only is None:
            self._progress_all += step
        else:
            self._progress_of.update(dict.fromkeys(only, step))
            self._progress_of = +self._progress_of  # drop the zeros

    def wants_progress(self, job_id: str) -> bool:
        """Whether any subscriber asked for this job's checkpoints and estimates."""
        return self._progress_all > 0 or self._progress_of[job_id] > 0

    async def emit(self, event: WatchEvent[J]) -> None:
        """Hand ``event`` to every subscriber of its job, waiting for room in each buffer."""
        for subscriber in list(self._subscribers):
            if not subscriber.wants(event):
                continue
            try:
                await subscriber.send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._drop(subscriber)

    def _drop(self, subscriber: _Subscriber[J]) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
            self._count_progress(subscriber.only, subscriber.progress, -1)
        subscriber.send.close()

    def close(self) -> None:
        """End every subscription (their iterations end once their buffers are read)."""
        self.closed = True
        for subscriber in self._subscribers:
            subscriber.send.close()
        self._subscribers = []


class EventStream(Generic[J]):
    """One subscriber's events: ``async for event in stream``, with what it has yielded.

    The base of a local watcher's :class:`Subscription` and of a shared watcher's: the source
    says why it stopped (``_stopped_by``) and what a resume needs (``save_state``).
    """

    def __init__(
        self,
        receive: MemoryObjectReceiveStream[WatchEvent[J]],
        only: frozenset[str] | None = None,
        *,
        delivered: dict[str, SavedJob] | None = None,
    ) -> None:
        self._receive = receive
        self._only = only
        # What this subscriber has been told of each job: for a resumed watch, the saved state.
        self._delivered: dict[str, SavedJob] = dict(delivered or {})
        self._state_file: StateFile | None = None

    def _stopped_by(self) -> BaseException | None:
        """The error that ended the source, if one did."""
        raise NotImplementedError

    def save_state(self) -> bytes:
        """The watch as this subscriber has seen it, to resume from after a restart."""
        raise NotImplementedError

    def keep_state_in(self, state_file: StateFile) -> None:
        """Write this subscription's state to ``state_file`` now, and as events are yielded."""
        state_file.write_snapshot(self.save_state())
        self._state_file = state_file

    def _note(self, event: WatchEvent[J]) -> None:
        """Remember (and write, with a state file) what this event tells of its job."""
        saved = saved_of(event)
        if saved is None:
            return
        self._delivered[event.job_id] = saved
        if self._state_file is not None:
            self._state_file.record(saved, self.save_state)

    def __aiter__(self) -> AsyncIterator[WatchEvent[J]]:
        return self

    async def __anext__(self) -> WatchEvent[J]:
        try:
            event = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive.close()
            fatal = self._stopped_by()
            if fatal is not None:
                raise fatal from None
            raise StopAsyncIteration from None
        self._note(event)  # before it is handed over: a yielded event is never yielded again
        return event

    def take_ready(self, limit: int) -> list[WatchEvent[J]]:
        """Up to ``limit`` more events that are already buffered, without waiting.

        Each one counts as yielded: for consumers that handle events in batches.
        """
        taken: list[WatchEvent[J]] = []
        while len(taken) < limit:
            try:
                event = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            self._note(event)
            taken.append(event)
        return taken

    async def aclose(self) -> None:
        """Stop receiving; the source forgets this subscriber (a state file keeps its state)."""
        await self._receive.aclose()
        if self._state_file is not None:
            self._state_file.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Subscription(EventStream[J]):
    """One subscriber's events of a :class:`Watcher`: ``async for event in subscription``.

    Iteration ends when the watcher stops (every job ended, or the watcher was closed); if it
    stopped on an error (401/403), iterating raises that error.
    """

    def __init__(
        self,
        watcher: Watcher[J],
        receive: MemoryObjectReceiveStream[WatchEvent[J]],
        only: frozenset[str] | None = None,
        *,
        delivered: dict[str, SavedJob] | None = None,
    ) -> None:
        super().__init__(receive, only, delivered=delivered)
        self.watcher = watcher

    def _stopped_by(self) -> BaseException | None:
        return self.watcher.fatal_error

    def save_state(self) -> bytes:
        """The watch as this subscriber has seen it, to resume from after a restart.

        Only events this subscription has yielded count: anything still in its buffer will be
        reported again by the resumed watcher, so nothing is lost.
        """
        return self.watcher.save_state(delivered=self._delivered, only=self._only)
