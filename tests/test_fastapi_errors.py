"""FastAPI: the package's errors become HTTP answers, and bad SSE requests end at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import pytest
from fastapi import FastAPI, Request

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.fastapi import (
    ClientDep,
    JobsDep,
    install_error_handlers,
    job_events,
    mistral_lifespan,
)
from mistral_jobs_async.watcher import WatchConfig

from ._uvicorn import read_sse, serving

pytestmark = pytest.mark.anyio

KEY = "sk-fastapi-secret-0123456789"
CONFIG = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.3)


def build_app(base_url: str) -> FastAPI:
    def make_client() -> AsyncClient:
        return AsyncClient(KEY, base_url=base_url, max_retries=0, timeout=0.5)

    app = FastAPI(lifespan=mistral_lifespan(client=make_client, config=CONFIG))
    install_error_handlers(app)

    @app.get("/jobs/{job_id}")
    async def get_job(job_id: str, client: ClientDep) -> dict[str, Any]:
        job = await client.fine_tuning.jobs.get(job_id)
        return {"id": job.id, "status": job.status}

    @app.post("/jobs")
    async def launch(file_id: str, client: ClientDep, steps: int = 10) -> dict[str, Any]:
        job = await client.fine_tuning.jobs.create(
            model="open-mistral-7b",
            training_files=[file_id],
            hyperparameters={"training_steps": steps},
        )
        return {"id": job.id}

    @app.get("/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Any:
        return job_events(request, job_id)

    @app.get("/watched")
    async def watched(jobs: JobsDep) -> list[str]:
        return sorted(jobs.watchers["fine_tuning"].job_ids)

    return app


@pytest.fixture
def app_url(mistral_emulator: Emulator) -> Iterator[tuple[str, Emulator]]:
    """The app above under uvicorn, against a frozen-clock emulator."""
    mistral_emulator.speed = 0.0
    with serving(build_app(mistral_emulator.url)) as base:
        yield base, mistral_emulator


async def answer(
    session: aiohttp.ClientSession, method: str, url: str, **params: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with session.request(method, url, params=params) as response:
        return response.status, await response.json(), dict(response.headers)


async def test_api_errors_pass_through_with_the_servers_message(
    app_url: tuple[str, Emulator],
) -> None:
    """404 stays 404, a refused create is a 400 with the API's words, bad bounds name the field."""
    base, _ = app_url
    async with aiohttp.ClientSession() as session:
        status, body, _ = await answer(session, "GET", f"{base}/jobs/job-that-is-not-there")
        assert status == 404
        assert body["error"] == "NotFoundError"
        assert "job-that-is-not-there" in body["detail"] or "not found" in body["detail"].lower()

        status, body, _ = await answer(session, "POST", f"{base}/jobs", file_id="file-missing")
        assert status == 400
        assert body["error"] == "BadRequestError"
        assert "file-missing" in body["detail"]  # the server's own words

        status, body, _ = await answer(session, "POST", f"{base}/jobs", file_id="f", steps=0)
        assert status == 400
        assert body["error"] == "InvalidRequestError"
        assert body["field"] == "hyperparameters.training_steps"


async def test_rate_limit_keeps_retry_after(app_url: tuple[str, Emulator]) -> None:
    """A 429 from the API is a 429 from the app, with the API's Retry-After (rounded up)."""
    base, emu = app_url
    emu.inject(Fault.http(429, retry_after=90.5, times=1, method="GET"))
    async with aiohttp.ClientSession() as session:
        status, body, headers = await answer(session, "GET", f"{base}/jobs/some-job")
    assert status == 429
    assert body["error"] == "RateLimitError"
    assert headers["Retry-After"] == "91"


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        (Fault.http(401, times=1), 502, "AuthenticationError"),
        (Fault.http(403, times=1), 502, "PermissionDeniedError"),
        (Fault.http(500, times=1), 502, "ServerError"),
        (Fault.http(503, times=1), 502, "ServerError"),
        (Fault.drop(times=1, method="POST"), 502, None),
        (Fault.corrupt(times=1), 502, "ResponseDecodeError"),
        (Fault.delay(2.0, times=1), 504, "RequestTimeoutError"),
    ],
)
async def test_upstream_failures_are_gateway_errors(
    app_url: tuple[str, Emulator], fault: Fault, status: int, error: str | None
) -> None:
    """What only the operator can fix is a 502/504 that names no key and no upstream URL."""
    base, emu = app_url
    emu.inject(fault)
    async with aiohttp.ClientSession() as session:
        if fault.method == "POST":
            got, body, _ = await answer(session, "POST", f"{base}/jobs", file_id="f")
        else:
            got, body, _ = await answer(session, "GET", f"{base}/jobs/some-job")
    assert got == status, body
    if error is not None:
        assert body["error"] == error
    assert body["detail"]
    text = str(body)
    assert KEY not in text
    assert emu.url not in text
    assert "Traceback" not in text


async def test_sse_malformed_id_is_one_error_event(app_url: tuple[str, Emulator]) -> None:
    """A malformed id gets one error event and the stream ends; nothing is left polling."""
    base, emu = app_url
    emu.clear_requests()
    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(5):
            events = await read_sse(session, f"{base}/jobs/bad..id/events")
        async with session.get(f"{base}/watched") as response:
            assert await response.json() == []
    assert len(events) == 1
    name, data = events[0]
    assert name == "error"
    assert data["status_code"] == 400
    assert data["error"] == "InvalidRequestError"
    assert "bad..id" in data["detail"]
    assert emu.request_count() == 0  # never polled


async def test_sse_unknown_job_ends_with_vanished(app_url: tuple[str, Emulator]) -> None:
    """A well-formed id the API does not know ends with a vanished event, not a forever poll."""
    base, _ = app_url
    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(10):
            events = await read_sse(session, f"{base}/jobs/job-that-is-not-there/events")
    assert [name for name, _ in events] == ["vanished"]


async def test_sse_refused_key_is_an_error_event(mistral_emulator: Emulator) -> None:
    """A watch stopped by a refused key ends the stream with an error event naming no key."""
    mistral_emulator.speed = 0.0
    mistral_emulator.inject(Fault.http(401, path="/v1/fine_tuning/jobs*"))
    with serving(build_app(mistral_emulator.url)) as base:
        async with aiohttp.ClientSession() as session:
            with anyio.fail_after(10):
                events = await read_sse(session, f"{base}/jobs/some-job/events")
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["status_code"] == 502
    assert KEY not in str(events)


def test_import_without_the_extra_names_it() -> None:
    """Importing the integration without FastAPI says which extra to install."""
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "try:\n    import mistral_jobs_async.fastapi\n"
        "except ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'mistral-jobs-async[fastapi]'" in out


def test_the_sse_stream_and_the_cli_share_one_form_of_each_event() -> None:
    """An SSE event's data is the event's record (watcher.event_record) less its kind, which
    names the SSE event; only a poll failure's error is shortened, without the URL."""
    from mistral_jobs_async import ServerError
    from mistral_jobs_async.fastapi import _payload
    from mistral_jobs_async.models import FineTuningJob
    from mistral_jobs_async.watcher import (
        CheckpointReported,
        JobStalled,
        JobVanished,
        MetadataChanged,
        PollFailed,
        Transition,
        event_record,
    )

    events: list[Any] = [
        Transition("j", "QUEUED", "RUNNING", FineTuningJob(id="j", status="RUNNING"), 2.0),
        JobVanished("j", "RUNNING", 3.0),
        JobStalled("j", "RUNNING", 1.0, 4.0),
        CheckpointReported("j", 10, 0.5, 0.6, 0.7, 100, 5.0),
        MetadataChanged("j", {"cost": 1.0}, 6.0),
    ]
    for event in events:
        record = event_record(event)
        name, data = _payload(event)
        assert {"event": name, **data} == record
    error = ServerError("boom", status_code=500, method="GET", url="http://internal:9/v1/x")
    name, data = _payload(PollFailed("j", error, 2, 7.0))
    assert name == "poll_failed"
    assert "internal:9" not in str(data)
    assert "internal:9" in event_record(PollFailed("j", error, 2, 7.0))["error"]
