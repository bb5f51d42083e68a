"""What the emulated service checks in a create: the 400s, and what fails validation later.

The rules the spec's descriptions and the project's spec notes state; where they are silent,
the emulator's own choices are listed in ``docs/emulator.md``.
"""

from __future__ import annotations

import uuid

from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._files import FileRecord
from mistral_jobs_async.emulator._schemas import FineTuningJobIn, TrainingJobIn

__all__ = ["check_fine_tuning_job", "check_forge_job", "validation_error"]


def check_fine_tuning_job(request: FineTuningJobIn) -> None:
    """The rules of a create's options that the service answers with a 400."""
    if not request.training_files and not request.repositories:
        raise ApiError(400, "training_files: at least one training file or repository is required")
    classifier = request.job_type == "classifier"
    if classifier and not request.classifier_targets:
        raise ApiError(400, "classifier_targets: a classifier job needs at least one target")
    if not classifier and request.classifier_targets:
        raise ApiError(400, "classifier_targets: only a job_type 'classifier' job takes them")


def validation_error(request: FineTuningJobIn, files: list[FileRecord]) -> str | None:
    """Why the job will fail validation (the first file that makes it fail), if it will."""
    wanted = "classifier" if request.job_type == "classifier" else "instruct"
    skip = request.invalid_sample_skip_percentage
    for record in files:
        error = record.validation_error(skip)
        if error is not None:
            return error
        if record.sample_type != wanted:
            return (
                f"{record.filename}: holds {record.sample_type} samples, not the {wanted} "
                f"samples a {request.job_type or 'completion'} job trains on"
            )
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_forge_job(request: TrainingJobIn) -> None:
    """The Forge rules the spec's descriptions state (a 400 for the first one broken)."""
    config = request.model_config
    if request.job_type != "pre_training" and not config.base_model:
        raise ApiError(400, f"model_config.base_model is required for {request.job_type}")
    moe = config.architecture == "mixture_of_experts"
    for name in ("num_experts", "active_experts"):
        if getattr(config, name) is not None and not moe:
            raise ApiError(400, f"model_config.{name} requires architecture 'mixture_of_experts'")
    if config.active_experts is not None:
        if config.num_experts is None:
            raise ApiError(400, "model_config.active_experts requires num_experts")
        if config.active_experts > config.num_experts:
            raise ApiError(
                400,
                "model_config.active_experts "
                f"({config.active_experts}) cannot exceed num_experts ({config.num_experts})",
            )
    for index, dataset_id in enumerate(request.dataset_ids or []):
        if not _is_uuid(dataset_id):
            raise ApiError(400, f"dataset_ids[{index}]: {dataset_id!r} is not a UUID")
