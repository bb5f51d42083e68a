"""The emulator's simulated clock: real time scaled by a speed factor, plus manual jumps."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from mistral_jobs_async._exceptions import EmulatorError

__all__ = ["SimClock"]


def _check_speed(speed: float) -> None:
    if not math.isfinite(speed) or speed < 0:
        raise EmulatorError(f"speed must be a finite number >= 0, not {speed}")


class SimClock:
    """Simulated wall-clock time in Unix seconds.

    ``now()`` runs at ``speed`` times real time from ``start``; ``advance()`` jumps ahead and
    ``speed = 0`` freezes it, which makes a test fully deterministic. The real-time source is
    injectable so that tests never depend on the machine's own clock.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        start: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_speed(speed)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._anchor_real = monotonic()
        self._anchor_sim = float(time.time() if start is None else start)

    def now(self) -> float:
        """Return the simulated time in Unix seconds."""
        with self._lock:
            return self._anchor_sim + (self._monotonic() - self._anchor_real) * self._speed

    @property
    def speed(self) -> float:
        """Simulated seconds per real second (0 means frozen)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        _check_speed(value)
        with self._lock:
            self._rebase()
            self._speed = float(value)

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock forward by ``seconds``."""
        if not math.isfinite(seconds) or seconds < 0:
            raise EmulatorError("the simulated clock only moves forward, by a finite amount")
        with self._lock:
            self._rebase()
            self._anchor_sim += seconds

    def _rebase(self) -> None:
        real = self._monotonic()
        self._anchor_sim += (real - self._anchor_real) * self._speed
        self._anchor_real = real
