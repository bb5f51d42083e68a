"""Models of the Fine-Tuning API (``/v1/fine_tuning/jobs``)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Final

import msgspec
from msgspec import Meta

from mistral_jobs_async.models._bounds import (
    Fraction,
    NonEmpty,
    NonNegative,
    Positive,
    TrainingSteps,
)
from mistral_jobs_async.models._common import JobBase, ListAnswer

__all__ = [
    "FINE_TUNING_DIRECT_STEPS",
    "FINE_TUNING_STATUSES",
    "FINE_TUNING_TERMINAL",
    "ClassifierTarget",
    "FineTuningJob",
    "FineTuningJobList",
    "FineTuningStatus",
    "GithubRepository",
    "Hyperparameters",
    "JobEstimate",
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

    file_id: NonEmpty
    weight: NonNegative = 1.0


class Hyperparameters(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Fine-tuning hyperparameters, bounded as in the spec (unset ones are the service's)."""

    training_steps: TrainingSteps | None = None
    learning_rate: NonNegative | None = None
    weight_decay: NonNegative | None = None
    warmup_fraction: Fraction | None = None
    epochs: NonNegative | None = None
    seq_len: Positive | None = None
    fim_ratio: Fraction | None = None


class WandbIntegration(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A Weights & Biases integration: ``type`` "wandb" on create (answers may carry others).

    Its ``api_key`` is sent on create, never answered, and never in the repr.
    """

    #: Filled in as ``"wandb"`` when not given (so that it is always sent).
    type: str | None = None
    project: str | None = None
    name: str | None = None
    api_key: str | None = None
    run_name: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        # Not a plain default: omit_defaults would then leave the type out of the body.
        self.type = self.type or "wandb"

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "None"
        return f"WandbIntegration(project={self.project!r}, name={self.name!r}, api_key={key})"


class GithubRepository(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A GitHub repository a job trains from (with or without training files).

    On create: ``name``, ``owner``, ``token`` (never answered, never in the repr), and
    optionally ``ref`` and ``weight``. A job's answer adds ``commit_id``, the commit it took.
    """

    name: NonEmpty
    owner: NonEmpty
    #: Filled in as ``"github"`` when not given (so that it is always sent).
    type: str | None = None
    token: str | None = None
    ref: str | None = None
    weight: NonNegative = 1.0
    commit_id: str | None = None

    def __post_init__(self) -> None:
        self.type = self.type or "github"

    def __repr__(self) -> str:
        token = "'***'" if self.token else "None"
        return (
            f"GithubRepository(owner={self.owner!r}, name={self.name!r}, ref={self.ref!r}, "
            f"token={token})"
        )


class ClassifierTarget(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A target of a classifier job: its name, its labels, its weight and how it is scored.

    ``loss_function`` is ``single_class`` or ``multi_class``.
    """

    name: NonEmpty
    labels: Annotated[list[NonEmpty], Meta(min_length=1)]
    weight: NonNegative = 1.0
    loss_function: str | None = None


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
    invalid_sample_skip_percentage: float | None = None
    repositories: list[GithubRepository] | None = None
    classifier_targets: list[ClassifierTarget] | None = None

    TERMINAL: ClassVar[frozenset[str]] = FINE_TUNING_TERMINAL
    DIRECT_STEPS: ClassVar[frozenset[tuple[str, str]]] = FINE_TUNING_DIRECT_STEPS


#: The answer of the list endpoint.
FineTuningJobList = ListAnswer[FineTuningJob]


class JobEstimate(msgspec.Struct, kw_only=True):
    """What a job will cost, as the service says at VALIDATED (``jobs.estimate``).

    ``metadata`` is the service's (cost, currency, tokens, expected duration): the figure that
    is billed. ``job`` is the job as read then; it waits in VALIDATED for ``start`` unless
    ``cancelled``.
    """

    job: FineTuningJob
    metadata: JobMetadata
    cancelled: bool = False

    @property
    def cost(self) -> float | None:
        """The estimated cost, in ``metadata.cost_currency``."""
        return self.metadata.cost
