"""What the MCP tools answer: typed results (the SDK's output schemas) and their makers."""

from __future__ import annotations

from typing import Any

import msgspec
from typing_extensions import TypedDict  # pydantic (the SDK's) needs it before Python 3.12

__all__ = [
    "Estimate",
    "FileSummary",
    "JobList",
    "JobSummary",
    "ModelSummary",
    "SweepSummary",
    "Validation",
    "estimate_of",
    "job_summary",
    "json_of",
    "model_summary",
]


class JobSummary(TypedDict):
    """A job in a few fields."""

    id: str
    api: str
    status: str
    model: str | None
    created_at: int | None
    fine_tuned_model: str | None
    latest_train_loss: float | None


class JobList(TypedDict):
    """Jobs, newest first."""

    jobs: list[JobSummary]
    total: int


class Estimate(TypedDict):
    """The service's figures for a job, read at VALIDATED."""

    job_id: str
    status: str
    cost: float | None
    cost_currency: str | None
    train_tokens: int | None
    data_tokens: int | None
    expected_duration_seconds: int | None
    cancelled: bool


class ModelSummary(TypedDict):
    """A model card in a few fields."""

    id: str
    type: str | None
    root: str | None
    job: str | None
    archived: bool | None
    name: str | None


class FileSummary(TypedDict):
    """An uploaded file in a few fields."""

    id: str
    filename: str | None
    bytes: int | None
    num_lines: int | None
    created_at: int | None


class SweepSummary(TypedDict):
    """What a sweep found."""

    trials: dict[str, int]
    best_job_id: str | None
    best_params: dict[str, Any] | None
    best_objective: float | None
    best_model: str | None
    steps_planned: int
    steps_saved: int


class Validation(TypedDict):
    """A local check of a training file."""

    path: str
    ok: bool
    lines: int
    valid_samples: int
    errors: int
    first_problems: list[str]
    tokens: int
    tokens_exact: bool


def job_summary(job: Any, api: str) -> JobSummary:
    """A job of either API in a few fields."""
    checkpoint = job.latest_checkpoint
    loss = checkpoint.metrics.train_loss if checkpoint and checkpoint.metrics else None
    model = getattr(job, "model", None)
    config = getattr(job, "model_config", None)
    if model is None and config is not None:
        model = config.base_model
    made = getattr(job, "fine_tuned_model", None) or getattr(job, "output_model", None)
    return {
        "id": job.id, "api": api, "status": job.status, "model": model,
        "created_at": job.created_at, "fine_tuned_model": made, "latest_train_loss": loss,
    }  # fmt: skip


def model_summary(card: Any) -> ModelSummary:
    """A model card (base or fine-tuned) in a few fields."""
    return {"id": card.id, "type": card.type, "root": card.root, "job": card.job,
            "archived": card.archived, "name": card.name}  # fmt: skip


def json_of(model: Any) -> str:
    """A model as the JSON of a resource."""
    return msgspec.json.encode(model).decode()


def estimate_of(estimate: Any) -> Estimate:
    meta = estimate.metadata
    return {
        "job_id": estimate.job.id, "status": estimate.job.status, "cost": meta.cost,
        "cost_currency": meta.cost_currency, "train_tokens": meta.train_tokens,
        "data_tokens": meta.data_tokens,
        "expected_duration_seconds": meta.expected_duration_seconds,
        "cancelled": estimate.cancelled,
    }  # fmt: skip
