"""Wire shapes of the emulated service: request bodies it accepts and bodies it answers.

Requests are decoded strictly (types and the spec's bounds are checked by msgspec, whose
messages name the field, e.g. ``... - at `$.suffix```); unknown fields are ignored, as the real
service does. Responses follow the OpenAPI files in ``openapi/`` plus the real fields listed
in the project's spec notes. A field the spec types as a plain string is omitted rather than
sent as null; fields outside the spec are sent as null where the real service does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

NonNegative = Annotated[float, Meta(ge=0.0)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Meta(ge=1)]
# The spec sets no maximum; the emulator refuses sizes no real job has (and that would
# overflow a client's int64 durations) rather than accept a job that never ends.
MAX_TRAINING_STEPS = 1_000_000
TrainingSteps = Annotated[int, Meta(ge=1, le=MAX_TRAINING_STEPS)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
Suffix = Annotated[str, Meta(max_length=18)]
NonEmptyStr = Annotated[str, Meta(min_length=1)]
# The spec notes call it the share of invalid samples the service may skip; its name says a
# percentage: the emulator takes 0 to 100 (a guess, in docs/emulator.md).
Percentage = Annotated[float, Meta(ge=0.0, le=100.0)]

ForgeJobType = Literal[
    "pre_training", "supervised_fine_tuning", "dpo", "odpo", "reinforcement_learning"
]
FineTuningJobType = Literal["completion", "classifier"]


# --- requests ------------------------------------------------------------------------------


class TrainingFileIn(Struct):
    """One entry of ``training_files`` in a create request."""

    file_id: NonEmptyStr
    weight: NonNegative = 1.0


class HyperparametersIn(Struct):
    """Fine-tuning hyperparameters, bounded as in the spec."""

    training_steps: TrainingSteps | None = None
    learning_rate: NonNegative | None = None
    weight_decay: NonNegative | None = None
    warmup_fraction: Fraction | None = None
    epochs: NonNegative | None = None
    seq_len: PositiveInt | None = None
    fim_ratio: Fraction | None = None


class IntegrationIn(Struct):
    """A Weights & Biases integration; its ``api_key`` is kept but never echoed back."""

    type: Literal["wandb"]
    project: str | None = None
    name: str | None = None
    api_key: str | None = None
    run_name: str | None = None
    url: str | None = None


class RepositoryIn(Struct):
    """A GitHub repository to train from; its ``token`` is kept but never echoed back."""

    type: Literal["github"]
    name: NonEmptyStr
    owner: NonEmptyStr
    token: NonEmptyStr
    ref: str | None = None
    weight: NonNegative = 1.0


class ClassifierTargetIn(Struct):
    """One target of a classifier job: a name and its labels."""

    name: NonEmptyStr
    labels: Annotated[list[NonEmptyStr], Meta(min_length=1)]
    weight: NonNegative = 1.0
    loss_function: Literal["single_class", "multi_class"] | None = None


class FineTuningJobIn(Struct):
    """Body of ``POST /v1/fine_tuning/jobs``."""

    model: NonEmptyStr
    training_files: list[TrainingFileIn] = []
    validation_files: list[NonEmptyStr] | None = None
    hyperparameters: HyperparametersIn | None = None
    suffix: Suffix | None = None
    auto_start: bool = False
    integrations: list[IntegrationIn] | None = None
    job_type: FineTuningJobType | None = None
    invalid_sample_skip_percentage: Percentage = 0.0
    repositories: list[RepositoryIn] | None = None
    classifier_targets: list[ClassifierTargetIn] | None = None


class ModelConfigIn(Struct):
    """Forge ``model_config``."""

    architecture: Literal["dense", "mixture_of_experts"] | None = None
    base_model: NonEmptyStr | None = None
    num_experts: PositiveInt | None = None
    active_experts: PositiveInt | None = None


class ForgeHyperparametersIn(Struct):
    """Forge hyperparameters, bounded as in the spec."""

    learning_rate: NonNegative | None = None
    training_steps: TrainingSteps | None = None
    batch_size: PositiveInt | None = None
    weight_decay: NonNegative | None = None
    warmup_steps: NonNegativeInt | None = None


class TrainingJobIn(Struct):
    """Body of ``POST /forge/training/jobs``."""

    job_type: ForgeJobType
    model_config: ModelConfigIn
    dataset_ids: list[NonEmptyStr] | None = None
    hyperparameters: ForgeHyperparametersIn | None = None
    auto_start: bool = False


# --- responses -----------------------------------------------------------------------------


class ErrorOut(Struct):
    """The spec's ``Error``."""

    message: str
    type: str
    code: int


class HyperparametersOut(Struct, omit_defaults=True):
    """Fine-tuning hyperparameters as answered: defaults filled in, unset ones omitted."""

    training_steps: int | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    warmup_fraction: float | None = None
    epochs: float | None = None
    seq_len: int | None = None
    fim_ratio: float | None = None


class IntegrationOut(Struct, omit_defaults=True):
    """An integration as answered (no secret)."""

    type: str
    project: str | None = None
    name: str | None = None
    run_name: str | None = None


class MetadataOut(Struct):
    """The real service's ``metadata`` of a fine-tuning job."""

    expected_duration_seconds: int
    cost: float
    cost_currency: str
    train_tokens_per_step: int
    train_tokens: int
    data_tokens: int
    estimated_start_time: int | None


class EventOut(Struct):
    """One entry of a detailed job's ``events``."""

    name: str
    created_at: int
    data: dict[str, Any] | None


class MetricsOut(Struct):
    """Losses and accuracy of one checkpoint."""

    train_loss: float
    valid_loss: float
    valid_mean_token_accuracy: float


class CheckpointOut(Struct):
    """One entry of a detailed job's ``checkpoints``."""

    metrics: MetricsOut
    step_number: int
    created_at: int


class FineTuningJobOut(Struct, omit_defaults=True):
    """A fine-tuning job; ``events`` and ``checkpoints`` only in the detailed form."""

    id: str
    auto_start: bool
    model: str
    status: str
    job_type: str
    created_at: int
    modified_at: int
    training_files: list[str]
    hyperparameters: HyperparametersOut
    validation_files: list[str]
    integrations: list[IntegrationOut]
    object: str
    fine_tuned_model: str | UnsetType = UNSET
    suffix: str | UnsetType | None = UNSET
    trained_tokens: int | UnsetType | None = UNSET
    metadata: MetadataOut | UnsetType | None = UNSET
    events: list[EventOut] | UnsetType = UNSET
    checkpoints: list[CheckpointOut] | UnsetType = UNSET
    invalid_sample_skip_percentage: float = 0.0
    repositories: list[RepositoryOut] = []
    classifier_targets: list[ClassifierTargetOut] | UnsetType = UNSET


class RepositoryOut(Struct):
    """A repository as a job answers it: the commit it trained on, no token."""

    type: str
    name: str
    owner: str
    ref: str
    weight: float
    commit_id: str


class ClassifierTargetOut(Struct):
    """A classifier target as a job answers it."""

    name: str
    labels: list[str]
    weight: float
    loss_function: str


class ModelConfigOut(Struct, omit_defaults=True):
    """Forge ``model_config`` as answered."""

    architecture: str | None = None
    base_model: str | None = None
    num_experts: int | None = None
    active_experts: int | None = None


class ForgeHyperparametersOut(Struct, omit_defaults=True):
    """Forge hyperparameters as answered: defaults filled in."""

    learning_rate: float | None = None
    training_steps: int | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    warmup_steps: int | None = None


class TrainingJobOut(Struct, omit_defaults=True):
    """A Forge training job; ``events`` and ``checkpoints`` only in the detailed form."""

    id: str
    job_type: str
    status: str
    model_config: ModelConfigOut
    hyperparameters: ForgeHyperparametersOut
    created_at: int
    modified_at: int
    auto_start: bool
    dataset_ids: list[str]
    output_model: str | UnsetType = UNSET
    events: list[EventOut] | UnsetType = UNSET
    checkpoints: list[CheckpointOut] | UnsetType = UNSET


class FileOut(Struct, omit_defaults=True):
    """A file object; ``deleted`` only on ``GET /v1/files/{id}``."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    sample_type: str
    source: str
    num_lines: int
    object: str
    mimetype: str | None
    signature: str | None
    expires_at: int | None
    visibility: str | None
    deleted: bool | UnsetType = UNSET


class FileDeletedOut(Struct):
    """Answer of ``DELETE /v1/files/{id}``."""

    id: str
    object: str = "file"
    deleted: bool = True


encoder = msgspec.json.Encoder()
fine_tuning_job_decoder = msgspec.json.Decoder(FineTuningJobIn)
training_job_decoder = msgspec.json.Decoder(TrainingJobIn)
