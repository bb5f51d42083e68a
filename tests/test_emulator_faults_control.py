"""Rate limits, injected faults, and the control path (HTTP and Python)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import aiohttp
import anyio
import pytest

from mistral_jobs_async.emulator import Emulator, Fault

from .conftest import GOOD_JSONL, KEY_A, Api, MakeApi, SpecChecker

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"


@pytest.mark.mistral_emulator(seed=1, speed=0.0, rate_limit=2)
async def test_rate_limit_is_per_key_with_retry_after(emu: Emulator, api: Api, api_b: Api) -> None:
    """Past its requests/second a key gets 429 with Retry-After; another key is unaffected."""
    statuses = []
    headers = []
    for _ in range(4):
        async with api.session.get(api.base + FT, headers=api.headers()) as response:
            statuses.append(response.status)
            headers.append(response.headers.get("Retry-After"))
            body = await response.json()
    assert statuses[:2] == [200, 200]
    assert statuses[2:] == [429, 429]
    assert headers[-1] is not None
    assert int(headers[-1]) >= 1
    assert body["code"] == 429
    assert body["type"] == "rate_limited"
    status, _ = await api_b.call("GET", FT)
    assert status == 200


async def test_rate_limit_refills_with_time() -> None:
    """The bucket refills at the configured rate (injected monotonic clock)."""
    now = [0.0]
    async with (
        Emulator(seed=1, speed=0, rate_limit=1, monotonic=lambda: now[0]) as emu,
        aiohttp.ClientSession() as session,
    ):
        raw = Api(session, emu.url, "k")
        assert (await raw.call("GET", FT))[0] == 200
        assert (await raw.call("GET", FT))[0] == 429
        now[0] += 1.0
        assert (await raw.call("GET", FT))[0] == 200


@pytest.mark.parametrize("code", [429, 500, 502, 503])
async def test_scripted_status_faults(emu: Emulator, api: Api, code: int) -> None:
    """A scripted fault answers once with its status and the Error body, then clears."""
    emu.inject(Fault.http(code, retry_after=3, times=1))
    async with api.session.get(api.base + FT, headers=api.headers()) as response:
        assert response.status == code
        assert response.headers["Retry-After"] == "3"
        assert (await response.json())["code"] == code
    assert (await api.call("GET", FT))[0] == 200
    assert emu.faults == []
    assert [r.fault for r in emu.requests] == ["status", None]


async def test_retry_after_as_http_date(emu: Emulator, api: Api) -> None:
    """Retry-After can be sent as an HTTP date."""
    emu.inject(Fault.http(503, retry_after=30, retry_after_http_date=True, times=1))
    async with api.session.get(api.base + FT, headers=api.headers()) as response:
        when = parsedate_to_datetime(response.headers["Retry-After"])
    assert 20 < when.timestamp() - time.time() <= 31


async def test_fault_script_runs_in_order_and_matches_routes(emu: Emulator, api: Api) -> None:
    """Rules fire in order, only on matching method and path."""
    emu.inject(
        Fault.http(500, times=1, method="POST", path="/v1/fine_tuning/*"),
        Fault.http(502, times=1),
    )
    assert (await api.call("GET", FT))[0] == 502
    assert (await api.call("GET", FT))[0] == 200
    assert (await api.call("POST", FT, json={}))[0] == 500
    assert (await api.call("POST", FT, json={}))[0] == 400


async def test_fault_rate_is_seeded(api: Api) -> None:
    """A fault with rate 0.5 fires on about half the requests, the same ones for one seed."""
    runs = []
    for _ in range(2):
        async with Emulator(seed=9, speed=0) as other:
            other.inject(Fault.http(503, rate=0.5))
            raw = Api(api.session, other.url, "k")
            runs.append([(await raw.call("GET", FT))[0] for _ in range(60)])
    assert runs[0] == runs[1]
    assert 15 < runs[0].count(503) < 45


async def test_status_fault_before_changes_nothing(emu: Emulator, api: Api) -> None:
    """A fault before handling leaves no trace: no job is created."""
    uploaded = await api.upload(GOOD_JSONL)
    emu.inject(Fault.http(503, times=1))
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]}
    assert (await api.call("POST", FT, json=body))[0] == 503
    assert (await api.call("GET", FT))[1]["total"] == 0


async def test_status_fault_after_keeps_the_effect(emu: Emulator, api: Api) -> None:
    """A fault after handling loses the answer but keeps the job (why POSTs are not retried)."""
    uploaded = await api.upload(GOOD_JSONL)
    emu.inject(Fault.http(502, times=1, after=True))
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]}
    assert (await api.call("POST", FT, json=body))[0] == 502
    assert (await api.call("GET", FT))[1]["total"] == 1


@pytest.mark.off_spec("a dropped connection has no answer to check")
async def test_drop_closes_the_connection(emu: Emulator, api: Api) -> None:
    """A dropped request gets no answer at all: the client sees a disconnect."""
    uploaded = await api.upload(GOOD_JSONL)
    emu.inject(Fault.drop(times=1, after=True))
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", FT, json=body)
    assert (await api.call("GET", FT))[1]["total"] == 1
    assert emu.requests[-2].status == 0
    assert emu.requests[-2].fault == "drop"


async def test_truncated_body(emu: Emulator, api: Api) -> None:
    """A truncated answer announces more bytes than it sends, then closes."""
    emu.inject(Fault.truncate(times=1))
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.call("GET", FT)
    assert (await api.call("GET", FT))[0] == 200


async def test_latency_fault(emu: Emulator, api: Api) -> None:
    """Added latency delays the answer by at least that long."""
    emu.inject(Fault.delay(0.3, times=1))
    started = time.monotonic()
    assert (await api.call("GET", FT))[0] == 200
    assert time.monotonic() - started >= 0.3


def test_fault_arguments_are_checked() -> None:
    """Nonsense fault rules are refused when built."""
    with pytest.raises(ValueError, match="status"):
        Fault.http(200)
    with pytest.raises(ValueError, match="rate"):
        Fault.drop(rate=2)
    with pytest.raises(ValueError, match="times"):
        Fault.drop(times=0)


async def test_control_path_needs_the_control_token(emu: Emulator, make_api: MakeApi) -> None:
    """The control path refuses API keys (403) and missing tokens (401)."""
    status, body = await make_api(KEY_A).call("GET", "/_emulator/state")
    assert status == 403
    assert "control token" in body["message"]
    status, _ = await make_api(None).call("GET", "/_emulator/state")
    assert status == 401
    assert emu.control_token is not None
    status, state = await make_api(emu.control_token).call("GET", "/_emulator/state")
    assert status == 200
    assert state["jobs"] == 0


@pytest.mark.mistral_emulator(seed=1, speed=0.0, control_token=None)
async def test_control_path_can_be_disabled(make_api: MakeApi) -> None:
    """control_token=None turns the control path off."""
    status, _ = await make_api("anything").call("GET", "/_emulator/state")
    assert status == 404


async def test_control_over_http(emu: Emulator, api: Api, make_api: MakeApi) -> None:
    """Clock, forced status, faults, rate limit, request log and reset work over HTTP."""
    control = make_api(emu.control_token)
    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(uploaded["id"], auto_start=True)
    before = emu.now()
    status, state = await control.call("POST", "/_emulator/clock", json={"advance": 3600})
    assert status == 200
    assert state["time"] >= before + 3600
    assert (await api.call("GET", f"{FT}/{job['id']}"))[1]["status"] == "SUCCESS"
    status, forced = await control.call(
        "POST", f"/_emulator/jobs/{job['id']}/status", json={"status": "RUNNING", "hold": True}
    )
    assert (status, forced["status"]) == (200, "RUNNING")
    status, _ = await control.call("POST", "/_emulator/jobs/nope/status", json={"status": "X"})
    assert status == 404
    status, bad = await control.call("POST", "/_emulator/clock", json={"advance": -5})
    assert status == 400
    assert "forward" in bad["message"]
    status, _ = await control.call(
        "POST",
        "/_emulator/faults",
        json={"faults": [{"kind": "status", "status": 503, "times": 1}]},
    )
    assert status == 200
    assert (await api.call("GET", FT))[0] == 503
    status, _ = await control.call(
        "POST", "/_emulator/faults", json={"faults": [{"kind": "status", "status": 302}]}
    )
    assert status == 400
    status, _ = await control.call("PUT", "/_emulator/rate_limit", json={"rate": 1})
    assert status == 200
    await api.call("GET", FT)
    assert (await api.call("GET", FT))[0] == 429
    await control.call("PUT", "/_emulator/rate_limit", json={"rate": None})
    status, log = await control.call("GET", "/_emulator/requests")
    assert status == 200
    assert {entry["status"] for entry in log} >= {200, 503, 429}
    assert all(KEY_A not in str(entry) for entry in log)
    status, _ = await control.call("DELETE", f"/_emulator/jobs/{job['id']}")
    assert status == 200
    assert (await api.call("GET", f"{FT}/{job['id']}"))[0] == 404
    status, state = await control.call("POST", "/_emulator/reset")
    assert (status, state["jobs"], state["requests"]) == (200, 0, 0)


@pytest.mark.off_spec("forces a status the spec's enum does not list")
async def test_forced_unknown_status_sticks(emu: Emulator, api: Api) -> None:
    """A forced unknown status is served as is and never moves on by itself."""
    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(uploaded["id"], auto_start=True)
    emu.set_status(job["id"], "PAUSED_FOR_REVIEW")
    emu.advance(10_000)
    _, body = await api.call("GET", f"{FT}/{job['id']}")
    assert body["status"] == "PAUSED_FOR_REVIEW"
    _, listing = await api.call("GET", f"{FT}?status=PAUSED_FOR_REVIEW")
    assert listing["total"] == 1
    emu.set_status(job["id"], "RUNNING")
    emu.advance(10_000)
    _, body = await api.call("GET", f"{FT}/{job['id']}")
    assert body["status"] == "SUCCESS"


async def test_python_handle(emu: Emulator, api: Api) -> None:
    """The Python handle: counts, job snapshots, deletion, reset, unknown ids."""
    from mistral_jobs_async import EmulatorError

    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(uploaded["id"])
    assert emu.job_ids() == [job["id"]]
    assert emu.job_ids(KEY_A) == [job["id"]]
    assert emu.job(job["id"])["events"][0]["data"] == {"status": "QUEUED"}
    assert emu.request_count("POST", FT) == 1
    assert emu.request_count(route="/v1/files") == 1
    with pytest.raises(EmulatorError, match="no job"):
        emu.set_status("missing", "RUNNING")
    emu.reset()
    assert emu.job_ids() == []
    assert emu.requests == []
    assert (await api.call("GET", FT))[1]["total"] == 0


def test_thread_mode_serves_synchronous_callers() -> None:
    """``with Emulator()`` serves from a thread, usable from plain synchronous code."""
    import json
    import urllib.request

    with Emulator(seed=1) as emu:
        request = urllib.request.Request(emu.url + FT, headers={"Authorization": "Bearer k"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read()) == {"object": "list", "data": [], "total": 0}
        assert emu.request_count() == 1
    with pytest.raises(Exception, match="not started"):
        _ = emu.url


async def test_stop_closes_keepalive_connections_quickly(api: Api) -> None:
    """Stopping with an idle keep-alive connection open does not hang."""
    async with Emulator(seed=1, speed=0) as other:
        raw = Api(api.session, other.url, "k")
        await raw.call("GET", FT)
        started = time.monotonic()
    assert time.monotonic() - started < 5
    with anyio.fail_after(5), pytest.raises(aiohttp.ClientConnectionError):
        await raw.call("GET", FT)


async def test_spec_checker_sees_every_emulator(spec_checker: SpecChecker, api: Api) -> None:
    """Emulators built inside a test are spec-checked too, not only the ``emu`` fixture."""
    before = spec_checker.checked
    async with Emulator(seed=2) as other:
        await Api(api.session, other.url, "k").call("GET", FT)
    assert spec_checker.checked == before + 1
