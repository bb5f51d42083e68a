"""Shapes both job APIs share: events, checkpoints, and a page of results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["Checkpoint", "CheckpointMetrics", "Error", "Event", "ListAnswer", "Page"]

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
