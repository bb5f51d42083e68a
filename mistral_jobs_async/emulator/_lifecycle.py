"""Job lifecycles: what status comes next, and when, on the simulated clock.

A job carries a *plan*: the future steps (status changes and checkpoints) with their simulated
times, drawn once from the job's own seeded random generator. Nothing runs in the background:
the store applies every step that is due before it answers a request, so 10,000 idle jobs cost
nothing and a jump of the clock is exact. ``start``, ``cancel`` and a forced status replace the
plan with a new one drawn from the status the job is in.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from dataclasses import dataclass, replace
from typing import Literal

from mistral_jobs_async.emulator._landscape import losses
from mistral_jobs_async.emulator._schemas import (
    CheckpointOut,
    EventOut,
    FineTuningJobIn,
    MetricsOut,
    TrainingJobIn,
)

__all__ = [
    "FINE_TUNING_TERMINAL",
    "FORGE_TERMINAL",
    "Api",
    "Job",
    "JobFilter",
    "JobList",
    "Timings",
    "plan_from",
]

Api = Literal["fine_tuning", "forge"]
Outcome = Literal["success", "failed", "failed_validation"]

FINE_TUNING_TERMINAL = frozenset({"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"})
FORGE_TERMINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED"})

STATUS = "status"
CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class Timings:
    """How long each phase lasts, in simulated seconds (ranges are drawn uniformly).

    Durations are compressed compared with the real service: with the defaults a 100-step
    fine-tuning job goes from QUEUED to SUCCESS in about a simulated minute.
    """

    queued: tuple[float, float] = (2.0, 6.0)
    validating: tuple[float, float] = (3.0, 8.0)
    starting: tuple[float, float] = (1.0, 3.0)
    seconds_per_step: float = 0.5
    min_running: float = 5.0
    cancelling: tuple[float, float] = (1.0, 3.0)
    checkpoints: int = 10
    fine_tuning_steps: int = 100
    forge_steps: int = 200


class Job:
    """One job of either API, as the store keeps it (mutable, guarded by the store's lock)."""

    __slots__ = (
        "api",
        "auto_start",
        "checkpoints",
        "created_at",
        "data_tokens",
        "events",
        "fail_fraction",
        "generation",
        "id",
        "index",
        "key",
        "listing",
        "modified_at",
        "outcome",
        "plan",
        "request",
        "result_model",
        "rng",
        "status",
        "summary_cache",
        "trained_tokens",
        "training_steps",
        "validation_error",
    )

    def __init__(
        self,
        *,
        api: Api,
        job_id: str,
        key: str,
        created_at: float,
        request: FineTuningJobIn | TrainingJobIn,
        training_steps: int,
        rng: random.Random,
        outcome: Outcome,
        validation_error: str | None,
        data_tokens: int,
    ) -> None:
        self.api: Api = api
        self.id = job_id
        self.key = key
        self.request = request
        self.auto_start = request.auto_start
        self.created_at = created_at
        self.modified_at = int(created_at)
        self.status = "QUEUED"
        self.training_steps = training_steps
        self.rng = rng
        self.outcome: Outcome = outcome
        self.validation_error = validation_error
        self.fail_fraction = rng.uniform(0.1, 0.9)
        # Drawn to keep each job's sequence of draws (its durations) as it was; the losses
        # come from the landscape (``_landscape``).
        rng.uniform(1.6, 2.6)
        rng.uniform(0.25, 0.7)
        self.data_tokens = data_tokens
        self.events: list[EventOut] = [
            EventOut(name="status-updated", created_at=int(created_at), data={"status": "QUEUED"})
        ]
        self.checkpoints: list[CheckpointOut] = []
        self.plan: deque[tuple[float, str, str]] = deque()
        self.generation = 0
        self.result_model: str | None = None
        self.trained_tokens: int | None = None
        self.summary_cache: bytes | None = None
        self.listing: JobList | None = None
        self.index = -1

    @property
    def terminal(self) -> bool:
        """Whether the job is in its API's terminal set."""
        done = FINE_TUNING_TERMINAL if self.api == "fine_tuning" else FORGE_TERMINAL
        return self.status in done

    def set_status(self, status: str, at: float) -> None:
        """Record a status change at simulated time ``at``; ``modified_at`` always moves."""
        self.status = status
        if self.listing is not None:
            self.listing.move(self, status)
        self.modified_at = max(int(at), self.modified_at + 1)
        data: dict[str, object] = {"status": status}
        if status == "FAILED_VALIDATION" and self.validation_error:
            data["error"] = self.validation_error
        self.events.append(EventOut(name="status-updated", created_at=self.modified_at, data=data))
        self.summary_cache = None

    def add_checkpoint(self, index: int, at: float, timings: Timings) -> None:
        """Append checkpoint ``index`` (1-based): losses from the hyperparameters' landscape."""
        fraction = index / timings.checkpoints
        step = max(1, round(self.training_steps * fraction))
        train, valid = losses(self.request, step, f"{self.id}:{index}")
        accuracy = 0.5 + 0.45 * (1.0 - math.exp(-3.0 * fraction))
        self.checkpoints.append(
            CheckpointOut(
                metrics=MetricsOut(
                    train_loss=round(train, 6),
                    valid_loss=round(valid, 6),
                    valid_mean_token_accuracy=round(accuracy, 6),
                ),
                step_number=step,
                created_at=int(at),
            )
        )


class JobList:
    """One organisation's jobs of one API, oldest first, with their statuses side by side.

    The parallel ``statuses`` list and the per-status counts let a status filter answer a
    page of 10,000 jobs without visiting every job object.
    """

    __slots__ = ("counts", "jobs", "statuses")

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.statuses: list[str] = []
        self.counts: Counter[str] = Counter()

    def append(self, job: Job) -> None:
        """Add a new (newest) job."""
        job.listing = self
        job.index = len(self.jobs)
        self.jobs.append(job)
        self.statuses.append(job.status)
        self.counts[job.status] += 1

    def move(self, job: Job, status: str) -> None:
        """Record that ``job`` changed to ``status``."""
        self.counts[self.statuses[job.index]] -= 1
        self.counts[status] += 1
        self.statuses[job.index] = status

    def remove(self, job: Job) -> None:
        """Remove a job (rare: a test made it vanish) and renumber the rest."""
        self.counts[job.status] -= 1
        del self.jobs[job.index]
        del self.statuses[job.index]
        for index in range(job.index, len(self.jobs)):
            self.jobs[index].index = index
        job.listing = None

    def newest_with_status(self, status: str, first: int, size: int) -> tuple[int, list[Job]]:
        """Total of jobs in ``status`` and the page of them that starts at ``first``."""
        statuses = self.statuses
        total = self.counts[status]
        chosen: list[Job] = []
        if first >= total:
            return total, chosen
        skipped = 0
        for index in range(len(statuses) - 1, -1, -1):
            if statuses[index] != status:
                continue
            if skipped < first:
                skipped += 1
                continue
            chosen.append(self.jobs[index])
            if len(chosen) == size:
                break
        return total, chosen


def _draw(rng: random.Random, span: tuple[float, float]) -> float:
    return max(1.0, rng.uniform(*span))


def _training(job: Job, t: float, timings: Timings) -> list[tuple[float, str, str]]:
    """Checkpoints and the final status of a job that is RUNNING from ``t`` on."""
    total = max(timings.min_running, job.training_steps * timings.seconds_per_step)
    n = timings.checkpoints
    done = len(job.checkpoints)
    progress = done / n if n else 0.0
    end = 1.0
    final = "SUCCESS"
    if job.outcome == "failed":
        end = max(job.fail_fraction, progress + 1.0 / max(n, 1))
        final = "FAILED"
    steps: list[tuple[float, str, str]] = []
    for index in range(done + 1, n + 1):
        if index / n > end:
            break
        steps.append((t + total * (index / n - progress), CHECKPOINT, str(index)))
    steps.append((t + max(1.0, total * (end - progress)), STATUS, final))
    return steps


def plan_from(
    job: Job, t: float, timings: Timings, *, forge_hold_unstarted: bool
) -> list[tuple[float, str, str]]:
    """Draw the steps that follow the job's current status, starting at simulated time ``t``.

    Fine-tuning: QUEUED → VALIDATING → VALIDATED (or FAILED_VALIDATION) → STARTED → RUNNING →
    SUCCESS or FAILED; VALIDATED is a parking spot for ``auto_start=false`` until ``start``.
    Forge: QUEUED → VALIDATING → RUNNING → SUCCESS or FAILED. A status the emulator does not
    know (forced by a test) has no plan: the job stays in it.
    """
    rng = job.rng
    status = job.status
    steps: list[tuple[float, str, str]] = []
    if status == "CANCELLATION_REQUESTED":
        return [(t + _draw(rng, timings.cancelling), STATUS, "CANCELLED")]
    if job.api == "forge":
        if status == "QUEUED":
            if forge_hold_unstarted and not job.auto_start:
                return steps
            t += _draw(rng, timings.queued)
            steps.append((t, STATUS, "VALIDATING"))
            status = "VALIDATING"
        if status == "VALIDATING":
            t += _draw(rng, timings.validating)
            steps.append((t, STATUS, "RUNNING"))
            status = "RUNNING"
        if status == "RUNNING":
            steps.extend(_training(job, t, timings))
        return steps
    if status == "QUEUED":
        t += _draw(rng, timings.queued)
        steps.append((t, STATUS, "VALIDATING"))
        status = "VALIDATING"
    if status == "VALIDATING":
        t += _draw(rng, timings.validating)
        if job.outcome == "failed_validation":
            steps.append((t, STATUS, "FAILED_VALIDATION"))
            return steps
        steps.append((t, STATUS, "VALIDATED"))
        status = "VALIDATED"
    if status == "VALIDATED":
        if not job.auto_start:
            return steps
        t += _draw(rng, (1.0, 2.0))
        steps.append((t, STATUS, "STARTED"))
        status = "STARTED"
    if status == "STARTED":
        t += _draw(rng, timings.starting)
        steps.append((t, STATUS, "RUNNING"))
        status = "RUNNING"
    if status == "RUNNING":
        steps.extend(_training(job, t, timings))
    return steps


@dataclass(frozen=True)
class JobFilter:
    """The list filters of the real fine-tuning API (all optional, combined with AND)."""

    model: str | None = None
    status: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    suffix: str | None = None
    wandb_project: str | None = None
    wandb_name: str | None = None

    def is_empty(self) -> bool:
        """Whether no filter is set."""
        return self == _NO_FILTER

    def status_only(self) -> bool:
        """Whether the status is the only filter set."""
        return self.status is not None and replace(self, status=None) == _NO_FILTER

    def matches(self, job: Job) -> bool:
        """Whether ``job`` passes every filter set (``created_*`` bounds are inclusive)."""
        if self.status is not None and job.status != self.status:
            return False
        # Compare what clients see: created_at in whole seconds.
        if self.created_after is not None and int(job.created_at) < self.created_after:
            return False
        if self.created_before is not None and int(job.created_at) > self.created_before:
            return False
        request = job.request
        if self.model is not None and getattr(request, "model", None) != self.model:
            return False
        if not isinstance(request, FineTuningJobIn):
            return self.suffix is None and self.wandb_project is None and self.wandb_name is None
        if self.suffix is not None and request.suffix != self.suffix:
            return False
        integrations = request.integrations or []
        if self.wandb_project is not None and all(
            i.project != self.wandb_project for i in integrations
        ):
            return False
        return self.wandb_name is None or any(i.name == self.wandb_name for i in integrations)


_NO_FILTER = JobFilter()
