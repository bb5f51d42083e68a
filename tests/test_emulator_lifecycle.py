"""Job lifecycles on the simulated clock, for both APIs."""

from __future__ import annotations

from typing import Any

import pytest

from mistral_jobs_async.emulator import Emulator, Timings

from .conftest import BAD_JSONL, GOOD_JSONL, Api

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"
FORGE = "/forge/training/jobs"


def statuses(job: dict[str, Any]) -> list[str]:
    return [e["data"]["status"] for e in job["events"] if e["name"] == "status-updated"]


async def get(api: Api, path: str) -> dict[str, Any]:
    status, body = await api.call("GET", path)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def test_fine_tuning_auto_start_runs_to_success(emu: Emulator, api: Api) -> None:
    """auto_start=true goes QUEUED → VALIDATING → VALIDATED → STARTED → RUNNING → SUCCESS."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True, suffix="demo")
    assert created["status"] == "QUEUED"
    assert created["object"] == "job"
    assert created["training_files"] == [uploaded["id"]]
    assert "fine_tuned_model" not in created
    seen = ["QUEUED"]
    modified = [created["modified_at"]]
    for _ in range(200):
        emu.advance(1.0)
        job = await get(api, f"{FT}/{created['id']}")
        if job["status"] != seen[-1]:
            seen.append(job["status"])
            modified.append(job["modified_at"])
        if job["status"] == "SUCCESS":
            break
    assert seen == ["QUEUED", "VALIDATING", "VALIDATED", "STARTED", "RUNNING", "SUCCESS"]
    assert modified == sorted(set(modified)), "modified_at must change on every status change"
    assert statuses(job) == seen
    assert job["fine_tuned_model"].startswith("ft:open-mistral-7b:")
    assert ":demo:" in job["fine_tuned_model"]
    assert job["trained_tokens"] == job["metadata"]["train_tokens"]
    losses = [c["metrics"]["train_loss"] for c in job["checkpoints"]]
    assert len(losses) == Timings().checkpoints
    assert losses == sorted(losses, reverse=True)
    assert len(set(losses)) == len(losses)
    steps = [c["step_number"] for c in job["checkpoints"]]
    assert steps == sorted(steps)
    assert steps[-1] == job["hyperparameters"]["training_steps"]


async def test_list_shows_summary_and_get_shows_detail(emu: Emulator, api: Api) -> None:
    """List items carry no events or checkpoints; GET carries both."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True)
    emu.advance(40)
    listing = await get(api, FT)
    assert "events" not in listing["data"][0]
    detail = await get(api, f"{FT}/{created['id']}")
    assert detail["events"]
    assert detail["checkpoints"]


async def test_duration_follows_training_steps(emu: Emulator, api: Api) -> None:
    """A job with ten times the steps runs about ten times longer."""
    uploaded = await api.upload(GOOD_JSONL)
    small = await api.create_ft(
        uploaded["id"], auto_start=True, hyperparameters={"training_steps": 20}
    )
    large = await api.create_ft(
        uploaded["id"], auto_start=True, hyperparameters={"training_steps": 200}
    )

    def running_time(job: dict[str, Any]) -> int:
        times = {e["data"]["status"]: e["created_at"] for e in job["events"]}
        return int(times["SUCCESS"] - times["RUNNING"])

    emu.advance(1000)
    short = running_time(await get(api, f"{FT}/{small['id']}"))
    long = running_time(await get(api, f"{FT}/{large['id']}"))
    assert long >= 8 * short


async def test_auto_start_false_parks_in_validated_until_start(emu: Emulator, api: Api) -> None:
    """Without auto_start the job waits in VALIDATED; start moves it on; start twice is 409."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"])
    assert created["auto_start"] is False
    status, early = await api.call("POST", f"{FT}/{created['id']}/start")
    assert status == 409
    assert "VALIDATED" in early["message"]
    emu.advance(10_000)
    job = await get(api, f"{FT}/{created['id']}")
    assert job["status"] == "VALIDATED"
    status, started = await api.call("POST", f"{FT}/{created['id']}/start")
    assert status == 200
    assert started["status"] == "STARTED"
    assert "events" in started
    status, _ = await api.call("POST", f"{FT}/{created['id']}/start")
    assert status == 409
    emu.advance(1000)
    assert (await get(api, f"{FT}/{created['id']}"))["status"] == "SUCCESS"


async def test_invalid_training_file_fails_validation(emu: Emulator, api: Api) -> None:
    """A file that is not fine-tuning JSONL ends the job in FAILED_VALIDATION."""
    uploaded = await api.upload(BAD_JSONL, filename="broken.jsonl")
    created = await api.create_ft(uploaded["id"], auto_start=True)
    emu.advance(1000)
    job = await get(api, f"{FT}/{created['id']}")
    assert job["status"] == "FAILED_VALIDATION"
    assert statuses(job) == ["QUEUED", "VALIDATING", "FAILED_VALIDATION"]
    assert "broken.jsonl" in job["events"][-1]["data"]["error"]
    assert "fine_tuned_model" not in job


@pytest.mark.mistral_emulator(seed=3, speed=0.0, failure_rate=1.0)
async def test_failure_rate_fails_jobs_while_running(emu: Emulator, api: Api) -> None:
    """With failure_rate=1 every job fails after RUNNING, with fewer checkpoints."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True)
    forge = await api.create_forge(auto_start=True)
    emu.advance(10_000)
    job = await get(api, f"{FT}/{created['id']}")
    assert statuses(job)[-2:] == ["RUNNING", "FAILED"]
    assert len(job["checkpoints"]) < Timings().checkpoints
    assert "fine_tuned_model" not in job
    forge_job = await get(api, f"{FORGE}/{forge['id']}")
    assert statuses(forge_job)[-2:] == ["RUNNING", "FAILED"]
    assert "output_model" not in forge_job


async def test_cancel_goes_through_cancellation_requested(emu: Emulator, api: Api) -> None:
    """Cancel → CANCELLATION_REQUESTED → CANCELLED; cancelling again while pending is a no-op."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True)
    emu.advance(30)
    status, cancelled = await api.call("POST", f"{FT}/{created['id']}/cancel")
    assert status == 200
    assert cancelled["status"] == "CANCELLATION_REQUESTED"
    status, again = await api.call("POST", f"{FT}/{created['id']}/cancel")
    assert (status, again["status"]) == (200, "CANCELLATION_REQUESTED")
    emu.advance(30)
    job = await get(api, f"{FT}/{created['id']}")
    assert job["status"] == "CANCELLED"
    assert statuses(job)[-2:] == ["CANCELLATION_REQUESTED", "CANCELLED"]


async def test_cancel_finished_job_is_409(emu: Emulator, api: Api) -> None:
    """A job that ended cannot be cancelled: 409 with the Error body, status unchanged."""
    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True)
    forge = await api.create_forge(auto_start=True)
    emu.advance(10_000)
    for path in (f"{FT}/{created['id']}", f"{FORGE}/{forge['id']}"):
        status, body = await api.call("POST", f"{path}/cancel")
        assert status == 409
        assert "SUCCESS" in body["message"]
        assert (await get(api, path))["status"] == "SUCCESS"


async def test_forge_lifecycle_and_cancel(emu: Emulator, api: Api) -> None:
    """Forge: QUEUED → VALIDATING → RUNNING → SUCCESS with output_model; cancel is immediate."""
    done = await api.create_forge(auto_start=True, hyperparameters={"training_steps": 50})
    to_cancel = await api.create_forge(auto_start=True)
    assert done["status"] == "QUEUED"
    emu.advance(5)
    status, cancelled = await api.call("POST", f"{FORGE}/{to_cancel['id']}/cancel")
    assert (status, cancelled["status"]) == (200, "CANCELLED")
    emu.advance(10_000)
    job = await get(api, f"{FORGE}/{done['id']}")
    assert statuses(job) == ["QUEUED", "VALIDATING", "RUNNING", "SUCCESS"]
    assert job["output_model"].startswith("forge:supervised_fine_tuning:")
    assert job["checkpoints"][-1]["step_number"] == 50
    assert (await get(api, f"{FORGE}/{to_cancel['id']}"))["status"] == "CANCELLED"


async def test_forge_auto_start_false_runs_by_default(emu: Emulator, api: Api) -> None:
    """Forge has no start endpoint: auto_start=false jobs run through (documented choice)."""
    created = await api.create_forge()
    assert created["auto_start"] is False
    emu.advance(10_000)
    assert (await get(api, f"{FORGE}/{created['id']}"))["status"] == "SUCCESS"


@pytest.mark.mistral_emulator(seed=1, speed=0.0, forge_hold_unstarted=True)
async def test_forge_hold_unstarted_parks_in_queued(emu: Emulator, api: Api) -> None:
    """With forge_hold_unstarted, auto_start=false Forge jobs stay QUEUED until forced on."""
    created = await api.create_forge()
    emu.advance(10_000)
    assert (await get(api, f"{FORGE}/{created['id']}"))["status"] == "QUEUED"
    emu.set_status(created["id"], "VALIDATING")
    emu.advance(10_000)
    assert (await get(api, f"{FORGE}/{created['id']}"))["status"] == "SUCCESS"


async def test_same_seed_same_story(api: Api) -> None:
    """Two emulators with one seed give the same ids, durations and outcomes."""
    stories = []
    for _ in range(2):
        async with Emulator(
            seed=42, speed=0.0, start_time=1_700_000_000, failure_rate=0.5
        ) as other:
            raw = Api(api.session, other.url, "k")
            uploaded = await raw.upload(GOOD_JSONL)
            ids = [(await raw.create_ft(uploaded["id"], auto_start=True))["id"] for _ in range(5)]
            other.advance(10_000)
            story = []
            for job_id in ids:
                job = await get(raw, f"{FT}/{job_id}")
                story.append(
                    (job_id, [(e["data"]["status"], e["created_at"]) for e in job["events"]])
                )
            stories.append(story)
    assert stories[0] == stories[1]
    outcomes = {events[-1][0] for _, events in stories[0]}
    assert outcomes == {"SUCCESS", "FAILED"}


@pytest.mark.mistral_emulator(seed=1, speed=500.0)
async def test_speed_factor_runs_lifecycles_in_real_time(emu: Emulator, api: Api) -> None:
    """At speed 500 a default job finishes within a fraction of a real second or so."""
    import anyio

    uploaded = await api.upload(GOOD_JSONL)
    created = await api.create_ft(uploaded["id"], auto_start=True)
    with anyio.fail_after(10):
        while (await get(api, f"{FT}/{created['id']}"))["status"] != "SUCCESS":  # noqa: ASYNC110 (polling the server is the point)
            await anyio.sleep(0.05)
