"""The emulator's lifecycle engine: every job's plan of future steps, applied when due.

Nothing runs in the background: each job carries a plan drawn from its own seeded generator,
one heap orders the next step of every job, and the steps that are due on the simulated clock
are applied before every answer (``sync``). So 10,000 idle jobs cost nothing and a clock jump
is exact. The caller (the store) holds the lock.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import datetime, timezone

from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._lifecycle import CHECKPOINT, Job, Timings, plan_from
from mistral_jobs_async.emulator._models import ModelCards
from mistral_jobs_async.emulator._render import TOKENS_PER_STEP
from mistral_jobs_async.emulator._schemas import FineTuningJobIn

__all__ = ["Lifecycles", "key_fingerprint"]


def key_fingerprint(api_key: str) -> str:
    """A short, non-reversible name for an API key, safe to log."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


class Lifecycles:
    """The jobs' plans on one heap; a status change also makes or removes a job's model."""

    def __init__(
        self,
        jobs: dict[str, Job],
        *,
        clock: SimClock,
        timings: Timings,
        models: ModelCards,
        forge_hold_unstarted: bool,
    ) -> None:
        self._jobs = jobs
        self._clock = clock
        self._timings = timings
        self._models = models
        self._forge_hold_unstarted = forge_hold_unstarted
        self._heap: list[tuple[float, int, str, int]] = []
        self._tiebreak = 0

    def schedule(self, job: Job, steps: list[tuple[float, str, str]]) -> None:
        """Replace the job's plan with ``steps`` (none: the job stays where it is)."""
        job.generation += 1
        job.plan.clear()
        job.plan.extend(steps)
        self._push(job)

    def replan(self, job: Job, now: float) -> None:
        """Draw the job's plan afresh from its status at ``now``."""
        self.schedule(
            job, plan_from(job, now, self._timings, forge_hold_unstarted=self._forge_hold_unstarted)
        )

    def _push(self, job: Job) -> None:
        if job.plan:
            self._tiebreak += 1
            heapq.heappush(self._heap, (job.plan[0][0], self._tiebreak, job.id, job.generation))

    def sync(self) -> None:
        """Apply every lifecycle step that is due at the simulated time now."""
        now = self._clock.now()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, job_id, generation = heapq.heappop(heap)
            job = self._jobs.get(job_id)
            if job is None or job.generation != generation or not job.plan:
                continue
            at, kind, value = job.plan.popleft()
            if kind == CHECKPOINT:
                job.add_checkpoint(int(value), at, self._timings)
            else:
                self.set_status(job, value, at)
            self._push(job)

    def set_status(self, job: Job, status: str, at: float) -> None:
        """Every status change goes here: the result model exists exactly while SUCCESS."""
        job.set_status(status, at)
        if status == "SUCCESS":
            self._finish(job)
        else:
            if job.result_model is not None:
                self._models.remove(job.result_model)
            job.result_model = None
            job.trained_tokens = None

    def _finish(self, job: Job) -> None:
        short = job.id.split("-")[0]
        if isinstance(job.request, FineTuningJobIn):
            # As the real service names them: ft:<model>:<org>[:<suffix>]:<yyyymmdd>:<id8>.
            suffix = f":{job.request.suffix}" if job.request.suffix else ""
            day = datetime.fromtimestamp(job.created_at, tz=timezone.utc).strftime("%Y%m%d")
            job.result_model = (
                f"ft:{job.request.model}:{key_fingerprint(job.key)}{suffix}:{day}:{short}"
            )
            job.trained_tokens = job.training_steps * TOKENS_PER_STEP
            self._models.add(
                model_id=job.result_model, key=job.key, job=job.id, root=job.request.model,
                created=int(self._clock.now()), owner=key_fingerprint(job.key),
                classifier=job.request.job_type == "classifier",
            )  # fmt: skip
        else:
            base = job.request.model_config.base_model or "scratch"
            job.result_model = f"forge:{job.request.job_type}:{base}:{short}"
