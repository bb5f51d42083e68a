"""Jobs as the API answers them: the fine-tuning and Forge job objects, with their defaults.

The store keeps what was asked (the create request) and what happened (status, events,
checkpoints); this module turns both into the answer's shape.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import msgspec

from mistral_jobs_async.emulator._landscape import BEST_BATCH_SIZE, BEST_LEARNING_RATE
from mistral_jobs_async.emulator._lifecycle import Job, Timings
from mistral_jobs_async.emulator._schemas import (
    ClassifierTargetOut,
    FineTuningJobIn,
    FineTuningJobOut,
    ForgeHyperparametersOut,
    HyperparametersOut,
    IntegrationOut,
    MetadataOut,
    ModelConfigOut,
    RepositoryIn,
    RepositoryOut,
    TrainingJobIn,
    TrainingJobOut,
)

__all__ = ["TOKENS_PER_STEP", "render_job"]

_S = TypeVar("_S", bound=msgspec.Struct)

# A job without hyperparameters gets each API's defaults, which are the loss landscape's best
# (one source: a sweep around the defaults finds them).
_DEFAULT_HYPER = HyperparametersOut(
    learning_rate=BEST_LEARNING_RATE["fine_tuning"], weight_decay=0.1, warmup_fraction=0.05
)
_DEFAULT_FORGE_HYPER = ForgeHyperparametersOut(
    learning_rate=BEST_LEARNING_RATE["forge"], batch_size=BEST_BATCH_SIZE, weight_decay=0.1,
    warmup_steps=10,
)  # fmt: skip
TOKENS_PER_STEP = 131_072
_PRICE_PER_MILLION_TOKENS = 1.0


def _merge(defaults: _S, given: msgspec.Struct | None, **fixed: Any) -> _S:
    """``defaults`` overridden by the non-null fields of ``given``, then by ``fixed``."""
    values = (
        {k: v for k, v in msgspec.structs.asdict(given).items() if v is not None} if given else {}
    )
    values.update(fixed)
    return msgspec.structs.replace(defaults, **values)


def render_job(job: Job, timings: Timings, *, detailed: bool) -> FineTuningJobOut | TrainingJobOut:
    """A job as the API answers it (``events`` and ``checkpoints`` only when ``detailed``)."""
    request = job.request
    out: FineTuningJobOut | TrainingJobOut
    if isinstance(request, TrainingJobIn):
        given = request.hyperparameters
        forge_hyper = _merge(_DEFAULT_FORGE_HYPER, given, training_steps=job.training_steps)
        config = request.model_config
        out = TrainingJobOut(
            id=job.id,
            job_type=request.job_type,
            status=job.status,
            model_config=ModelConfigOut(
                architecture=config.architecture or "dense",
                base_model=config.base_model,
                num_experts=config.num_experts,
                active_experts=config.active_experts,
            ),
            hyperparameters=forge_hyper,
            created_at=int(job.created_at),
            modified_at=job.modified_at,
            auto_start=job.auto_start,
            dataset_ids=list(request.dataset_ids or []),
        )
    else:
        given_ft = request.hyperparameters
        hyper = _merge(_DEFAULT_HYPER, given_ft, training_steps=job.training_steps)
        train_tokens = job.training_steps * TOKENS_PER_STEP
        duration = max(timings.min_running, job.training_steps * timings.seconds_per_step)
        out = FineTuningJobOut(
            id=job.id,
            auto_start=job.auto_start,
            model=request.model,
            status=job.status,
            job_type=request.job_type or "completion",
            created_at=int(job.created_at),
            modified_at=job.modified_at,
            training_files=[f.file_id for f in request.training_files],
            hyperparameters=hyper,
            validation_files=list(request.validation_files or []),
            integrations=[
                IntegrationOut(type=i.type, project=i.project, name=i.name, run_name=i.run_name)
                for i in request.integrations or []
            ],
            object="job",
            suffix=request.suffix,
            trained_tokens=job.trained_tokens,
            invalid_sample_skip_percentage=request.invalid_sample_skip_percentage,
            repositories=[_repository(r) for r in request.repositories or []],
            classifier_targets=_targets(request),
            metadata=MetadataOut(
                expected_duration_seconds=int(duration),
                cost=round(train_tokens / 1e6 * _PRICE_PER_MILLION_TOKENS, 4),
                cost_currency="USD",
                train_tokens_per_step=TOKENS_PER_STEP,
                train_tokens=train_tokens,
                data_tokens=job.data_tokens,
                estimated_start_time=None,
            ),
        )
    if job.result_model is not None:
        if isinstance(out, FineTuningJobOut):
            out.fine_tuned_model = job.result_model
        else:
            out.output_model = job.result_model
    if detailed:
        out.events = list(job.events)
        out.checkpoints = list(job.checkpoints)
    return out


def _repository(given: RepositoryIn) -> RepositoryOut:
    """A repository as a job shows it: its ref and commit, never its token.

    The ref is ``main`` unless given; the emulator's commit is a digest of owner, name and ref.
    """
    ref = given.ref or "main"
    commit = hashlib.sha1(f"{given.owner}/{given.name}@{ref}".encode()).hexdigest()  # noqa: S324
    return RepositoryOut(
        type=given.type, name=given.name, owner=given.owner, ref=ref, weight=given.weight,
        commit_id=commit,
    )  # fmt: skip


def _targets(request: FineTuningJobIn) -> list[ClassifierTargetOut] | Any:
    """A classifier job's targets (single_class unless given); absent on other jobs."""
    if request.job_type != "classifier":
        return msgspec.UNSET
    return [
        ClassifierTargetOut(
            name=t.name, labels=list(t.labels), weight=t.weight,
            loss_function=t.loss_function or "single_class",
        )
        for t in request.classifier_targets or []
    ]  # fmt: skip
