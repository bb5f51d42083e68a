"""The complete stream: no status skipped, act-then-see, waits for a chosen status."""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from dataclasses import replace
from typing import Any

import anyio
import pytest

from mistral_jobs_async import AsyncClient, ConflictError, JobEndedError, RetryPolicy
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.models import FineTuningJob
from mistral_jobs_async.watcher import PollFailed, Transition, WatchConfig

from .conftest import BAD_JSONL, GOOD_JSONL, KEY_A

pytestmark = pytest.mark.anyio

# Statuses at emulator speed 200 last 0.005-0.04 s: less than one poll of this cadence.
QUICK = WatchConfig(
    fast_interval=0.05,
    base_interval=0.1,
    max_interval=0.3,
    coalesce=0.05,
    requests_per_second=2000,
    max_in_flight=8,
)


@pytest.fixture
async def client(emu: Emulator) -> Any:
    policy = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy, timeout=2.0) as c:
        yield c


async def _mixed_jobs(client: AsyncClient, count: int) -> tuple[list[str], set[str]]:
    """``count`` jobs: a tenth fail validation, a tenth wait for start, the rest run."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="good.jsonl")).id
    bad = (await client.files.upload(io.BytesIO(BAD_JSONL), filename="bad.jsonl")).id
    ids, parked = [], set()
    for n in range(count):
        job = await client.fine_tuning.jobs.create(
            model="open-mistral-7b",
            training_files=[bad if n % 10 == 0 else good],
            auto_start=n % 10 != 1,
            hyperparameters={"training_steps": 10 + 10 * (n % 4)},
        )
        ids.append(job.id)
        if n % 10 == 1:
            parked.add(job.id)
    return ids, parked


def _history(emu: Emulator, job_id: str) -> list[str]:
    return [e["data"]["status"] for e in emu.job(job_id)["events"]]


FAULTS = {
    "no faults": [],
    "503s, truncated bodies, 429s": [
        Fault.http(503, rate=0.05, method="GET"),
        Fault.truncate(rate=0.03, method="GET"),
        Fault.http(429, retry_after=0.2, rate=0.01, method="GET"),
    ],
}


@pytest.mark.parametrize("faults", list(FAULTS), ids=list(FAULTS))
@pytest.mark.mistral_emulator(seed=11, speed=0.0, failure_rate=0.2)
@pytest.mark.timeout(120)
async def test_no_status_is_skipped_when_statuses_outlast_no_poll(
    emu: Emulator, client: AsyncClient, faults: str
) -> None:
    """300 jobs whose statuses each last less than a poll: every job's reported chain is its
    events history from the first observation on, each status once, and the watch ends."""
    ids, parked = await _mixed_jobs(client, 300)
    to_cancel = set(ids[2::30])
    seen: dict[str, list[str]] = defaultdict(list)
    previous: dict[str, str | None] = {}
    emu.inject(*FAULTS[faults])
    async with client.fine_tuning.jobs.watch(ids, config=QUICK) as events:
        async for event in events:
            if isinstance(event, PollFailed):
                continue
            assert isinstance(event, Transition), event
            job: FineTuningJob = event.job  # typed as the API's own job class
            assert job.id == event.job_id
            assert event.previous == previous.get(event.job_id), event
            previous[event.job_id] = event.status
            seen[event.job_id].append(event.status)
            if len(previous) == len(ids) and emu.speed == 0.0:
                emu.speed = 200.0  # every job seen once: now let them race
            if event.waiting_for_start:
                assert event.job_id in parked
                await client.fine_tuning.jobs.start(event.job_id)
            if event.status == "VALIDATING" and event.job_id in to_cancel:
                with contextlib.suppress(ConflictError):  # it may have ended meanwhile
                    await client.fine_tuning.jobs.cancel(event.job_id)
    stats = events.watcher.stats
    assert emu.speed == 200.0
    for job_id in ids:
        history = _history(emu, job_id)
        reported = seen[job_id]
        assert reported == history[history.index(reported[0]) :], (job_id, reported, history)
        assert reported[0] == "QUEUED"  # first seen before the clock ran: the whole story
    assert {seen[i][-1] for i in ids} >= {"SUCCESS", "FAILED_VALIDATION", "CANCELLED"}
    assert stats.history_requests > 0  # the sweeps' gaps were read back from events
    emu.clear_faults()


@pytest.mark.mistral_emulator(seed=5, speed=0.0)
@pytest.mark.timeout(60)
async def test_start_is_seen_at_once_and_nothing_is_skipped(
    emu: Emulator, client: AsyncClient
) -> None:
    """A parked job is reported as waiting for start; after start() its next statuses arrive
    within a couple of fast intervals (not at the parked job's slow cadence), none skipped."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[good],
        auto_start=False,
        hyperparameters={"training_steps": 10},
    )
    emu.speed = 20.0
    slow = WatchConfig(fast_interval=0.1, base_interval=2.0, max_interval=10.0, coalesce=0.0)
    reported: list[str] = []
    started_at = seen_after_start = 0.0
    async with client.fine_tuning.jobs.watch(job.id, config=slow) as events:
        async for event in events:
            assert isinstance(event, Transition), event
            reported.append(event.status)
            if event.waiting_for_start:
                await anyio.sleep(0.5)  # parked: polled at max_interval (10 s) from now on
                started_at = anyio.current_time()
                await client.fine_tuning.jobs.start(job.id)
            elif started_at and not seen_after_start:
                seen_after_start = anyio.current_time()
    assert reported[reported.index("VALIDATED") :] == ["VALIDATED", "STARTED", "RUNNING", "SUCCESS"]
    assert seen_after_start - started_at < 2 * slow.fast_interval + 0.3


@pytest.mark.mistral_emulator(seed=5, speed=50.0)
@pytest.mark.timeout(60)
async def test_wait_until_a_status(emu: Emulator, client: AsyncClient) -> None:
    """wait(until=VALIDATED) returns the parked job with its estimate; a job that ends
    elsewhere raises JobEndedError naming where it ended."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    bad = (await client.files.upload(io.BytesIO(BAD_JSONL), filename="b.jsonl")).id
    jobs = client.fine_tuning.jobs
    parked = await jobs.create(model="open-mistral-7b", training_files=[good], auto_start=False)
    failing = await jobs.create(model="open-mistral-7b", training_files=[bad], auto_start=True)
    config = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.3)
    with anyio.fail_after(30):
        validated = await jobs.wait(parked.id, until="VALIDATED", config=config)
        assert validated.status == "VALIDATED"
        assert validated.metadata is not None
        with pytest.raises(JobEndedError, match="ended FAILED_VALIDATION without reaching RUNNING"):
            await jobs.wait(failing.id, until={"RUNNING"}, config=config)
        ended = await jobs.wait(failing.id, config=config)
    assert ended.status == "FAILED_VALIDATION"


@pytest.mark.parametrize("until", ["", [], [""], 3])
async def test_wait_until_refuses_what_is_not_statuses(client: AsyncClient, until: Any) -> None:
    """An empty or non-string ``until`` is an InvalidRequestError before any request."""
    from mistral_jobs_async import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="until"):
        await client.fine_tuning.jobs.wait("job-1", until=until)


async def test_transition_repr_is_one_short_line(emu: Emulator, client: AsyncClient) -> None:
    """A Transition prints as id, previous and status, not the whole job."""
    job = FineTuningJob(id="job-1", status="RUNNING", events=[])
    event = Transition("job-1", "STARTED", "RUNNING", job, 1.0)
    assert repr(event) == "Transition('job-1', STARTED -> RUNNING)"
    assert "missed" in repr(Transition("job-1", None, "SUCCESS", job, 1.0, missed=True))


@pytest.mark.mistral_emulator(seed=8, speed=0.0)
@pytest.mark.timeout(60)
async def test_watch_all_follows_matching_jobs_created_during_the_watch(
    emu: Emulator, client: AsyncClient
) -> None:
    """A watch by query reports every live job that matches, jobs created after it began
    included; ended and non-matching jobs are left out."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    jobs = client.fine_tuning.jobs

    async def make(suffix: str) -> str:
        job = await jobs.create(
            model="open-mistral-7b", training_files=[good], auto_start=True, suffix=suffix,
            hyperparameters={"training_steps": 10},
        )  # fmt: skip
        return job.id

    before = [await make("ours") for _ in range(3)]
    ended = await make("ours")
    emu.set_status(ended, "SUCCESS")
    others = [await make("theirs") for _ in range(2)]
    later: list[str] = []
    seen: dict[str, list[str]] = defaultdict(list)
    with anyio.fail_after(30):
        async with jobs.watch_all(suffix="ours", config=QUICK) as events:
            async for event in events:
                assert isinstance(event, Transition), event
                seen[event.job_id].append(event.status)
                if set(before) <= set(seen) and not later:
                    later = [await make("ours") for _ in range(2)]
                    others.append(await make("theirs"))
                    emu.speed = 50.0
                ours = before + later
                if later and all(seen[i] and seen[i][-1] == "SUCCESS" for i in ours):
                    break
    assert set(seen) == set(before + later)  # not the ended one, not the others
    for job_id in before + later:
        history = _history(emu, job_id)
        assert seen[job_id] == history[history.index(seen[job_id][0]) :]


@pytest.mark.mistral_emulator(seed=8, speed=0.0)
async def test_watch_all_can_include_ended_jobs(emu: Emulator, client: AsyncClient) -> None:
    """include_ended reports jobs already ended when found, once, as their first status."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    emu.set_status(job.id, "CANCELLED")
    with anyio.fail_after(10):
        async with client.fine_tuning.jobs.watch_all(include_ended=True, config=QUICK) as events:
            event = await events.__anext__()
    assert isinstance(event, Transition)
    assert (event.job_id, event.previous, event.status) == (job.id, None, "CANCELLED")


@pytest.mark.mistral_emulator(seed=2, speed=0.0)
@pytest.mark.timeout(90)
async def test_one_corrupt_list_page_costs_no_more_than_two_cadences(emu: Emulator) -> None:
    """600 jobs, one list page answered with a broken body: the sweep is taken up again where
    it stopped (no GET storm), and every change is still seen within two cadences."""
    config = WatchConfig(
        fast_interval=0.1, base_interval=0.25, max_interval=0.5, coalesce=0.1,
        requests_per_second=50, max_in_flight=4, jitter=0.0,
    )  # fmt: skip
    policy = RetryPolicy(max_retries=0)  # the broken page reaches the watcher
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as client:
        good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
        ids = [
            (
                await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
            ).id
            for _ in range(600)
        ]
        first_seen = 0
        changed_at = 0.0
        lag = 0.0
        moved: set[str] = set()
        with anyio.fail_after(60):
            async with client.fine_tuning.jobs.watch(ids, config=config) as events:
                async for event in events:
                    assert isinstance(event, Transition), event
                    if event.previous is None:
                        first_seen += 1
                        if first_seen == len(ids):
                            await anyio.sleep(1.0)  # the cadence settles at max_interval
                            emu.clear_requests()
                            emu.inject(Fault.corrupt(times=1, method="GET", path=LIST))
                            for job_id in ids:
                                emu.set_status(job_id, "VALIDATING", hold=True)
                            changed_at = anyio.current_time()
                        continue
                    assert event.status == "VALIDATING"
                    moved.add(event.job_id)
                    if len(moved) == len(ids):
                        lag = anyio.current_time() - changed_at
                        break
    assert sum(1 for r in emu.requests if r.fault is not None) == 1  # the page did break
    assert emu.request_count("GET", ONE) < 50  # no GET storm in its place
    assert lag < 2 * config.max_interval + 0.5, lag


LIST = "/v1/fine_tuning/jobs"
ONE = "/v1/fine_tuning/jobs/{job_id}"


@pytest.mark.mistral_emulator(seed=8, speed=0.0)
@pytest.mark.timeout(30)
async def test_watch_all_keeps_removed_jobs_out_and_sees_jobs_that_ended_quickly(
    emu: Emulator, client: AsyncClient
) -> None:
    """A job removed from a watch by query is not found again; a job created during the
    watch is reported even if it ended before the next walk of the list."""
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    jobs = client.fine_tuning.jobs
    first = await jobs.create(model="open-mistral-7b", training_files=[good])
    config = replace(QUICK, base_interval=0.1)
    seen: list[tuple[str, str | None, str]] = []
    with anyio.fail_after(20):
        async with jobs.watch_all(config=config) as events:
            event = await events.__anext__()
            assert isinstance(event, Transition)
            assert event.job_id == first.id
            events.watcher.remove(first.id)
            quick = await jobs.create(model="open-mistral-7b", training_files=[good])
            emu.set_status(quick.id, "SUCCESS")  # ended before any walk could see it running
            async for event in events:
                assert isinstance(event, Transition), event
                seen.append((event.job_id, event.previous, event.status))
                if event.job_id == quick.id:
                    break
            await anyio.sleep(0.5)  # several more walks of the list
            assert first.id not in events.watcher.job_ids
    assert seen == [(quick.id, None, "SUCCESS")]
