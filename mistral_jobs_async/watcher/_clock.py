"""The watcher's one seam to time: real time, or a virtual clock for tests."""

from __future__ import annotations

import math
import time
from typing import Protocol

import anyio
import anyio.lowlevel

__all__ = ["AnyioClock", "Clock", "VirtualClock", "sleep_or_wake"]


class Clock(Protocol):
    """What a watcher reads time from and sleeps on: inject one to run it in virtual time."""

    def now(self) -> float:
        """Monotonic seconds (schedules and budgets)."""
        ...

    def wall(self) -> float:
        """Unix seconds (the ``observed_at`` of events)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class AnyioClock:
    """Real time: the event loop's clock, ``time.time()`` and ``anyio.sleep``."""

    def now(self) -> float:
        """The event loop's monotonic time."""
        return anyio.current_time()

    def wall(self) -> float:
        """Unix time."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``anyio.sleep``."""
        await anyio.sleep(seconds)


class VirtualClock:
    """Time that moves only when someone sleeps on it: cadence tests take no real time.

    Give it to a watcher (``jobs.watcher(ids, clock=VirtualClock())``) to test code that
    follows jobs without waiting for real seconds: each ``sleep`` advances the clock at once
    (and yields to the event loop). ``sleeps`` records every wait, to assert a cadence.
    Pair it with a frozen or accelerated emulator so the jobs keep pace.
    """

    def __init__(self, start: float = 1000.0, *, wall_offset: float = 1_700_000_000.0) -> None:
        self.t = start
        self._wall_offset = wall_offset
        #: Every ``sleep`` asked of this clock, in order.
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The virtual monotonic time."""
        return self.t

    def wall(self) -> float:
        """The virtual Unix time (the monotonic time plus a fixed offset)."""
        return self._wall_offset + self.t

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once, then let other tasks run."""
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        """Move the clock forward without sleeping (time passing elsewhere)."""
        self.t += max(0.0, seconds)


async def sleep_or_wake(clock: Clock, seconds: float, wakeup: anyio.Event) -> None:
    """Sleep on ``clock`` until ``seconds`` pass (forever if infinite) or ``wakeup`` is set."""
    async with anyio.create_task_group() as group:

        async def sleep() -> None:
            if math.isfinite(seconds):
                await clock.sleep(seconds)
            else:
                await anyio.sleep_forever()
            group.cancel_scope.cancel()

        async def wake() -> None:
            await wakeup.wait()
            group.cancel_scope.cancel()

        group.start_soon(sleep)
        group.start_soon(wake)
