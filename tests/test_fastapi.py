"""The FastAPI integration under a real uvicorn server on loopback, against the emulator."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import pytest
from fastapi import FastAPI, Request

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.fastapi import ClientDep, JobsDep, job_events, mistral_lifespan
from mistral_jobs_async.watcher import WatchConfig

from ._uvicorn import read_sse, serving
from .conftest import GOOD_JSONL

pytestmark = pytest.mark.anyio

CONFIG = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.3, coalesce=0.05,
                     requests_per_second=500, max_in_flight=8)  # fmt: skip


def build_app(base_url: str) -> FastAPI:
    app = FastAPI(
        lifespan=mistral_lifespan(client=lambda: AsyncClient("k", base_url=base_url), config=CONFIG)
    )

    @app.post("/files")
    async def upload(client: ClientDep) -> dict[str, str]:
        uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")
        return {"id": uploaded.id}

    @app.post("/jobs")
    async def launch(file_id: str, jobs: JobsDep) -> dict[str, str]:
        job = await jobs.client.fine_tuning.jobs.create(
            model="open-mistral-7b",
            training_files=[file_id],
            auto_start=True,
            hyperparameters={"training_steps": 10},
        )
        return {"id": job.id}

    @app.get("/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Any:
        return job_events(request, job_id)

    @app.get("/subscribers/{job_id}")
    async def subscribers(job_id: str, jobs: JobsDep) -> dict[str, Any]:
        return {
            "subscribers": jobs.subscribers(job_id),
            "watched": job_id in jobs.watchers["fine_tuning"].job_ids,
        }

    return app


async def launch(session: aiohttp.ClientSession, base: str) -> str:
    """Upload a training file through the app and launch one job on it; its id."""
    async with session.post(f"{base}/files") as response:
        file_id = (await response.json())["id"]
    async with session.post(f"{base}/jobs", params={"file_id": file_id}) as response:
        job_id: str = (await response.json())["id"]
    return job_id


@pytest.fixture
def served(mistral_emulator: Emulator) -> Iterator[tuple[str, FastAPI, Emulator]]:
    """The app under uvicorn in a thread, on a free loopback port; stopped (cleanly) after."""
    mistral_emulator.speed = 0.0
    app = build_app(mistral_emulator.url)
    with serving(app) as base:
        yield base, app, mistral_emulator


async def test_fifty_browsers_on_ten_jobs_share_one_watcher(
    served: tuple[str, FastAPI, Emulator],
) -> None:
    """50 SSE subscribers on 10 jobs all get every transition in order; polls are shared."""
    base, app, emu = served
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/files") as response:
            file_id = (await response.json())["id"]
        ids = []
        for _ in range(10):
            async with session.post(f"{base}/jobs", params={"file_id": file_id}) as response:
                ids.append((await response.json())["id"])
        results: dict[int, list[tuple[str, dict[str, Any]]]] = {}

        async def browser(n: int) -> None:
            results[n] = await read_sse(session, f"{base}/jobs/{ids[n % 10]}/events")

        emu.clear_requests()
        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(browser, n)
            await anyio.sleep(0.5)  # everyone subscribed: let the jobs run
            emu.speed = 40.0

    def statuses(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        # A browser that subscribed after the job's first observation starts from the
        # "status" snapshot instead of the first transition: the same sequence of statuses.
        return [data["status"] for name, data in events if name in ("status", "transition")]

    expected = ["QUEUED", "VALIDATING", "VALIDATED", "STARTED", "RUNNING", "SUCCESS"]
    for n, events in results.items():
        seen = statuses(events)
        assert seen[-1] == "SUCCESS", events
        assert "RUNNING" in seen
        assert [s for s in expected if s in seen] == seen, seen  # in order, each once
        same_job = [statuses(results[m]) for m in results if m % 10 == n % 10]
        assert all(other == seen for other in same_job)  # every browser of a job saw the same
    watcher = app.state.mistral_jobs.watchers["fine_tuning"]
    polls = emu.request_count("GET", "/v1/fine_tuning/jobs") + emu.request_count(
        "GET", "/v1/fine_tuning/jobs/{job_id}"
    )
    # Every poll came from the one shared watcher (a poll still in flight as the last stream
    # ends is counted by the watcher before the emulator has it).
    assert polls <= watcher.stats.requests <= polls + CONFIG.max_in_flight
    assert polls < 10 * watcher.stats.cycles + 1


async def test_disconnect_releases_the_subscription(served: tuple[str, FastAPI, Emulator]) -> None:
    """A browser that leaves releases its subscription; the last one out stops the polling."""
    base, _, emu = served
    async with aiohttp.ClientSession() as session:
        job_id = await launch(session, base)
        async with session.get(f"{base}/jobs/{job_id}/events") as stream:
            await stream.content.readline()
            async with session.get(f"{base}/subscribers/{job_id}") as response:
                assert (await response.json()) == {"subscribers": 1, "watched": True}
        with anyio.fail_after(10):
            while True:
                async with session.get(f"{base}/subscribers/{job_id}") as response:
                    state = await response.json()
                if state == {"subscribers": 0, "watched": False}:
                    break
                await anyio.sleep(0.05)
        count = emu.request_count()
        await anyio.sleep(0.5)
        assert emu.request_count() <= count + 1  # the subscribers route itself is not a poll


def test_missing_lifespan_is_a_clear_error() -> None:
    """Using the dependencies without mistral_lifespan raises a ConfigurationError that says so."""
    from starlette.requests import Request as StarletteRequest

    from mistral_jobs_async import ConfigurationError
    from mistral_jobs_async.fastapi import get_jobs

    app = FastAPI()
    request = StarletteRequest({"type": "http", "app": app, "headers": []})
    with pytest.raises(ConfigurationError, match="mistral_lifespan"):
        get_jobs(request)


async def test_sse_carries_checkpoints_in_step_order(served: tuple[str, FastAPI, Emulator]) -> None:
    """The SSE stream has the job's checkpoints (each once, in step order) before its end."""
    base, _, emu = served
    async with aiohttp.ClientSession() as session:
        job_id = await launch(session, base)
        emu.speed = 20.0
        with anyio.fail_after(30):
            events = await read_sse(session, f"{base}/jobs/{job_id}/events")
    names = [name for name, _ in events]
    steps = [data["step"] for name, data in events if name == "checkpoint"]
    recorded = sorted(c["step_number"] for c in emu.job(job_id)["checkpoints"])
    assert steps == recorded
    assert names.index("checkpoint") < names.index("transition", names.index("checkpoint"))
    assert events[-1][0] == "transition"
    assert events[-1][1]["status"] == "SUCCESS"
    assert "metadata" in names
