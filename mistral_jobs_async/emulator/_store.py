"""The emulator's state: organisations (one per API key), their jobs and files.

Every public method takes the store's lock, so the Python control handle may be used from
another thread than the server's (the pytest fixture runs the server in a thread). Methods
first apply the lifecycle steps that are due on the simulated clock, then answer.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from mistral_jobs_async._exceptions import EmulatorError
from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._files import (
    FileFilter,
    FileRecord,
    FileStore,
    count_tokens,
    tokenizer_of,
)
from mistral_jobs_async.emulator._lifecycle import (
    CHECKPOINT,
    Api,
    Job,
    JobList,
    Outcome,
    Timings,
    plan_from,
)
from mistral_jobs_async.emulator._models import ModelCards, ModelUpdateIn
from mistral_jobs_async.emulator._render import TOKENS_PER_STEP, render_job
from mistral_jobs_async.emulator._schemas import (
    FineTuningJobIn,
    TrainingJobIn,
    encoder,
)

__all__ = ["JobFilter", "Store", "key_fingerprint"]


def key_fingerprint(api_key: str) -> str:
    """A short, non-reversible name for an API key, safe to log."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


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


@dataclass
class _Org:
    jobs: dict[Api, JobList] = field(
        default_factory=lambda: {"fine_tuning": JobList(), "forge": JobList()}
    )


def _check_job_options(request: FineTuningJobIn) -> None:
    """The rules of a create's options that the service answers with a 400."""
    if not request.training_files and not request.repositories:
        raise ApiError(400, "training_files: at least one training file or repository is required")
    classifier = request.job_type == "classifier"
    if classifier and not request.classifier_targets:
        raise ApiError(400, "classifier_targets: a classifier job needs at least one target")
    if not classifier and request.classifier_targets:
        raise ApiError(400, "classifier_targets: only a job_type 'classifier' job takes them")


def _validation_error(request: FineTuningJobIn, files: list[FileRecord]) -> str | None:
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
        self.files = FileStore()
        self.models = ModelCards(None if fine_tunable_models is None else dict(fine_tunable_models))
        self._init()

    def _init(self) -> None:
        self._rng = random.Random(self._seed)
        self._orgs: dict[str, _Org] = {}
        self._jobs: dict[str, Job] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._tiebreak = 0

    def reset(self) -> None:
        """Forget every organisation, job and file; restart the id generator from the seed."""
        with self.lock:
            self._init()
            self.files.reset()
            self.models.reset()

    # --- the lifecycle engine ------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _schedule(self, job: Job, steps: list[tuple[float, str, str]]) -> None:
        job.generation += 1
        job.plan.clear()
        job.plan.extend(steps)
        self._push(job)

    def _push(self, job: Job) -> None:
        if job.plan:
            self._tiebreak += 1
            heapq.heappush(self._heap, (job.plan[0][0], self._tiebreak, job.id, job.generation))

    def sync(self) -> None:
        """Apply every lifecycle step that is due at the simulated time now."""
        now = self.clock.now()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, job_id, generation = heapq.heappop(heap)
            job = self._jobs.get(job_id)
            if job is None or job.generation != generation or not job.plan:
                continue
            at, kind, value = job.plan.popleft()
            if kind == CHECKPOINT:
                job.add_checkpoint(int(value), at, self.timings)
            else:
                self._set_status(job, value, at)
            self._push(job)

    def _set_status(self, job: Job, status: str, at: float) -> None:
        """Every status change goes here: the result model exists exactly while SUCCESS."""
        job.set_status(status, at)
        if status == "SUCCESS":
            self._finish(job)
        else:
            if job.result_model is not None:
                self.models.remove(job.result_model)
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
            self.models.add(
                model_id=job.result_model, key=job.key, job=job.id, root=job.request.model,
                created=int(self.clock.now()), owner=key_fingerprint(job.key),
                classifier=job.request.job_type == "classifier",
            )  # fmt: skip
        else:
            base = job.request.model_config.base_model or "scratch"
            job.result_model = f"forge:{job.request.job_type}:{base}:{short}"

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
            _check_job_options(request)
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
                validation_error=_validation_error(request, files),
                data_tokens=self._data_tokens(files[: len(request.training_files)], request.model),
            )
            return self._summary(job)

    def create_forge(self, key: str, request: TrainingJobIn) -> bytes:
        """Check the Forge rules the spec's descriptions state and store the new job."""
        config = request.model_config
        if request.job_type != "pre_training" and not config.base_model:
            raise ApiError(400, f"model_config.base_model is required for {request.job_type}")
        moe = config.architecture == "mixture_of_experts"
        for name in ("num_experts", "active_experts"):
            if getattr(config, name) is not None and not moe:
                raise ApiError(
                    400, f"model_config.{name} requires architecture 'mixture_of_experts'"
                )
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
        self._schedule(
            job,
            plan_from(
                job,
                job.created_at,
                self.timings,
                forge_hold_unstarted=self.forge_hold_unstarted,
            ),
        )
        return job

    def list_jobs(
        self, key: str, api: Api, page: int, page_size: int, where: JobFilter = _NO_FILTER
    ) -> bytes:
        """One page of the organisation's jobs, newest first, with the total that match.

        Newest first keeps a sweep over the pages safe while jobs are created: a new job moves
        the others towards later pages, so a job can be seen twice but is never skipped.
        """
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
            self._set_status(job, "STARTED", now)
            self._replan(job, now)
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
                self._set_status(job, cancelling, now)
                self._replan(job, now)
            return self._detailed(job)

    def _replan(self, job: Job, now: float) -> None:
        self._schedule(
            job, plan_from(job, now, self.timings, forge_hold_unstarted=self.forge_hold_unstarted)
        )

    # --- rendering -----------------------------------------------------------------------------

    def _summary(self, job: Job) -> bytes:
        if job.summary_cache is None:
            job.summary_cache = encoder.encode(render_job(job, self.timings, detailed=False))
        return job.summary_cache

    def _detailed(self, job: Job) -> bytes:
        return encoder.encode(render_job(job, self.timings, detailed=True))

    # --- files ---------------------------------------------------------------------------------

    def add_file(self, key: str, *, expiry: int | None, **measured: Any) -> bytes:
        """Keep the record of an uploaded file (its bytes already at ``content``)."""
        with self.lock:
            self.sync()
            self._org(key)
            now = int(self.clock.now())
            expires_at = now + expiry * 3600 if expiry is not None else None
            record = FileRecord(
                id=self._new_id(), key=key, created_at=now, expires_at=expires_at, **measured
            )
            return self.files.add(record)

    def list_files(self, key: str, page: int, page_size: int, where: FileFilter) -> bytes:
        """One page of the organisation's files that match ``where``, newest first."""
        with self.lock:
            return self.files.page(key, page, page_size, where)

    def file_content(self, key: str, file_id: str) -> Path:
        """Where a file's bytes are (``GET /v1/files/{id}/content``)."""
        with self.lock:
            return self.files.get(key, file_id).content

    def signed_url(self, key: str, file_id: str, expiry_hours: int, origin: str) -> bytes:
        """``GET /v1/files/{id}/url``: a URL that serves the file without a key."""
        with self.lock:
            record = self.files.get(key, file_id)
            expires = int(self.clock.now()) + expiry_hours * 3600
            return encoder.encode({"url": origin + self.files.signed_path(record.id, expires)})

    def signed_content(self, file_id: str, expires: str, signature: str) -> Path:
        """Where the bytes a signed URL names are (a 403 if it is forged or expired)."""
        with self.lock:
            return self.files.by_signature(file_id, expires, signature, self.clock.now()).content

    def get_file(self, key: str, file_id: str) -> bytes:
        """One file object, with ``deleted: false``."""
        with self.lock:
            return encoder.encode(self.files.get(key, file_id).render(with_deleted=True))

    def delete_file(self, key: str, file_id: str) -> bytes:
        """Delete a file; jobs that used it keep running."""
        with self.lock:
            return self.files.delete(key, file_id)

    def count_training_tokens(self, key: str, request: FineTuningJobIn) -> None:
        """Count the tokens of a create request's training files for its model.

        Once per file and tokenizer; slow, so called off the event loop, before
        ``create_fine_tuning``.
        """
        tokenizer = tokenizer_of(request.model)
        with self.lock:
            found = (self.files.find(key, f.file_id) for f in request.training_files or [])
            todo = [r for r in found if r is not None and tokenizer not in r.tokens]
        for record in todo:  # outside the lock: the server answers meanwhile
            counted = count_tokens(record, request.model)
            with self.lock:
                record.tokens[tokenizer] = counted

    def _data_tokens(self, files: list[FileRecord], model: str) -> int:
        """The training files' tokens: ``count_training_tokens``'s, else size / 4."""
        tokenizer = tokenizer_of(model)
        return sum(f.tokens.get(tokenizer, f.size // 4) for f in files)

    # --- models --------------------------------------------------------------------------------

    def list_models(self, key: str, *, provider: str | None, model: str | None) -> bytes:
        """``GET /v1/models``."""
        with self.lock:
            self.sync()
            return self.models.listing(key, provider=provider, model=model)

    def get_model(self, key: str, model_id: str) -> bytes:
        """``GET /v1/models/{id}``."""
        with self.lock:
            self.sync()
            return self.models.get(key, model_id)

    def update_model(self, key: str, model_id: str, change: ModelUpdateIn) -> bytes:
        """``PATCH /v1/fine_tuning/models/{id}``."""
        with self.lock:
            self.sync()
            return self.models.update(key, model_id, change)

    def archive_model(self, key: str, model_id: str, *, archived: bool) -> bytes:
        """``POST`` (archive) or ``DELETE`` (unarchive) ``/v1/fine_tuning/models/{id}/archive``."""
        with self.lock:
            self.sync()
            return self.models.archive(key, model_id, archived=archived)

    def delete_model(self, key: str, model_id: str) -> bytes:
        """``DELETE /v1/models/{id}``."""
        with self.lock:
            self.sync()
            return self.models.delete(key, model_id)

    # --- control -------------------------------------------------------------------------------

    def force_status(self, job_id: str, status: str, *, hold: bool = False) -> None:
        """Put a job in ``status`` now; its lifecycle goes on from there unless ``hold``."""
        with self.lock:
            self.sync()
            job = self._any_job(job_id)
            now = self.clock.now()
            self._set_status(job, status, now)
            if hold:
                self._schedule(job, [])
            else:
                self._replan(job, now)

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
