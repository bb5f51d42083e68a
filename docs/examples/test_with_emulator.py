"""The emulator in tests: the pytest plugin's fixtures, and faults a pipeline must survive.

Run it with ``pytest docs/examples/test_with_emulator.py`` (the plugin comes with the package).
"""

from __future__ import annotations

import io

import pytest

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator, Fault

TRAINING = (
    b'{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}\n'
)


async def launch() -> str:
    """A pipeline step under test: it reads MISTRAL_API_KEY and MISTRAL_BASE_URL."""
    async with AsyncClient() as client:
        uploaded = await client.files.upload(io.BytesIO(TRAINING), filename="train.jsonl")
        job = await client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=[uploaded.id], auto_start=True
        )
        return job.id


@pytest.mark.anyio
@pytest.mark.mistral_emulator(speed=0, seed=1)
async def test_launch_runs_to_success(mistral_env: Emulator) -> None:
    """The job launched by the pipeline succeeds once an hour of simulated time passes."""
    job_id = await launch()
    assert mistral_env.job(job_id)["status"] == "QUEUED"
    mistral_env.advance(3600)
    assert mistral_env.job(job_id)["status"] == "SUCCESS"


@pytest.mark.anyio
@pytest.mark.mistral_emulator(speed=0, seed=1)
async def test_launch_survives_a_gateway_that_loses_the_answer(mistral_env: Emulator) -> None:
    """A 503 after the job was made: the client finds the job instead of making a second."""
    mistral_env.inject(Fault.http(503, retry_after=1, times=1, after=True, method="POST"))
    job_id = await launch()
    assert mistral_env.job_ids() == [job_id]


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio."""
    return "asyncio"
