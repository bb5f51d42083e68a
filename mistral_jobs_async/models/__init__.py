"""msgspec models of the Fine-Tuning, Forge, Files and Models APIs, and the status constants.

``CreateFineTuningJobRequest`` and ``CreateTrainingJobRequest`` are the create bodies with the
spec's bounds: the client checks parameters against them before it sends anything.

Every answer model is forward compatible: unknown fields are ignored, any status or job type
string decodes and is kept as is (an unknown one is never mistaken for a known one), and
fields the real service sends as null or leaves out are optional.
"""

from __future__ import annotations

from mistral_jobs_async.models._common import (
    Checkpoint,
    CheckpointMetrics,
    Error,
    Event,
    JobBase,
    ListAnswer,
    Page,
)
from mistral_jobs_async.models.files import DeletedFile, File, FileList
from mistral_jobs_async.models.fine_tuning import (
    FINE_TUNING_STATUSES,
    FINE_TUNING_TERMINAL,
    ClassifierTarget,
    FineTuningJob,
    FineTuningJobList,
    FineTuningStatus,
    GithubRepository,
    Hyperparameters,
    JobEstimate,
    JobMetadata,
    TrainingFile,
    WandbIntegration,
)
from mistral_jobs_async.models.forge import (
    FORGE_JOB_TYPES,
    FORGE_STATUSES,
    FORGE_TERMINAL,
    ForgeHyperparameters,
    ForgeJob,
    ForgeJobList,
    ForgeModelConfig,
    ForgeStatus,
    ModelConfig,
    TrainingJob,
    TrainingJobList,
)
from mistral_jobs_async.models.model_cards import (
    ArchivedModel,
    DeletedModel,
    ModelCapabilities,
    ModelCard,
    ModelCardList,
)
from mistral_jobs_async.models.requests import (
    CreateFineTuningJobRequest,
    CreateForgeJobRequest,
    CreateTrainingJobRequest,
)

__all__ = [
    "FINE_TUNING_STATUSES",
    "FINE_TUNING_TERMINAL",
    "FORGE_JOB_TYPES",
    "FORGE_STATUSES",
    "FORGE_TERMINAL",
    "ArchivedModel",
    "Checkpoint",
    "CheckpointMetrics",
    "ClassifierTarget",
    "CreateFineTuningJobRequest",
    "CreateForgeJobRequest",
    "CreateTrainingJobRequest",
    "DeletedFile",
    "DeletedModel",
    "Error",
    "Event",
    "File",
    "FileList",
    "FineTuningJob",
    "FineTuningJobList",
    "FineTuningStatus",
    "ForgeHyperparameters",
    "ForgeJob",
    "ForgeJobList",
    "ForgeModelConfig",
    "ForgeStatus",
    "GithubRepository",
    "Hyperparameters",
    "JobBase",
    "JobEstimate",
    "JobMetadata",
    "ListAnswer",
    "ModelCapabilities",
    "ModelCard",
    "ModelCardList",
    "ModelConfig",
    "Page",
    "TrainingFile",
    "TrainingJob",
    "TrainingJobList",
    "WandbIntegration",
]
