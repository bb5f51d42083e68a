"""The emulator's state: organisations (one per API key) and their jobs.

The lifecycle engine (``_engine``) moves the jobs on; the store also holds the files
(``_files``) and the model cards (``_models``). Every public method takes the store's lock
(the files and the model cards take the same one), so the Python control handle may be used
from another thread than the server's (the pytest fixture runs the server in a thread).
Methods first apply the lifecycle steps that are due on the simulated clock, then answer.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from mistral_jobs_async._exceptions import EmulatorError
from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._engine import Lifecycles, key_fingerprint
from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._files import FileRecord, FileStore, data_tokens
from mistral_jobs_async.emulator._lifecycle import (
    Api,
    Job,
    JobFilter,
    JobList,
    Outcome,
    Timings,
)
from mistral_jobs_async.emulator._models import ModelCards
from mistral_jobs_async.emulator._render import render_job
from mistral_jobs_async.emulator._rules import (
    check_fine_tuning_job,
    check_forge_job,
    validation_error,
)
from mistral_jobs_async.emulator._schemas import (
    FineTuningJobIn,
    TrainingJobIn,
    encoder,
)

__all__ = ["Store", "key_fingerprint"]


@dataclass
class _Org:
    jobs: dict[Api, JobList] = field(
        default_factory=lambda: {"fine_tuning": JobList(), "forge": JobList()}
    )


_S = TypeVar("_S", bound=msgspec.Struct)


class Store:
    """All organisations, jobs and files of one emulator, plus the lifecycle clock work."""

    def __init__(
        self,
        clock: SimClock,
        *,
        seed: int | None,
        timings: Timings,
        failure_rate: float,
        forge_hold_unstarted: bool,
        fine_tunable_models: Mapping[str, int] | None = None,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise EmulatorError("failure_rate must be within 0..1")
        self.clock = clock
        self.timings = timings
        self.failure_rate = failure_rate
        self.forge_hold_unstarted = forge_hold_unstarted
        self.lock = threading.RLock()
        self._seed = seed
        self.files = FileStore(self.lock, clock, self._new_id)
        self.models = ModelCards(
            self.lock, self.sync, None if fine_tunable_models is None else dict(fine_tunable_models)
        )
        self._init()

    def _init(self) -> None:
        self._rng = random.Random(self._seed)
        self._orgs: dict[str, _Org] = {}
        self._jobs: dict[str, Job] = {}
        self._life = Lifecycles(
            self._jobs, clock=self.clock, timings=self.timings, models=self.models,
            forge_hold_unstarted=self.forge_hold_unstarted,
        )  # fmt: skip

    def reset(self) -> None:
        """Forget every organisation, job and file; restart the id generator from the seed."""
        with self.lock:
            self._init()
            self.files.reset()
            self.models.reset()

    # --- the lifecycle engine (_engine.py) ----------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def sync(self) -> None:
        """Apply every lifecycle step that is due at the simulated time now."""
        self._life.sync()

    # --- organisations -------------------------------------------------------------------------

    def _org(self, key: str) -> _Org:
        org = self._orgs.get(key)
        if org is None:
            org = self._orgs[key] = _Org()
        return org

    def _job(self, key: str, api: Api, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.key != key or job.api != api:
            raise ApiError(404, f"Job {job_id} not found")
        return job

    # --- jobs ----------------------------------------------------------------------------------

    def create_fine_tuning(self, key: str, request: FineTuningJobIn) -> bytes:
        """Validate the references of a decoded create request and store the new job."""
        with self.lock:
            self.sync()
            self._org(key)
            self.models.check_fine_tunable(request.model)
            check_fine_tuning_job(request)
            files: list[FileRecord] = []
            for index, entry in enumerate(request.training_files):
                files.append(self._file_ref(key, entry.file_id, f"training_files[{index}].file_id"))
            for index, file_id in enumerate(request.validation_files or []):
                files.append(self._file_ref(key, file_id, f"validation_files[{index}]"))
            hyper = request.hyperparameters
            steps = (hyper.training_steps if hyper else None) or self.timings.fine_tuning_steps
            job = self._new_job(
                "fine_tuning",
                key,
                request,
                steps,
                validation_error=validation_error(request, files),
                data_tokens=data_tokens(files[: len(request.training_files)], request.model),
            )
            return self._summary(job)

    def create_forge(self, key: str, request: TrainingJobIn) -> bytes:
        """Check the Forge rules the spec's descriptions state and store the new job."""
        check_forge_job(request)
        hyper = request.hyperparameters
        steps = (hyper.training_steps if hyper else None) or self.timings.forge_steps
        with self.lock:
            self.sync()
            self._org(key)
            job = self._new_job("forge", key, request, steps, validation_error=None, data_tokens=0)
            return self._summary(job)

    def _file_ref(self, key: str, file_id: str, where: str) -> FileRecord:
        record = self.files.find(key, file_id)
        if record is None:
            raise ApiError(400, f"{where}: file {file_id} does not exist")
        return record

    def _new_job(
        self,
        api: Api,
        key: str,
        request: FineTuningJobIn | TrainingJobIn,
        training_steps: int,
        *,
        validation_error: str | None,
        data_tokens: int,
    ) -> Job:
        job_id = self._new_id()
        rng = random.Random(f"{self._seed}:{job_id}")
        outcome: Outcome = "success"
        if validation_error:
            outcome = "failed_validation"
        elif rng.random() < self.failure_rate:
            outcome = "failed"
        job = Job(
            api=api,
            job_id=job_id,
            key=key,
            created_at=self.clock.now(),
            request=request,
            training_steps=training_steps,
            rng=rng,
            outcome=outcome,
            validation_error=validation_error,
            data_tokens=data_tokens,
        )
        self._jobs[job_id] = job
        self._orgs[key].jobs[api].append(job)
        self._life.replan(job, job.created_at)
        return job

    def list_jobs(
        self, key: str, api: Api, page: int, page_size: int, where: JobFilter | None = None
    ) -> bytes:
        """One page of the organisation's jobs, newest first, with the total that match.

        Newest first keeps a sweep over the pages safe while jobs are created: a new job moves
        the others towards later pages, so a job can be seen twice but is never skipped.
        """
        where = where or JobFilter()
        with self.lock:
            self.sync()
            listing = self._org(key).jobs[api]
            jobs = listing.jobs
            first = page * page_size
            if where.is_empty():
                total = len(jobs)
                top = total - first
                chosen = jobs[max(0, top - page_size) : max(0, top)][::-1]
            elif where.status_only():
                assert where.status is not None
                total, chosen = listing.newest_with_status(where.status, first, page_size)
            else:
                matching = [job for job in reversed(jobs) if where.matches(job)]
                total = len(matching)
                chosen = matching[first : first + page_size]
            data = b",".join(self._summary(job) for job in chosen)
            return b'{"object":"list","data":[%b],"total":%d}' % (data, total)

    def get_job(self, key: str, api: Api, job_id: str) -> bytes:
        """The detailed job (with events and checkpoints)."""
        with self.lock:
            self.sync()
            return self._detailed(self._job(key, api, job_id))

    def start(self, key: str, job_id: str) -> bytes:
        """Start a fine-tuning job that waits in VALIDATED."""
        with self.lock:
            self.sync()
            job = self._job(key, "fine_tuning", job_id)
            if job.status != "VALIDATED":
                raise ApiError(
                    409, f"Job {job_id} is {job.status}: only a VALIDATED job can be started"
                )
            now = self.clock.now()
            self._life.set_status(job, "STARTED", now)
            self._life.replan(job, now)
            return self._detailed(job)

    def cancel(self, key: str, api: Api, job_id: str) -> bytes:
        """Request cancellation; a job that already ended cannot be cancelled."""
        with self.lock:
            self.sync()
            job = self._job(key, api, job_id)
            if job.terminal:
                raise ApiError(409, f"Job {job_id} is {job.status} and cannot be cancelled")
            if job.status != "CANCELLATION_REQUESTED":
                now = self.clock.now()
                cancelling = "CANCELLATION_REQUESTED" if api == "fine_tuning" else "CANCELLED"
                self._life.set_status(job, cancelling, now)
                self._life.replan(job, now)
            return self._detailed(job)

    # --- rendering -----------------------------------------------------------------------------

    def _summary(self, job: Job) -> bytes:
        if job.summary_cache is None:
            job.summary_cache = encoder.encode(render_job(job, self.timings, detailed=False))
        return job.summary_cache

    def _detailed(self, job: Job) -> bytes:
        return encoder.encode(render_job(job, self.timings, detailed=True))

    # --- control -------------------------------------------------------------------------------

    def force_status(self, job_id: str, status: str, *, hold: bool = False) -> None:
        """Put a job in ``status`` now; its lifecycle goes on from there unless ``hold``."""
        with self.lock:
            self.sync()
            job = self._any_job(job_id)
            now = self.clock.now()
            self._life.set_status(job, status, now)
            if hold:
                self._life.schedule(job, [])
            else:
                self._life.replan(job, now)

    def delete_job(self, job_id: str) -> None:
        """Make a job vanish, as if the service had lost it: it answers 404 from now on."""
        with self.lock:
            job = self._any_job(job_id)
            del self._jobs[job_id]
            self._orgs[job.key].jobs[job.api].remove(job)

    def job_snapshot(self, job_id: str) -> dict[str, Any]:
        """The detailed job as a dict, whatever key owns it."""
        with self.lock:
            self.sync()
            job = self._any_job(job_id)
            result: dict[str, Any] = msgspec.json.decode(self._detailed(job))
            return result

    def job_ids(self, api_key: str | None = None) -> list[str]:
        """Ids of every job (of one key if given), oldest first."""
        with self.lock:
            return [job.id for job in self._jobs.values() if api_key is None or job.key == api_key]

    def _any_job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id} in this emulator")
        return job
