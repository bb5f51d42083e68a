"""Bodies aiohttp cannot read, option misuse, forced statuses: clear errors, never a 500."""

from __future__ import annotations

import asyncio
import gzip
import logging
import math
import subprocess
import sys

import anyio
import pytest

from mistral_jobs_async import EmulatorError
from mistral_jobs_async.emulator import Emulator, Fault

from .conftest import GOOD_JSONL, Api, MakeApi, SpecChecker

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}
PART = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"no boundary anywhere", MULTIPART),
        (PART + b"cut off before the closing boundary", MULTIPART),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n'
            b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nfine-tune\r\n--xyz--\r\n",
            MULTIPART,
        ),
        (b"garbage", {**MULTIPART, "Content-Encoding": "gzip"}),
    ],
    ids=["no-boundary", "truncated", "bad-charset", "bad-gzip"],
)
async def test_unreadable_uploads_are_400(api: Api, body: bytes, headers: dict[str, str]) -> None:
    """Broken multipart framing, charsets or encodings are a 400, and store nothing."""
    status, answer = await api.call("POST", "/v1/files", data=body, headers=headers)
    assert status == 400, answer
    assert "multipart" in answer["message"].lower() or "body" in answer["message"].lower()
    assert (await api.call("GET", "/v1/files"))[1]["total"] == 0


async def test_unreadable_json_body_is_400(api: Api) -> None:
    """A body that fails to decompress is a 400, not a 500."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    # aiohttp's server drops a connection whose body stream broke, after answering: ask for
    # a fresh connection so that the next request does not land on the dead one.
    status, answer = await api.call(
        "POST", FT, data=b"not gzip", headers={**headers, "Connection": "close"}
    )
    assert status == 400
    assert "body" in answer["message"]
    good = gzip.compress(b'{"model": "open-mistral-7b"}')
    status, answer = await api.call("POST", FT, data=good, headers=headers)
    assert status == 400
    assert "training_files" in answer["message"]


@pytest.mark.parametrize("path", [FT, "/forge/training/jobs"])
async def test_empty_body_says_so(api: Api, path: str) -> None:
    """An empty body is named as such."""
    status, answer = await api.call("POST", path, data=b"")
    assert status == 400
    assert "empty" in answer["message"]


@pytest.mark.parametrize("steps", [1_000_001, 10**30])
async def test_absurd_training_steps_are_refused(api: Api, steps: int) -> None:
    """training_steps beyond a million is a 400 for both APIs (no never-ending job)."""
    uploaded = await api.upload(GOOD_JSONL)
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]}
    status, answer = await api.call(
        "POST", FT, json={**body, "hyperparameters": {"training_steps": steps}}
    )
    assert status == 400
    assert "training_steps" in answer["message"]
    forge = {
        "job_type": "pre_training",
        "model_config": {},
        "hyperparameters": {"training_steps": steps},
    }
    status, answer = await api.call("POST", "/forge/training/jobs", json=forge)
    assert status == 400
    assert "training_steps" in answer["message"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-11-14T22:13:20Z", 1_700_000_000),
        ("2023-11-14T22:13:20.12345Z", 1_700_000_000),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000),
        ("2023-11-14", 1_699_920_000),
    ],
)
async def test_created_after_accepts_iso_forms(
    emu: Emulator, api: Api, value: str, expected: int
) -> None:
    """created_after takes fractions of any length, offsets, naive (UTC) and date-only forms."""
    emu.clock.advance(max(0.0, expected + 1 - emu.now()))
    uploaded = await api.upload(GOOD_JSONL)
    await api.create_ft(uploaded["id"])
    status, body = await api.call("GET", f"{FT}?created_after={value.replace('+', '%2B')}")
    assert status == 200, body


async def test_forced_success_gets_its_model_and_loses_it_when_moved_on(
    emu: Emulator, api: Api
) -> None:
    """A forced SUCCESS carries fine_tuned_model; forcing the job elsewhere removes it."""
    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(uploaded["id"])
    emu.set_status(job["id"], "SUCCESS")
    assert emu.job(job["id"])["fine_tuned_model"].startswith("ft:")
    assert emu.job(job["id"])["trained_tokens"] > 0
    emu.set_status(job["id"], "RUNNING", hold=True)
    assert "fine_tuned_model" not in emu.job(job["id"])
    forge = await api.create_forge()
    emu.set_status(forge["id"], "SUCCESS")
    assert emu.job(forge["id"])["output_model"].startswith("forge:")


async def test_early_answers_are_spec_checked(spec_checker: SpecChecker, make_api: MakeApi) -> None:
    """401s (no key) are observed and checked like every other answer."""
    before = spec_checker.checked
    await make_api(None).call("GET", FT)
    assert spec_checker.checked == before + 1


def test_option_misuse_is_an_emulator_error() -> None:
    """Bad options fail at once with EmulatorError (also a ValueError), never later with a 500."""
    with pytest.raises(EmulatorError, match="collection"):
        Emulator(api_keys="one-key")
    with pytest.raises(EmulatorError, match="speed"):
        Emulator(speed=math.nan)
    with pytest.raises(EmulatorError, match="rate limit"):
        Emulator(rate_limit=0)
    emu = Emulator()
    with pytest.raises(EmulatorError, match="forward"):
        emu.advance(math.inf)
    with pytest.raises(ValueError, match="speed"):
        emu.speed = -1
    with pytest.raises(EmulatorError, match="no job"):
        emu.job("missing")


def test_fault_phases_are_consistent() -> None:
    """Latency cannot fire after the answer; truncation always does."""
    with pytest.raises(EmulatorError, match="latency"):
        Fault(kind="latency", latency=1, after=True)
    assert Fault(kind="truncate").after is True
    with pytest.raises(EmulatorError, match="retry_after"):
        Fault.http(429, retry_after=math.nan)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rate-limit", "0"], "--rate-limit"),
        (["--port", "70000"], "--port"),
        (["--speed", "nan"], "--speed"),
        (["--failure-rate", "3"], "--failure-rate"),
    ],
)
def test_cli_refuses_bad_values_in_one_line(args: list[str], needle: str) -> None:
    """Bad option values exit 2 with one line naming the option, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "mistral_jobs_async", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_client_leaving_mid_body_is_not_an_error(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that hangs up while sending its body (its own timeout) logs no internal error."""
    host, port = emu.url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST {FT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer k\r\n"
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model": '.encode()
    )
    await writer.drain()
    await anyio.sleep(0.1)  # the handler is reading the body
    writer.close()
    await writer.wait_closed()
    await anyio.sleep(0.2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert emu.job_ids("k") == []
