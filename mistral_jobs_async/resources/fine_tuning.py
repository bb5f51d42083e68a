"""``client.fine_tuning.jobs``: create, list, get, start and cancel fine-tuning jobs."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from mistral_jobs_async._exceptions import (
    InvalidRequestError,
    JobEndedError,
    MistralJobsError,
    ResponseDecodeError,
)
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import AsyncPager, fetch_page, list_pages
from mistral_jobs_async._validation import (
    check,
    check_list,
    check_text,
    item_path,
    to_payload,
)
from mistral_jobs_async.models._common import Page
from mistral_jobs_async.models.fine_tuning import (
    ClassifierTarget,
    FineTuningJob,
    FineTuningJobList,
    GithubRepository,
    Hyperparameters,
    JobEstimate,
    JobMetadata,
    TrainingFile,
    WandbIntegration,
)
from mistral_jobs_async.models.model_cards import ModelCard
from mistral_jobs_async.models.requests import CreateFineTuningJobRequest
from mistral_jobs_async.resources._jobs import JobsResource
from mistral_jobs_async.resources._recovery import recovery, state_check
from mistral_jobs_async.resources.models import Models

if TYPE_CHECKING:  # the watcher is imported on first use (see _jobs.py)
    from mistral_jobs_async.watcher import Clock, WatchConfig, WatchSession

__all__ = ["FineTuning", "FineTuningJobs"]

logger = logging.getLogger("mistral_jobs_async")

_PATH = "/v1/fine_tuning/jobs"
_job = msgspec.json.Decoder(FineTuningJob)
_job_list = msgspec.json.Decoder(FineTuningJobList)
_encoder = msgspec.json.Encoder()


def _timestamp(name: str, value: datetime | str | None) -> str | None:
    """ISO-8601 with ``Z``, as the list filters take it; naive datetimes are UTC."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        raise InvalidRequestError(name, f"must be a datetime or an ISO-8601 string, not {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _flag(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequestError(name, f"must be a bool, not {type(value).__name__}")
    return "true" if value else "false"


def _filters(
    *,
    model: str | None,
    status: str | None,
    created_after: datetime | str | None,
    created_before: datetime | str | None,
    created_by_me: bool | None,
    suffix: str | None,
    wandb_project: str | None,
    wandb_name: str | None,
) -> dict[str, str]:
    """The list's filters as query parameters, each checked, the unset ones left out."""
    filters = {
        "model": check_text("model", model),
        "status": check_text("status", status),
        "created_after": _timestamp("created_after", created_after),
        "created_before": _timestamp("created_before", created_before),
        "created_by_me": _flag("created_by_me", created_by_me),
        "suffix": check_text("suffix", suffix),
        "wandb_project": check_text("wandb_project", wandb_project),
        "wandb_name": check_text("wandb_name", wandb_name),
    }
    return {k: v for k, v in filters.items() if v is not None}


def _items(name: str, values: object) -> list[Any] | None:
    """A list parameter of models or mappings, as JSON-ready values."""
    items = check_list(name, values)
    return None if items is None else [to_payload(item) for item in items]


def _integration(value: object) -> Any:
    """An integration as JSON, ``type`` filled in (the one type there is: wandb)."""
    payload = to_payload(value)
    return {"type": "wandb", **payload} if isinstance(payload, Mapping) else payload


class FineTuningJobs(JobsResource[FineTuningJob]):
    """The fine-tuning jobs of the client's organisation."""

    _collection = _PATH
    _api = "fine_tuning"
    _job_type = FineTuningJob
    _decoder = _job
    _list_decoder = _job_list
    _filters_by_creation = True
    _cancel_taken = frozenset({"CANCELLATION_REQUESTED", "CANCELLED"})

    def __init__(self, http: HttpClient, models: Models) -> None:
        super().__init__(http)
        self._models = models

    def _created_after(self, timestamp: float) -> dict[str, str]:
        moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        return {"created_after": _timestamp("created_after", moment) or ""}

    async def create(
        self,
        *,
        model: str,
        training_files: Sequence[str | TrainingFile | Mapping[str, Any]] = (),
        validation_files: Sequence[str] | None = None,
        hyperparameters: Hyperparameters | Mapping[str, Any] | None = None,
        suffix: str | None = None,
        auto_start: bool | None = None,
        integrations: Sequence[WandbIntegration | Mapping[str, Any]] | None = None,
        job_type: str | None = None,
        invalid_sample_skip_percentage: float | None = None,
        repositories: Sequence[GithubRepository | Mapping[str, Any]] | None = None,
        classifier_targets: Sequence[ClassifierTarget | Mapping[str, Any]] | None = None,
    ) -> FineTuningJob:
        """Create a job. ``training_files`` are file ids (or ``TrainingFile`` with a weight).

        ``repositories`` (``GithubRepository``) may stand in for training files or join
        them. ``job_type="classifier"`` takes ``classifier_targets``, and classifier files
        (``text`` + ``labels``). ``invalid_sample_skip_percentage`` (0 to 100) lets the
        service skip that share of invalid samples instead of failing validation.

        ``auto_start`` left unset takes the service's default (false): the job then waits in
        VALIDATED until :meth:`start`. A create that fails after it may have reached the
        server is looked for among the newest jobs before it is sent again: one create never
        makes two jobs (see the docs on retries for the one case it cannot tell apart).
        """
        files = check_list("training_files", training_files) or []
        integration_list = check_list("integrations", integrations)
        payload: dict[str, Any] = {
            "model": model,
            "training_files": [
                {"file_id": f} if isinstance(f, str) else to_payload(f) for f in files
            ],
        }
        optional = {
            "validation_files": check_list("validation_files", validation_files),
            "hyperparameters": to_payload(hyperparameters),
            "suffix": suffix,
            "auto_start": auto_start,
            "integrations": (
                [_integration(i) for i in integration_list] if integration_list else None
            ),
            "job_type": job_type,
            "invalid_sample_skip_percentage": invalid_sample_skip_percentage,
            "repositories": _items("repositories", repositories),
            "classifier_targets": _items("classifier_targets", classifier_targets),
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        checked = check(payload, CreateFineTuningJobRequest)
        wanted: dict[str, Any] = msgspec.to_builtins(checked)
        wanted["training_files"] = [f["file_id"] for f in wanted["training_files"]]

        async def newest(number: int, size: int, since: float) -> Page[FineTuningJob]:
            query = {**self._created_after(since), "model": checked.model}
            if checked.suffix is not None:
                query["suffix"] = checked.suffix
            return await fetch_page(self._http, _PATH, _job_list, number, size, params=query)

        recover = recovery(self._http, newest, wanted, self._claims)
        job = await self._http.request(
            "POST", _PATH, _job, json=_encoder.encode(checked), recover=recover
        )
        self._claims.add(job.id)
        return job

    def list(
        self,
        *,
        page: int = 0,
        page_size: int = 100,
        model: str | None = None,
        status: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        created_by_me: bool | None = None,
        suffix: str | None = None,
        wandb_project: str | None = None,
        wandb_name: str | None = None,
    ) -> AsyncPager[FineTuningJob]:
        """Jobs, newest first: ``await`` it for one page, ``async for`` over it for all."""
        params = _filters(
            model=model, status=status, created_after=created_after,
            created_before=created_before, created_by_me=created_by_me, suffix=suffix,
            wandb_project=wandb_project, wandb_name=wandb_name,
        )  # fmt: skip
        return list_pages(
            self._http, _PATH, _job_list, page=page, page_size=page_size, params=params
        )

    # The base's watch_all takes no filters (Forge's list has none); this one adds the list's.
    def watch_all(
        self,
        *,
        model: str | None = None,
        status: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        created_by_me: bool | None = None,
        suffix: str | None = None,
        wandb_project: str | None = None,
        wandb_name: str | None = None,
        include_ended: bool = False,
        config: WatchConfig | None = None,
        state_path: str | os.PathLike[str] | None = None,
        progress: bool = False,
        clock: Clock | None = None,
    ) -> WatchSession[FineTuningJob]:
        """Follow every job that matches the list filters, jobs created later included.

        The filters are the list's. Jobs already ended when first found are left out unless
        ``include_ended``; the watch goes on until its block is left. Finding new jobs costs
        the filtered list's first page every ``base_interval`` (every page of it, with
        ``status``: a job enters a status at any age). A job found keeps being followed when
        it no longer matches (a ``status`` filter): to its end.
        """
        filters = _filters(
            model=model, status=status, created_after=created_after,
            created_before=created_before, created_by_me=created_by_me, suffix=suffix,
            wandb_project=wandb_project, wandb_name=wandb_name,
        )  # fmt: skip
        return self._watch_query(
            filters, include_ended=include_ended, config=config, state_path=state_path,
            progress=progress, clock=clock,
        )  # fmt: skip

    async def start(self, job_id: str) -> FineTuningJob:
        """Start a job that waits in VALIDATED (created with ``auto_start`` false).

        A start whose answer is lost is checked (the job no longer VALIDATED) before a retry.
        This client's watchers of the job poll it at once, so its next statuses come soon.
        """
        path = item_path(_PATH, "job_id", job_id) + "/start"
        recover = state_check(lambda: self.get(job_id), lambda job: job.status != "VALIDATED")
        job = await self._http.request("POST", path, _job, recover=recover)
        self._acted_on(job_id)  # this client's watchers of the job look again at once
        return job

    async def estimate(
        self,
        *,
        cancel: bool = False,
        timeout: float | None = None,
        config: WatchConfig | None = None,
        clock: Clock | None = None,
        **create: Any,
    ) -> JobEstimate:
        """What a job would cost, before paying: the service's own figures.

        Takes :meth:`create`'s parameters (not ``auto_start``): creates the job parked
        (``auto_start=False``), waits until it is VALIDATED and returns its ``metadata``
        (cost, currency, tokens, expected duration) with the job. The job then waits for
        :meth:`start`, or is cancelled with ``cancel=True``. A job that fails validation
        raises ``JobEndedError`` (with the job and its reason in the events); ``timeout``
        raises ``WaitTimeoutError``. With ``cancel=True`` the job is cancelled whatever stops
        the wait (a timeout, an error, the caller's cancellation), unless it ended itself.
        """
        if "auto_start" in create:
            raise InvalidRequestError("auto_start", "an estimate creates the job parked")
        job = await self.create(**create, auto_start=False)
        try:
            validated = await self.wait(
                job.id, until="VALIDATED", timeout=timeout, config=config, clock=clock
            )
        except BaseException as stopped:
            # What was asked for: leave nothing behind (a job that ended needs no cancel),
            # within a bound, and raise what stopped the wait, not a failed cancel.
            if cancel and not isinstance(stopped, JobEndedError):
                with anyio.CancelScope(shield=True), anyio.move_on_after(self._http.timeout):
                    try:
                        await self.cancel(job.id)
                    except MistralJobsError as exc:
                        logger.warning("estimate: job %s could not be cancelled: %s", job.id, exc)
            raise
        metadata = validated.metadata or JobMetadata()
        if cancel:
            validated = await self.cancel(job.id)
        return JobEstimate(job=validated, metadata=metadata, cancelled=cancel)

    async def wait_for_model(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        config: WatchConfig | None = None,
        clock: Clock | None = None,
    ) -> ModelCard:
        """The model card a job makes: waits for SUCCESS, then gets its ``fine_tuned_model``.

        A job that ends otherwise raises ``JobEndedError`` (with the job); ``timeout`` raises
        ``WaitTimeoutError`` as in :meth:`wait`.
        """
        job = await self.wait(job_id, until="SUCCESS", timeout=timeout, config=config, clock=clock)
        if not job.fine_tuned_model:
            raise ResponseDecodeError(
                f"job {job_id} reached SUCCESS but its answer names no fine_tuned_model",
                status_code=200,
                request_id=None,
            )
        return await self._models.get(job.fine_tuned_model)


class FineTuning:
    """``client.fine_tuning``: the Fine-Tuning API."""

    def __init__(self, http: HttpClient, models: Models) -> None:
        self.jobs = FineTuningJobs(http, models)
