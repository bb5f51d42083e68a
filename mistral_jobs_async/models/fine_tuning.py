"""Models of the Fine-Tuning API (``/v1/fine_tuning/jobs``)."""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from mistral_jobs_async.models._common import JobBase, ListAnswer

__all__ = [
    "FINE_TUNING_DIRECT_STEPS",
    "FINE_TUNING_STATUSES",
    "FINE_TUNING_TERMINAL",
    "FineTuningJob",
    "FineTuningJobList",
    "FineTuningStatus",
    "Hyperparameters",
    "JobMetadata",
    "TrainingFile",
    "WandbIntegration",
]


class FineTuningStatus:
    """The fine-tuning statuses the spec names. The set is open: others may come."""

    QUEUED: Final = "QUEUED"
    STARTED: Final = "STARTED"
    VALIDATING: Final = "VALIDATING"
    VALIDATED: Final = "VALIDATED"
    RUNNING: Final = "RUNNING"
    FAILED_VALIDATION: Final = "FAILED_VALIDATION"
    FAILED: Final = "FAILED"
    SUCCESS: Final = "SUCCESS"
    CANCELLED: Final = "CANCELLED"
    CANCELLATION_REQUESTED: Final = "CANCELLATION_REQUESTED"


FINE_TUNING_STATUSES: Final = frozenset(
    v for k, v in vars(FineTuningStatus).items() if k.isupper() and isinstance(v, str)
)
#: A job in one of these will not change again. VALIDATED is *not* final (auto_start=false).
FINE_TUNING_TERMINAL: Final = frozenset({"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"})
#: The lifecycle's steps that no other status can come between. QUEUED -> VALIDATING ->
#: VALIDATED (or FAILED_VALIDATION) -> STARTED -> RUNNING -> SUCCESS or FAILED, and a cancel
#: through CANCELLATION_REQUESTED. A cancel requested before RUNNING is not listed: the job
#: may have moved on first, so such a change is read back from the job's events.
FINE_TUNING_DIRECT_STEPS: Final = frozenset(
    {
        ("QUEUED", "VALIDATING"),
        ("VALIDATING", "VALIDATED"),
        ("VALIDATING", "FAILED_VALIDATION"),
        ("VALIDATED", "STARTED"),
        ("STARTED", "RUNNING"),
        ("RUNNING", "SUCCESS"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "CANCELLATION_REQUESTED"),
        ("CANCELLATION_REQUESTED", "CANCELLED"),
    }
)


class TrainingFile(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A training file of a create request: its id and its weight in the mix."""

    file_id: str
    weight: float = 1.0


class Hyperparameters(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Fine-tuning hyperparameters (unset ones are left to the service)."""

    training_steps: int | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    warmup_fraction: float | None = None
    epochs: float | None = None
    seq_len: int | None = None
    fim_ratio: float | None = None


class WandbIntegration(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A Weights & Biases integration. Its ``api_key`` never shows in the repr."""

    type: str = "wandb"
    project: str | None = None
    name: str | None = None
    api_key: str | None = None
    run_name: str | None = None
    url: str | None = None

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "None"
        return f"WandbIntegration(project={self.project!r}, name={self.name!r}, api_key={key})"


class JobMetadata(msgspec.Struct, kw_only=True):
    """What the service estimates for a job: duration, cost, tokens."""

    expected_duration_seconds: int | None = None
    cost: float | None = None
    cost_currency: str | None = None
    train_tokens_per_step: int | None = None
    train_tokens: int | None = None
    data_tokens: int | None = None
    estimated_start_time: int | None = None


class FineTuningJob(JobBase, kw_only=True):
    """A fine-tuning job; ``events`` and ``checkpoints`` are set on get, start and cancel."""

    model: str | None = None
    auto_start: bool | None = None
    job_type: str | None = None
    training_files: list[str] | None = None
    validation_files: list[str] | None = None
    hyperparameters: Hyperparameters | None = None
    fine_tuned_model: str | None = None
    suffix: str | None = None
    integrations: list[WandbIntegration] | None = None
    trained_tokens: int | None = None
    metadata: JobMetadata | None = None
    object: str | None = None

    TERMINAL: ClassVar[frozenset[str]] = FINE_TUNING_TERMINAL
    DIRECT_STEPS: ClassVar[frozenset[tuple[str, str]]] = FINE_TUNING_DIRECT_STEPS


#: The answer of the list endpoint.
FineTuningJobList = ListAnswer[FineTuningJob]
