"""A watcher's settings (cadence, budget, buffers) and the counters it keeps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from mistral_jobs_async._exceptions import ConfigurationError

__all__ = ["FAST_STATUSES", "WatchConfig", "WatchStats"]

#: Statuses that usually last seconds: polled at ``fast_interval``.
FAST_STATUSES = frozenset({"VALIDATING", "STARTED", "CANCELLATION_REQUESTED"})


@dataclass(frozen=True)
class WatchConfig:
    """Cadence and budget of a watcher. Seconds throughout."""

    #: Cadence: after a change and in FAST_STATUSES; the first wait otherwise; its ceiling.
    fast_interval: float = 2.0
    base_interval: float = 5.0
    max_interval: float = 60.0
    growth: float = 1.5
    jitter: float = 0.1
    error_backoff_max: float = 60.0
    requests_per_second: float = 5.0
    max_in_flight: int = 4
    page_size: int = 100
    #: Report a job that keeps one status this long (None: never).
    stall_after: float | None = None
    #: Events each subscriber may hold before the watcher waits for it.
    buffer: int = 256
    #: Jobs due within this many seconds join a cycle that is happening anyway.
    coalesce: float = 1.0
    #: Statuses a job went through between two polls, read back from its ``events``:
    #: ``"gaps"`` GETs a job when a list sweep shows a change that is not one known step
    #: (``DIRECT_STEPS``); ``"always"`` on every change a sweep shows; ``"off"`` never
    #: (fewer requests, and a fast job may be reported as QUEUED -> RUNNING).
    history: Literal["gaps", "always", "off"] = "gaps"

    def __post_init__(self) -> None:
        positive = ("fast_interval", "base_interval", "max_interval", "requests_per_second")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be > 0")
        if self.growth < 1 or not 0 <= self.jitter < 1 or self.max_in_flight < 1:
            raise ConfigurationError("growth >= 1, 0 <= jitter < 1, max_in_flight >= 1")
        if not 1 <= self.page_size <= 100 or self.buffer < 1:
            raise ConfigurationError("page_size must be in 1..100 and buffer >= 1")
        if self.history not in ("gaps", "always", "off"):
            raise ConfigurationError(f"history must be gaps, always or off, not {self.history!r}")


@dataclass
class WatchStats:
    """What a watcher spent and saw, for dashboards and benchmarks."""

    requests: int = 0
    list_requests: int = 0
    get_requests: int = 0
    sweeps: int = 0
    cycles: int = 0
    transitions: int = 0
    rate_limited: int = 0
    retries: int = 0
    #: GETs made to read back statuses a list sweep could not show (part of get_requests).
    history_requests: int = 0

    def add(self, other: WatchStats) -> None:
        """Count ``other``'s figures in these too (a total over several watchers)."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
