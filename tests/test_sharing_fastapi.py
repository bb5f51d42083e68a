"""The FastAPI example under uvicorn with three workers sharing one poller through Redis."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.fastapi import ClientDep, install_error_handlers, mistral_lifespan
from mistral_jobs_async.sharing import RedisBudget

from ._uvicorn import read_sse, serving
from .conftest import KEY_A

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
POLLS = ("/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/{job_id}")


async def _get(url: str) -> Any:
    # A connection of its own each time, so that requests spread over the workers.
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.mark.mistral_emulator(seed=12, speed=0.0)
@pytest.mark.timeout(120)
async def test_three_workers_thirty_browsers_one_poller(emu: Emulator, redis_url: str) -> None:
    """30 SSE clients spread over 3 uvicorn workers all get every transition of their job in
    order; only one worker polls, and the emulator's polls are exactly that worker's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "MISTRAL_BASE_URL": emu.url,
        "MISTRAL_API_KEY": KEY_A,
        "REDIS_URL": redis_url,
        "MISTRAL_JOBS_NAMESPACE": f"test-{uuid.uuid4().hex[:8]}",
    }
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "docs" / "examples"),
        "fastapi_app:app", "--workers", "3", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    async with await anyio.open_process(command, env=env, stdout=None, stderr=None) as server:
        try:
            with anyio.fail_after(100):
                await _serve_and_check(base, emu)
        finally:
            server.terminate()
            with anyio.move_on_after(20):
                await server.wait()


async def _serve_and_check(base: str, emu: Emulator) -> None:
    while True:
        try:
            await _get(f"{base}/jobs")
            break
        except (aiohttp.ClientError, OSError):
            await anyio.sleep(0.1)
    ids = []
    for _ in range(10):
        async with aiohttp.ClientSession() as session, session.post(f"{base}/jobs") as response:
            ids.append((await response.json())["id"])
    results: dict[int, list[tuple[str, dict[str, Any]]]] = {}

    async def browser(n: int) -> None:
        async with aiohttp.ClientSession() as session:
            results[n] = await read_sse(session, f"{base}/jobs/{ids[n % 10]}/events")

    emu.clear_requests()
    async with anyio.create_task_group() as group:
        for n in range(30):
            group.start_soon(browser, n)
        await anyio.sleep(1.0)  # every browser subscribed: let the jobs run
        emu.speed = 20.0
    by_job: dict[str, list[list[str]]] = defaultdict(list)
    for n, events in results.items():
        statuses = [data["status"] for name, data in events if name in ("status", "transition")]
        assert statuses, events
        assert statuses[-1] == "SUCCESS", events
        history = [e["data"]["status"] for e in emu.job(ids[n % 10])["events"]]
        assert statuses == history[history.index(statuses[0]) :], (statuses, history)
        by_job[ids[n % 10]].append(statuses)
    # Each worker's poll count: ask /stats until every worker has answered.
    workers: dict[int, dict[str, Any]] = {}
    for _ in range(200):
        answer = await _get(f"{base}/stats")
        workers[answer["pid"]] = answer
        if len(workers) == 3:
            break
    assert len(workers) == 3
    polling = [w for w in workers.values() if w["requests"] > 0]
    assert len(polling) == 1, workers  # one poller for three workers
    polls = sum(emu.request_count("GET", route) for route in POLLS)
    assert polls <= polling[0]["requests"], (polls, workers)  # all of them its own


@pytest.mark.mistral_emulator(seed=13, speed=0.0)
@pytest.mark.timeout(60)
async def test_the_lifespan_opens_the_shared_budget(emu: Emulator, redis_url: str) -> None:
    """A RedisBudget handed to mistral_lifespan is open for the app's client: a 429 the app
    meets pauses every process sharing the budget (the pause is in Redis)."""
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    budget = RedisBudget(redis_url, requests_per_second=50, namespace=namespace)
    app = FastAPI(
        lifespan=mistral_lifespan(
            client=lambda: AsyncClient(KEY_A, base_url=emu.url, max_retries=0, budget=budget),
            redis_url=redis_url,
            budget=budget,
        )
    )
    install_error_handlers(app)

    @app.get("/total")
    async def total(client: ClientDep) -> int:
        return (await client.fine_tuning.jobs.list()).total

    emu.inject(Fault.http(429, retry_after=30, times=1, method="GET"))
    with serving(app) as base:
        async with aiohttp.ClientSession() as session, session.get(f"{base}/total") as answer:
            assert answer.status == 429
    async with Redis.from_url(redis_url) as redis:
        paused_ms = await redis.pttl(f"{namespace}:budget:paused")
    assert paused_ms > 20_000  # every process now waits out the 30 s Retry-After
