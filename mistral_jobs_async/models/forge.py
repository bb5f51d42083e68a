"""Models of the Forge training API (``/forge/training/jobs``)."""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from mistral_jobs_async.models._bounds import (
    NonEmpty,
    NonNegative,
    NonNegativeInt,
    Positive,
    TrainingSteps,
)
from mistral_jobs_async.models._common import JobBase, ListAnswer

__all__ = [
    "FORGE_DIRECT_STEPS",
    "FORGE_JOB_TYPES",
    "FORGE_STATUSES",
    "FORGE_TERMINAL",
    "ForgeHyperparameters",
    "ForgeJob",
    "ForgeJobList",
    "ForgeModelConfig",
    "ForgeStatus",
    "ModelConfig",
    "TrainingJob",
    "TrainingJobList",
]


class ForgeStatus:
    """The Forge statuses the spec names. The set is open: others may come."""

    QUEUED: Final = "QUEUED"
    VALIDATING: Final = "VALIDATING"
    RUNNING: Final = "RUNNING"
    SUCCESS: Final = "SUCCESS"
    FAILED: Final = "FAILED"
    CANCELLED: Final = "CANCELLED"


FORGE_STATUSES: Final = frozenset(
    v for k, v in vars(ForgeStatus).items() if k.isupper() and isinstance(v, str)
)
#: A Forge job in one of these will not change again.
FORGE_TERMINAL: Final = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
#: QUEUED -> VALIDATING -> RUNNING -> SUCCESS, FAILED or CANCELLED: the steps nothing else
#: can come between (a cancel before RUNNING may follow other changes: read from events).
FORGE_DIRECT_STEPS: Final = frozenset(
    {
        ("QUEUED", "VALIDATING"),
        ("VALIDATING", "RUNNING"),
        ("RUNNING", "SUCCESS"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "CANCELLED"),
    }
)
#: The job types the spec accepts on create.
FORGE_JOB_TYPES: Final = frozenset(
    {"pre_training", "supervised_fine_tuning", "dpo", "odpo", "reinforcement_learning"}
)


class ForgeModelConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Forge ``model_config``: architecture, base model, experts.

    ``architecture`` is ``dense`` or ``mixture_of_experts`` on create (answers may name others).
    """

    architecture: str | None = None
    base_model: NonEmpty | None = None
    num_experts: Positive | None = None
    active_experts: Positive | None = None


class ForgeHyperparameters(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Forge hyperparameters, bounded as in the spec (unset ones are the service's)."""

    learning_rate: NonNegative | None = None
    training_steps: TrainingSteps | None = None
    batch_size: Positive | None = None
    weight_decay: NonNegative | None = None
    warmup_steps: NonNegativeInt | None = None


class ForgeJob(JobBase, kw_only=True):
    """A Forge training job."""

    job_type: str | None = None
    model_config: ForgeModelConfig | None = None
    hyperparameters: ForgeHyperparameters | None = None
    output_model: str | None = None
    auto_start: bool | None = None
    dataset_ids: list[str] | None = None

    TERMINAL: ClassVar[frozenset[str]] = FORGE_TERMINAL
    DIRECT_STEPS: ClassVar[frozenset[tuple[str, str]]] = FORGE_DIRECT_STEPS


#: The answer of the list endpoint.
ForgeJobList = ListAnswer[ForgeJob]

#: The names before the Forge prefix, kept for one release (0.2 removes them).
TrainingJob = ForgeJob
TrainingJobList = ForgeJobList
ModelConfig = ForgeModelConfig
