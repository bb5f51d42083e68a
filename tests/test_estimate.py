"""jobs.estimate: the service's cost figures before paying, the job parked or cancelled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mistral_jobs_async import (
    AsyncClient,
    InvalidRequestError,
    JobEndedError,
    WaitTimeoutError,
)
from mistral_jobs_async.datasets import validate_file
from mistral_jobs_async.emulator import Emulator

from .conftest import BAD_JSONL, GOOD_JSONL

pytestmark = pytest.mark.anyio


@pytest.mark.mistral_emulator(speed=300.0)
async def test_an_estimate_reads_the_metadata_and_leaves_the_job_parked(
    emu: Emulator, client: AsyncClient, tmp_path: Path
) -> None:
    """The estimate is the job's metadata at VALIDATED (its data tokens the local report's);
    the job waits for start, and starts."""
    path = tmp_path / "train.jsonl"
    path.write_bytes(GOOD_JSONL)
    uploaded = await client.files.upload(path)
    estimate = await client.fine_tuning.jobs.estimate(
        model="open-mistral-7b", training_files=[uploaded.id], timeout=30
    )
    assert estimate.job.status == "VALIDATED"
    assert not estimate.cancelled
    assert estimate.cost is not None
    assert estimate.cost > 0
    assert estimate.metadata.cost_currency == "USD"
    local = validate_file(path, model="open-mistral-7b").token_summary()["total"]
    assert estimate.metadata.data_tokens == local
    started = await client.fine_tuning.jobs.start(estimate.job.id)
    assert started.status != "VALIDATED"


@pytest.mark.mistral_emulator(speed=300.0)
async def test_an_estimate_can_cancel_its_job(client: AsyncClient) -> None:
    """cancel=True reads the figures, then cancels the job: nothing is left to pay for."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
    estimate = await client.fine_tuning.jobs.estimate(
        model="open-mistral-7b", training_files=[uploaded.id], cancel=True, timeout=30
    )
    assert estimate.cancelled
    assert estimate.metadata.train_tokens
    assert (await client.fine_tuning.jobs.get(estimate.job.id)).status in (
        "CANCELLED",
        "CANCELLATION_REQUESTED",
    )


@pytest.mark.mistral_emulator(speed=300.0)
async def test_an_estimate_of_a_bad_file_says_why(client: AsyncClient) -> None:
    """A file that fails validation raises JobEndedError with the job; auto_start is not an
    estimate's to take."""
    bad = await client.files.upload(io.BytesIO(BAD_JSONL), filename="bad.jsonl")
    with pytest.raises(JobEndedError) as ended:
        await client.fine_tuning.jobs.estimate(
            model="open-mistral-7b", training_files=[bad.id], timeout=30
        )
    assert ended.value.status == "FAILED_VALIDATION"
    with pytest.raises(InvalidRequestError, match="parked"):
        await client.fine_tuning.jobs.estimate(
            model="open-mistral-7b", training_files=[bad.id], auto_start=True
        )


async def test_an_estimate_that_times_out_cancels_when_asked(
    emu: Emulator, client: AsyncClient
) -> None:
    """On a frozen clock VALIDATED never comes: WaitTimeoutError, and with cancel=True the
    job is cancelled rather than left behind."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
    with pytest.raises(WaitTimeoutError):
        await client.fine_tuning.jobs.estimate(
            model="open-mistral-7b", training_files=[uploaded.id], cancel=True, timeout=0.5
        )
    (job,) = (await client.fine_tuning.jobs.list()).data
    assert job.status in ("CANCELLED", "CANCELLATION_REQUESTED")
