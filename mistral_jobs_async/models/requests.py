"""The create request bodies, made of the public request models and their bounds.

``client.fine_tuning.jobs.create`` and ``client.forge.jobs.create`` check their parameters
against these before anything is sent: a bad one is an ``InvalidRequestError`` naming the
field, not a request (and a rate-limit token) spent to learn the same from a 400. A field
that is not in the model is refused too (a misspelt hyperparameter would otherwise vanish).
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from mistral_jobs_async._exceptions import InvalidRequestError
from mistral_jobs_async.models._bounds import NonEmpty, Percentage, Suffix
from mistral_jobs_async.models.fine_tuning import (
    ClassifierTarget,
    GithubRepository,
    Hyperparameters,
    TrainingFile,
    WandbIntegration,
)
from mistral_jobs_async.models.forge import ForgeHyperparameters, ForgeModelConfig

__all__ = ["CreateFineTuningJobRequest", "CreateForgeJobRequest", "CreateTrainingJobRequest"]

_ARCHITECTURES = ("dense", "mixture_of_experts")
_LOSS_FUNCTIONS = ("single_class", "multi_class")


class CreateFineTuningJobRequest(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Body of a fine-tuning create, bounded as in the spec and the service's notes."""

    model: NonEmpty
    training_files: list[TrainingFile]  # always sent, [] for a job on repositories alone
    validation_files: list[NonEmpty] | None = None
    hyperparameters: Hyperparameters | None = None
    suffix: Suffix | None = None
    auto_start: bool | None = None
    integrations: list[WandbIntegration] | None = None
    job_type: str | None = None
    invalid_sample_skip_percentage: Percentage | None = None
    repositories: list[GithubRepository] | None = None
    classifier_targets: list[ClassifierTarget] | None = None

    def __post_init__(self) -> None:
        if not self.training_files and not self.repositories:
            raise InvalidRequestError(
                "training_files", "give at least one training file or repository"
            )
        for index, integration in enumerate(self.integrations or []):
            if integration.type != "wandb":
                raise InvalidRequestError(
                    f"integrations[{index}].type", f"must be 'wandb', not {integration.type!r}"
                )
        for index, repository in enumerate(self.repositories or []):
            where = f"repositories[{index}]"
            if repository.type != "github":
                raise InvalidRequestError(
                    f"{where}.type", f"must be 'github', not {repository.type!r}"
                )
            if not repository.token:
                raise InvalidRequestError(f"{where}.token", "a GitHub token is required")
            if repository.commit_id is not None:
                raise InvalidRequestError(f"{where}.commit_id", "is the service's to set")
        classifier = self.job_type == "classifier"
        if classifier and not self.classifier_targets:
            raise InvalidRequestError("classifier_targets", "a classifier job needs at least one")
        if self.classifier_targets and not classifier:
            raise InvalidRequestError(
                "classifier_targets", "only a job_type='classifier' job takes them"
            )
        for index, target in enumerate(self.classifier_targets or []):
            if target.loss_function not in (None, *_LOSS_FUNCTIONS):
                raise InvalidRequestError(
                    f"classifier_targets[{index}].loss_function",
                    f"must be one of {', '.join(_LOSS_FUNCTIONS)}, not {target.loss_function!r}",
                )


class CreateForgeJobRequest(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Body of a Forge create, bounded as in the spec (plus the rules its text states)."""

    job_type: Literal[
        "pre_training", "supervised_fine_tuning", "dpo", "odpo", "reinforcement_learning"
    ]
    model_config: ForgeModelConfig
    dataset_ids: list[NonEmpty] | None = None
    hyperparameters: ForgeHyperparameters | None = None
    auto_start: bool | None = None

    def __post_init__(self) -> None:
        config = self.model_config
        if config.architecture not in (None, *_ARCHITECTURES):
            raise InvalidRequestError(
                "model_config.architecture",
                f"must be one of {', '.join(_ARCHITECTURES)}, not {config.architecture!r}",
            )
        if self.job_type != "pre_training" and not config.base_model:
            raise InvalidRequestError(
                "model_config.base_model", f"is required for job_type {self.job_type!r}"
            )
        moe = config.architecture == "mixture_of_experts"
        for name in ("num_experts", "active_experts"):
            if getattr(config, name) is not None and not moe:
                raise InvalidRequestError(
                    f"model_config.{name}", "needs architecture='mixture_of_experts'"
                )
        if config.active_experts is not None and (
            config.num_experts is None or config.active_experts > config.num_experts
        ):
            raise InvalidRequestError(
                "model_config.active_experts",
                f"({config.active_experts}) cannot exceed num_experts ({config.num_experts})",
            )


#: The name before the Forge prefix, kept for one release (0.2 removes it).
CreateTrainingJobRequest = CreateForgeJobRequest
