"""One create, one job: a failed create or upload the server did anyway is found, not redone."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from mistral_jobs_async import AsyncClient, RateLimitError, RetryPolicy, ServerError
from mistral_jobs_async.emulator import Emulator, Fault

from .conftest import GOOD_JSONL, KEY_A, SleepRecorder

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"
FORGE = "/forge/training/jobs"
FILES = "/v1/files"
SFT = "supervised_fine_tuning"


async def _file_id(client: AsyncClient) -> str:
    return (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")).id


@pytest.mark.parametrize("status", [503, 429])
async def test_create_answered_with_retry_after_once_handled_makes_one_job(
    emu: Emulator, client: AsyncClient, sleeps: SleepRecorder, status: int
) -> None:
    """A gateway that made the job and then said 503/429 + Retry-After: no second job."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(status, retry_after=1, times=1, after=True, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[file_id], suffix="one"
    )
    assert emu.request_count("POST", FT) == 1  # found, so never sent again
    assert emu.job_ids() == [job.id]
    assert job.suffix == "one"
    assert sleeps.delays == []


async def test_forge_create_once_handled_makes_one_job(emu: Emulator, client: AsyncClient) -> None:
    """The same for Forge, whose list has no filters: the newest page is matched locally."""
    other = await client.forge.jobs.create(
        job_type=SFT, model_config={"base_model": "mistral-small-latest"}
    )
    emu.inject(Fault.http(503, retry_after=1, times=1, after=True, method="POST", path=FORGE))
    job = await client.forge.jobs.create(
        job_type=SFT, model_config={"base_model": "open-mistral-7b"}
    )
    assert job.id != other.id
    assert job.model_config is not None
    assert job.model_config.base_model == "open-mistral-7b"
    assert len(emu.job_ids()) == 2


async def test_upload_once_handled_makes_one_file(emu: Emulator, client: AsyncClient) -> None:
    """An upload that was stored before its 503 is returned, not sent again."""
    emu.inject(Fault.http(503, retry_after=1, times=1, after=True, method="POST", path=FILES))
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="data.jsonl")
    assert emu.request_count("POST", FILES) == 1
    files = (await client.files.list()).data
    assert [f.id for f in files] == [uploaded.id]
    assert uploaded.bytes == len(GOOD_JSONL)


async def test_refused_create_is_retried_and_makes_one_job(
    emu: Emulator, client: AsyncClient, sleeps: SleepRecorder
) -> None:
    """A 503 before handling made nothing: the lookup finds nothing, the retry makes the job."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(503, retry_after=1, times=1, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 2
    assert emu.job_ids() == [job.id]
    assert sleeps.delays == [1.0]


async def test_identical_create_never_returns_a_job_another_call_got(
    emu: Emulator, client: AsyncClient
) -> None:
    """Two identical creates in a row: the second's lookup skips the job the first returned."""
    file_id = await _file_id(client)
    first = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    emu.inject(Fault.http(503, retry_after=1, times=1, after=True, method="POST", path=FT))
    second = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert second.id != first.id
    assert sorted(emu.job_ids()) == sorted([first.id, second.id])


@pytest.mark.parametrize(
    "field",
    [
        {"model": "open-mistral-nemo"},
        {"suffix": "other"},
        {"hyperparameters": {"training_steps": 7}},
        {"auto_start": True},
    ],
)
async def test_a_different_job_is_not_taken_for_ours(
    emu: Emulator, client: AsyncClient, field: dict[str, object]
) -> None:
    """A recent job that differs in one field the request set is not ours: ours is made."""
    file_id = await _file_id(client)
    ours: dict[str, Any] = {
        "model": "open-mistral-7b",
        "training_files": [file_id],
        "suffix": "mine",
        "hyperparameters": {"training_steps": 5},
        "auto_start": False,
    }
    # Another client (another process) of the same organisation made a similar job.
    async with AsyncClient(KEY_A, base_url=emu.url) as other:
        theirs = await other.fine_tuning.jobs.create(**{**ours, **field})
    emu.inject(Fault.http(503, retry_after=1, times=1, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(**ours)
    assert job.id != theirs.id
    assert job.suffix == "mine"
    assert emu.request_count("POST", FT) == 3


async def test_when_the_lookup_fails_the_create_is_not_sent_again(
    emu: Emulator, client: AsyncClient
) -> None:
    """If it cannot be checked whether the job was made, the create's error is raised."""
    file_id = await _file_id(client)
    emu.inject(
        Fault.http(503, retry_after=1, times=1, after=True, method="POST", path=FT),
        Fault.http(500, method="GET", path=FT),
    )
    with pytest.raises(ServerError) as caught:
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert caught.value.status_code == 503
    assert emu.request_count("POST", FT) == 1
    assert len(emu.job_ids()) == 1


async def test_rate_limited_create_that_never_got_through_raises_after_its_attempts(
    emu: Emulator, client: AsyncClient
) -> None:
    """429s before handling on every attempt: RateLimitError after 3 attempts, no job."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(429, retry_after=1, method="POST", path=FT))
    with pytest.raises(RateLimitError) as caught:
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert caught.value.attempts == 3
    assert emu.request_count("POST", FT) == 3
    assert emu.job_ids() == []


async def test_lookup_reads_the_servers_clock(sleeps: SleepRecorder) -> None:
    """A server whose clock is an hour behind the client's: its Date header still finds the job."""
    async with Emulator(seed=1, speed=0.0, start_time=time.time() - 3600) as emu:
        policy = RetryPolicy(sleep=sleeps)
        async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as client:
            file_id = await _file_id(client)
            emu.inject(Fault.http(503, retry_after=1, times=1, after=True, method="POST", path=FT))
            job = await client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[file_id]
            )
        assert emu.job_ids() == [job.id]
        assert emu.request_count("POST", FT) == 1
