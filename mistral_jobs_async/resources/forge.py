"""``client.forge.jobs``: create, list, get and cancel Forge training jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import AsyncPager, fetch_page, list_pages
from mistral_jobs_async._validation import (
    check,
    check_list,
    to_payload,
)
from mistral_jobs_async.models._common import Page
from mistral_jobs_async.models.forge import (
    ForgeHyperparameters,
    ForgeJob,
    ForgeJobList,
    ForgeModelConfig,
)
from mistral_jobs_async.models.requests import CreateForgeJobRequest
from mistral_jobs_async.resources._jobs import JobsResource
from mistral_jobs_async.resources._recovery import recovery

__all__ = ["Forge", "ForgeJobs"]

_PATH = "/forge/training/jobs"
_job = msgspec.json.Decoder(ForgeJob)
_job_list = msgspec.json.Decoder(ForgeJobList)
_encoder = msgspec.json.Encoder()


class ForgeJobs(JobsResource[ForgeJob]):
    """The Forge training jobs of the client's organisation."""

    _collection = _PATH
    _api = "forge"
    _job_type = ForgeJob
    _decoder = _job
    _list_decoder = _job_list
    _cancel_taken = frozenset({"CANCELLED"})
    # The Forge list has no filters: the watcher walks from the newest page instead.

    async def create(
        self,
        *,
        job_type: str,
        model_config: ForgeModelConfig | Mapping[str, Any],
        dataset_ids: Sequence[str] | None = None,
        hyperparameters: ForgeHyperparameters | Mapping[str, Any] | None = None,
        auto_start: bool | None = None,
    ) -> ForgeJob:
        """Create a training job; a failed create is looked for before it is sent again.

        The spec has no start endpoint for Forge: see the docs on ``auto_start``.
        """
        payload: dict[str, Any] = {"job_type": job_type, "model_config": to_payload(model_config)}
        optional = {
            "dataset_ids": check_list("dataset_ids", dataset_ids),
            "hyperparameters": to_payload(hyperparameters),
            "auto_start": auto_start,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        checked = check(payload, CreateForgeJobRequest)

        async def newest(number: int, size: int, since: float) -> Page[ForgeJob]:
            # The Forge list has no filters: the newest pages, matched here.
            return await fetch_page(self._http, _PATH, _job_list, number, size)

        wanted = msgspec.to_builtins(checked)
        recover = recovery(self._http, newest, wanted, self._claims)
        job = await self._http.request(
            "POST", _PATH, _job, json=_encoder.encode(checked), recover=recover
        )
        self._claims.add(job.id)
        return job

    def list(self, *, page: int = 0, page_size: int = 100) -> AsyncPager[ForgeJob]:
        """Jobs, newest first: ``await`` it for one page, ``async for`` over it for all."""
        return list_pages(self._http, _PATH, _job_list, page=page, page_size=page_size)


class Forge:
    """``client.forge``: the Forge training API."""

    def __init__(self, http: HttpClient) -> None:
        self.jobs = ForgeJobs(http)
