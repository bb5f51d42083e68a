"""Shapes both job APIs share: events, checkpoints, and a page of results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

__all__ = ["Checkpoint", "CheckpointMetrics", "Error", "Event", "JobBase", "ListAnswer", "Page"]

T = TypeVar("T")


class Error(msgspec.Struct, kw_only=True):
    """The spec's error body; ``detail`` is what some gateways send instead of ``message``."""

    message: Any = None
    type: str | None = None
    code: int | str | None = None
    detail: Any = None


class Event(msgspec.Struct, kw_only=True):
    """One entry of a detailed job's ``events`` (e.g. a status change)."""

    name: str
    created_at: int | None = None
    data: dict[str, Any] | None = None


class CheckpointMetrics(msgspec.Struct, kw_only=True):
    """Losses and accuracy measured at a checkpoint."""

    train_loss: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class Checkpoint(msgspec.Struct, kw_only=True):
    """One entry of a detailed job's ``checkpoints``."""

    metrics: CheckpointMetrics | None = None
    step_number: int | None = None
    created_at: int | None = None


class ListAnswer(msgspec.Struct, Generic[T], kw_only=True):
    """The body of every list endpoint: ``{"object": "list", "data": [...], "total": N}``."""

    data: list[T] = msgspec.field(default_factory=list)
    total: int = 0
    object: str | None = None


class JobBase(msgspec.Struct, kw_only=True):
    """What jobs of both APIs have: id, status, times, and (detailed) events and checkpoints."""

    id: str
    status: str
    created_at: int | None = None
    modified_at: int | None = None
    events: list[Event] | None = None
    checkpoints: list[Checkpoint] | None = None

    #: The statuses after which the job never changes (set by each API's job class).
    TERMINAL: ClassVar[frozenset[str]] = frozenset()
    #: Changes known to be one step, with no other status possible in between: a watcher
    #: that sees one of these in a list (which carries no events) needs no GET to be sure it
    #: missed nothing. Any other change is read back from the job's ``events``.
    DIRECT_STEPS: ClassVar[frozenset[tuple[str, str]]] = frozenset()

    @property
    def is_terminal(self) -> bool:
        """Whether the job is in its API's terminal set (an unknown status never is)."""
        return self.status in self.TERMINAL

    @property
    def status_history(self) -> list[tuple[str, int | None]]:
        """The status changes in ``events`` (a detailed answer's), oldest first, with times."""
        return [
            (str(event.data["status"]), event.created_at)
            for event in self.events or ()
            if event.data and isinstance(event.data.get("status"), str)
        ]

    @property
    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint with the highest step, if the answer carried any."""
        if not self.checkpoints:
            return None
        return max(self.checkpoints, key=lambda c: c.step_number or 0)


#: The job class of the API a resource or watcher works with (``FineTuningJob``, ``ForgeJob``).
J = TypeVar("J", bound=JobBase)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, the total that match, and where it stands."""

    data: list[T]
    total: int
    page: int
    page_size: int

    @property
    def has_more(self) -> bool:
        """Whether pages after this one hold more items."""
        return (self.page + 1) * self.page_size < self.total and len(self.data) >= self.page_size
