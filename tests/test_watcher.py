"""The watcher against the emulator on an accelerated clock."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
from collections import defaultdict
from typing import Any

import anyio
import pytest

from mistral_jobs_async import (
    AsyncClient,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RetryPolicy,
    WaitTimeoutError,
)
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.watcher import (
    JobStalled,
    JobVanished,
    PollFailed,
    Transition,
    VirtualClock,
    WatchConfig,
    WatchEvent,
)

from .conftest import BAD_JSONL, GOOD_JSONL, KEY_A

pytestmark = pytest.mark.anyio

FAST = WatchConfig(
    fast_interval=0.02,
    base_interval=0.05,
    max_interval=0.2,
    coalesce=0.05,
    requests_per_second=2000,
    max_in_flight=8,
)
LIST = "/v1/fine_tuning/jobs"
ONE = "/v1/fine_tuning/jobs/{job_id}"


@pytest.fixture
async def fast_client(emu: Emulator) -> Any:
    async with AsyncClient(KEY_A, base_url=emu.url, retry=RetryPolicy(backoff_initial=0.01)) as c:
        yield c


async def _files(client: AsyncClient) -> tuple[str, str]:
    good = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="good.jsonl")
    bad = await client.files.upload(io.BytesIO(BAD_JSONL), filename="bad.jsonl")
    return good.id, bad.id


async def _short_jobs(client: AsyncClient, count: int) -> list[str]:
    """``count`` auto-started 10-step fine-tuning jobs."""
    good, _ = await _files(client)
    jobs = [
        await client.fine_tuning.jobs.create(
            model="open-mistral-7b",
            training_files=[good],
            auto_start=True,
            hyperparameters={"training_steps": 10},
        )
        for _ in range(count)
    ]
    return [job.id for job in jobs]


def _emulator_story(emu: Emulator, job_id: str) -> list[tuple[str, int]]:
    job = emu.job(job_id)
    return [(e["data"]["status"], e["created_at"]) for e in job["events"]]


@pytest.mark.mistral_emulator(seed=7, speed=0.0, failure_rate=0.2)
@pytest.mark.timeout(120)
async def test_five_hundred_jobs_every_lasting_transition_once_in_order(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """500 jobs of mixed outcomes: every status that lasted a poll interval is reported, in
    order, once; the iterator ends; the request log shows sweeps doing the work."""
    good, bad = await _files(fast_client)
    ids: list[str] = []
    parked: set[str] = set()
    for n in range(500):
        kind = n % 10
        job = await fast_client.fine_tuning.jobs.create(
            model="open-mistral-7b",
            training_files=[bad if kind == 0 else good],
            auto_start=kind != 1,
            hyperparameters={"training_steps": 20 + 10 * (n % 5)},
        )
        ids.append(job.id)
        if kind == 1:
            parked.add(job.id)
    to_cancel = set(ids[2::50])
    emu.clear_requests()
    emu.speed = 10.0  # the clock starts when the watch does
    seen: dict[str, list[str]] = defaultdict(list)
    previous: dict[str, str | None] = {}
    async with fast_client.fine_tuning.jobs.watch(ids, config=FAST) as events:
        async for event in events:
            assert isinstance(event, Transition), event
            assert event.previous == previous.get(event.job_id)
            previous[event.job_id] = event.status
            seen[event.job_id].append(event.status)
            if event.status == "VALIDATED" and event.job_id in parked:
                await fast_client.fine_tuning.jobs.start(event.job_id)
            if event.status == "RUNNING" and event.job_id in to_cancel:
                # On a slow machine the job may end before the cancel arrives: a 409, and
                # the job keeps its own ending.
                with contextlib.suppress(ConflictError):
                    await fast_client.fine_tuning.jobs.cancel(event.job_id)
    stats = events.watcher.stats
    # Every job ended, and its last reported status is its real final status.
    lasting = (FAST.max_interval + 0.3) * emu.speed  # one poll interval (+ a request), in sim s
    outcomes: set[str] = set()
    for job_id in ids:
        story = _emulator_story(emu, job_id)
        statuses = [s for s, _ in story]
        reported = seen[job_id]
        assert reported[-1] == statuses[-1]
        outcomes.add(statuses[-1])
        assert len(reported) == len(set(reported)), reported  # once
        positions = [statuses.index(s) for s in reported]
        assert positions == sorted(positions), (reported, statuses)  # in order
        for (status, start), (_, end) in itertools.pairwise(story):
            if end - start >= lasting:
                assert status in reported, (job_id, status, story, reported)
    assert outcomes == {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"}
    # The sweep strategy at work: list pages did most of the observing.
    lists, gets = emu.request_count("GET", LIST), emu.request_count("GET", ONE)
    assert lists > 0
    assert stats.sweeps > 0
    naive = stats.cycles * len(ids)
    assert lists + gets < naive / 20, (lists, gets, naive)


async def test_forge_jobs_are_watched_to_the_end(emu: Emulator, fast_client: AsyncClient) -> None:
    """Forge: QUEUED → VALIDATING → RUNNING → SUCCESS reported for each job (no list filter)."""
    emu.speed = 20.0
    ids = [
        (
            await fast_client.forge.jobs.create(
                job_type="pre_training", model_config={}, hyperparameters={"training_steps": 10}
            )
        ).id
        for _ in range(12)
    ]
    finals = {}
    async with fast_client.forge.jobs.watch(ids, config=FAST) as events:
        async for event in events:
            assert isinstance(event, Transition)
            if event.terminal:
                finals[event.job_id] = event.status
    assert finals == dict.fromkeys(ids, "SUCCESS")


async def test_wait_returns_the_finished_job(emu: Emulator, fast_client: AsyncClient) -> None:
    """wait() returns the detailed job in its terminal status."""
    emu.speed = 50.0
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[good],
        auto_start=True,
        hyperparameters={"training_steps": 10},
    )
    done = await fast_client.fine_tuning.jobs.wait(job.id, timeout=30, config=FAST)
    assert done.status == "SUCCESS"
    assert done.fine_tuned_model
    assert done.checkpoints


async def test_wait_timeout_and_parked_jobs(emu: Emulator, fast_client: AsyncClient) -> None:
    """A parked VALIDATED job is not finished: wait() times out with WaitTimeoutError."""
    emu.speed = 50.0
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    with pytest.raises(WaitTimeoutError) as caught:
        await fast_client.fine_tuning.jobs.wait(job.id, timeout=1.0, config=FAST)
    assert caught.value.last_status == "VALIDATED"
    assert isinstance(caught.value, TimeoutError)
    # The job keeps running and the client is still usable.
    assert (await fast_client.fine_tuning.jobs.get(job.id)).status == "VALIDATED"


async def test_vanished_job_is_confirmed_then_reported(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """A job that disappears is reported once as JobVanished, after a second 404."""
    good, _ = await _files(fast_client)
    keep = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    gone = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    events_seen: list[WatchEvent[Any]] = []
    async with fast_client.fine_tuning.jobs.watch([keep.id, gone.id], config=FAST) as events:
        async for event in events:
            events_seen.append(event)
            if isinstance(event, Transition) and event.job_id == gone.id:
                emu.delete_job(gone.id)
            if isinstance(event, JobVanished):
                events.watcher.remove([keep.id])
    vanished = [e for e in events_seen if isinstance(e, JobVanished)]
    assert [(v.job_id, v.last_status) for v in vanished] == [(gone.id, "QUEUED")]
    assert sum(1 for r in emu.requests if r.path.endswith(gone.id) and r.status == 404) == 2
    with pytest.raises(NotFoundError):
        await fast_client.fine_tuning.jobs.wait(gone.id, timeout=10, config=FAST)


@pytest.mark.off_spec("forces a status the spec's enum does not list")
async def test_unknown_status_is_reported_and_polled_on(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """An unknown status is a Transition, not an end: the job is polled until it really ends."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[good], auto_start=True
    )
    seen: list[str] = []
    async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
        async for event in events:
            assert isinstance(event, Transition)
            seen.append(event.status)
            if event.status == "QUEUED":
                emu.set_status(job.id, "PAUSED_FOR_REVIEW", hold=True)
            elif event.status == "PAUSED_FOR_REVIEW":
                assert not event.terminal
                await anyio.sleep(0.3)  # still polled, still not over
                emu.set_status(job.id, "SUCCESS")
    assert seen == ["QUEUED", "PAUSED_FOR_REVIEW", "SUCCESS"]


async def test_rate_limit_pauses_the_whole_watcher(emu: Emulator, fast_client: AsyncClient) -> None:
    """A 429 pauses every poll for its Retry-After: one 429, not a storm; the watch goes on."""
    emu.speed = 50.0
    ids = await _short_jobs(fast_client, 20)
    emu.clear_requests()
    emu.inject(Fault.http(429, retry_after=1, times=1))
    started = anyio.current_time()
    finals = 0
    async with fast_client.fine_tuning.jobs.watch(ids, config=FAST) as events:
        async for event in events:
            if isinstance(event, Transition) and event.terminal:
                finals += 1
    assert finals == 20
    assert events.watcher.stats.rate_limited == 1
    limited = [r for r in emu.requests if r.status == 429]
    assert len(limited) == 1
    after = [r for r in emu.requests if r.at > limited[0].at]
    assert after, "polling resumed"
    assert anyio.current_time() - started >= 1.0


async def test_auth_failure_ends_the_watch(emu: Emulator, fast_client: AsyncClient) -> None:
    """A 401 ends the watch with AuthenticationError; nothing is left running."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    emu.inject(Fault.http(401))

    async def watch_all() -> None:
        async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
            async for _ in events:
                pass

    with pytest.raises(AuthenticationError):
        await watch_all()
    emu.clear_faults()
    assert (await fast_client.fine_tuning.jobs.get(job.id)).id == job.id


async def test_poll_failures_are_events_and_the_watch_goes_on(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """Failures that outlast the client's retries are PollFailed events; polling continues."""
    emu.speed = 50.0
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[good],
        auto_start=True,
        hyperparameters={"training_steps": 10},
    )
    emu.inject(Fault.http(500, times=3, path=f"/v1/fine_tuning/jobs/{job.id}"))
    kinds: list[str] = []
    async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
        kinds.extend([type(event).__name__ async for event in events])
    assert kinds[0] == "PollFailed"
    assert kinds[-1] == "Transition"
    assert "PollFailed" not in kinds[1:]


async def test_slow_consumer_gets_everything_with_a_tiny_buffer(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """With a buffer of 1 and a slow consumer, every job's transitions still all arrive."""
    emu.speed = 30.0
    ids = await _short_jobs(fast_client, 10)
    config = WatchConfig(
        fast_interval=0.02,
        base_interval=0.05,
        max_interval=0.2,
        coalesce=0.05,
        requests_per_second=2000,
        buffer=1,
    )
    per_job: dict[str, list[str]] = defaultdict(list)
    async with fast_client.fine_tuning.jobs.watch(ids, config=config) as events:
        async for event in events:
            assert isinstance(event, Transition)
            per_job[event.job_id].append(event.status)
            await anyio.sleep(0.01)
    for job_id in ids:
        assert per_job[job_id][0] == "QUEUED"
        assert per_job[job_id][-1] == "SUCCESS"
        assert len(per_job[job_id]) == len(set(per_job[job_id]))


async def test_breaking_out_stops_every_poll(emu: Emulator, fast_client: AsyncClient) -> None:
    """Leaving the loop early stops polling at once: no task left, no further request."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    tasks_before = len(asyncio.all_tasks())
    async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
        async for _ in events:
            break
    count = emu.request_count()
    await anyio.sleep(0.3)
    assert emu.request_count() == count
    assert len(asyncio.all_tasks()) == tasks_before
    with anyio.move_on_after(0.2):
        async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
            async for _ in events:
                pass
    assert len(asyncio.all_tasks()) == tasks_before
    assert (await fast_client.fine_tuning.jobs.get(job.id)).id == job.id


async def test_cancelling_the_task_stops_the_watch(emu: Emulator, fast_client: AsyncClient) -> None:
    """Cancelling the consuming task from outside leaves nothing behind."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    tasks_before = len(asyncio.all_tasks())

    async def consume() -> None:
        async with fast_client.fine_tuning.jobs.watch([job.id], config=FAST) as events:
            async for _ in events:
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.sleep(0.2)
        tg.cancel_scope.cancel()
    assert len(asyncio.all_tasks()) == tasks_before
    count = emu.request_count()
    await anyio.sleep(0.2)
    assert emu.request_count() == count


async def test_resume_reports_what_happened_meanwhile(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """A watcher started from saved state reports changes made while none ran, flagged missed."""
    good, _ = await _files(fast_client)
    jobs = [
        (
            await fast_client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good], auto_start=True
            )
        ).id
        for _ in range(3)
    ]
    first: list[Transition[Any]] = []
    async with fast_client.fine_tuning.jobs.watch(jobs, config=FAST) as events:
        async for event in events:
            assert isinstance(event, Transition)
            first.append(event)
            if len(first) == 3:
                break
        state = events.save_state()
    assert {e.status for e in first} == {"QUEUED"}
    emu.advance(3600)  # everything happens while nobody watches
    second: list[Transition[Any]] = []
    async with fast_client.fine_tuning.jobs.watch([], config=FAST, state=state) as events:
        async for event in events:
            assert isinstance(event, Transition)
            second.append(event)
    for job_id in jobs:
        mine = [e for e in second if e.job_id == job_id]
        assert all(e.missed for e in mine)
        assert mine[0].previous == "QUEUED"
        assert [e.status for e in mine] == [
            "VALIDATING",
            "VALIDATED",
            "STARTED",
            "RUNNING",
            "SUCCESS",
        ]


async def test_add_remove_and_many_subscribers(emu: Emulator, fast_client: AsyncClient) -> None:
    """Jobs join and leave a running watcher; two subscribers share one set of polls."""
    emu.speed = 30.0
    good, _ = await _files(fast_client)

    async def new_job() -> str:
        return (
            await fast_client.fine_tuning.jobs.create(
                model="open-mistral-7b",
                training_files=[good],
                auto_start=True,
                hyperparameters={"training_steps": 10},
            )
        ).id

    first, second, dropped = await new_job(), await new_job(), await new_job()
    watcher = fast_client.fine_tuning.jobs.watcher(
        [first, dropped], config=FAST, close_when_done=False
    )
    got: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}

    async def consume(name: str, subscription: Any) -> None:
        async for event in subscription:
            if isinstance(event, Transition):
                got[name].append((event.job_id, event.status))
                if name == "a" and event.job_id == first and event.status == "QUEUED":
                    watcher.remove([dropped])
                    watcher.add([second])

    async with (
        watcher,
        watcher.subscribe() as a,
        watcher.subscribe(job_ids={first, second}) as b,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(consume, "a", a)
        tg.start_soon(consume, "b", b)
        ends = {(first, "SUCCESS"), (second, "SUCCESS")}
        with anyio.fail_after(30):
            # Until both subscribers have read both ends (the watcher may be done before).
            while not (ends <= set(got["a"]) and ends <= set(got["b"])):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        assert watcher.job_ids == []
        tg.cancel_scope.cancel()
    for name in ("a", "b"):
        statuses = {(j, s) for j, s in got[name]}
        assert (first, "SUCCESS") in statuses
        assert (second, "SUCCESS") in statuses
    assert all(j != dropped or s == "QUEUED" for j, s in got["a"])
    assert len(got["a"]) == len(set(got["a"]))
    assert got["b"] == [item for item in got["a"] if item[0] in (first, second)]


async def test_stalled_job_is_reported_once(emu: Emulator, fast_client: AsyncClient) -> None:
    """A job that keeps one status past stall_after gets one JobStalled event."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[good], auto_start=True
    )
    emu.set_status(job.id, "RUNNING", hold=True)
    config = WatchConfig(
        fast_interval=0.02,
        base_interval=0.05,
        max_interval=0.1,
        requests_per_second=2000,
        stall_after=0.3,
    )
    events_seen: list[WatchEvent[Any]] = []
    async with fast_client.fine_tuning.jobs.watch([job.id], config=config) as events:
        async for event in events:
            events_seen.append(event)
            if isinstance(event, JobStalled):
                await anyio.sleep(0.3)
                emu.set_status(job.id, "SUCCESS")
    kinds = [type(e).__name__ for e in events_seen]
    assert kinds.count("JobStalled") == 1
    assert kinds[-1] == "Transition"
    assert not any(isinstance(e, PollFailed) for e in events_seen)


async def test_cadence_grows_while_nothing_changes_and_resets_on_change(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """In virtual time: fast after a change, then base, growing to the cap; fast again on change."""
    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[good], auto_start=True
    )
    emu.set_status(job.id, "RUNNING", hold=True)
    clock = VirtualClock()
    config = WatchConfig(
        fast_interval=1, base_interval=2, max_interval=10, growth=2, jitter=0,
        requests_per_second=1e9, coalesce=0,
    )  # fmt: skip
    watcher = fast_client.fine_tuning.jobs.watcher([job.id], config=config, clock=clock)
    async with watcher, watcher.subscribe() as events:
        first = await events.__anext__()
        assert isinstance(first, Transition)
        assert first.status == "RUNNING"
        with anyio.fail_after(10):
            while watcher.stats.get_requests < 7:  # noqa: ASYNC110 (virtual time runs the loop)
                await anyio.sleep(0.01)
        emu.set_status(job.id, "CANCELLATION_REQUESTED", hold=True)
        second = await events.__anext__()
        assert isinstance(second, Transition)
        assert second.status == "CANCELLATION_REQUESTED"
        enough = watcher.stats.get_requests + 3
        with anyio.fail_after(10):
            while watcher.stats.get_requests < enough:  # noqa: ASYNC110
                await anyio.sleep(0.01)
    waits = [round(s, 3) for s in clock.sleeps if s > 1e-3]
    assert waits[:6] == [1, 2, 4, 8, 10, 10]
    changed = waits.index(1, 1)
    assert set(waits[4:changed]) == {10}  # capped until the change was seen
    assert set(waits[changed:]) == {1}  # then fast polls (and CANCELLATION_REQUESTED is fast)
    assert len(waits) - changed >= 2


async def test_resume_with_new_jobs_sweeping_alongside(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """Resumed jobs get their missed statuses even when new jobs make the watcher sweep."""
    good, _ = await _files(fast_client)

    async def new() -> str:
        job = await fast_client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=[good], auto_start=True
        )
        return job.id

    old = [await new() for _ in range(3)]
    async with fast_client.fine_tuning.jobs.watch(old, config=FAST) as events:
        seen = 0
        async for _ in events:
            seen += 1
            if seen == 3:
                break
        state = events.save_state()
    emu.advance(3600)
    fresh = [await new() for _ in range(3)]
    emu.speed = 200.0  # the new jobs run to their end while watched
    by_job: dict[str, list[Transition[Any]]] = defaultdict(list)
    async with fast_client.fine_tuning.jobs.watch(fresh, config=FAST, state=state) as events:
        async for event in events:
            assert isinstance(event, Transition)
            by_job[event.job_id].append(event)
    for job_id in old:
        assert [e.status for e in by_job[job_id]] == [
            "VALIDATING",
            "VALIDATED",
            "STARTED",
            "RUNNING",
            "SUCCESS",
        ]
        assert all(e.missed for e in by_job[job_id])
        assert [e.terminal for e in by_job[job_id]] == [False, False, False, False, True]
    for job_id in fresh:
        assert by_job[job_id][0].previous is None


async def test_saved_state_keeps_unread_events(emu: Emulator, fast_client: AsyncClient) -> None:
    """Events still in the buffer when the state is saved are reported after the resume."""
    good, _ = await _files(fast_client)
    ids = [
        (
            await fast_client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good]
            )
        ).id
        for _ in range(4)
    ]
    async with fast_client.fine_tuning.jobs.watch(ids, config=FAST) as events:
        first = await events.__anext__()
        with anyio.fail_after(5):
            while events.watcher.stats.transitions < 4:  # noqa: ASYNC110 (the others are buffered)
                await anyio.sleep(0.01)
        state = events.save_state()
    async with fast_client.fine_tuning.jobs.watch([], config=FAST, state=state) as events:
        later = []
        async for event in events:
            assert isinstance(event, Transition)
            later.append(event.job_id)
            if len(later) == 3:
                break
    assert sorted(later) == sorted(set(ids) - {first.job_id})


async def test_request_budget_is_honoured(emu: Emulator, fast_client: AsyncClient) -> None:
    """With requests_per_second=5, the emulator never sees more than that, retries included."""
    good, _ = await _files(fast_client)
    ids = [
        (
            await fast_client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good]
            )
        ).id
        for _ in range(3)
    ]
    emu.clear_requests()
    emu.inject(Fault.http(500, rate=0.3))
    config = WatchConfig(
        fast_interval=0.01, base_interval=0.01, max_interval=0.01, requests_per_second=5, coalesce=0
    )
    with anyio.move_on_after(2.5):
        async with fast_client.fine_tuning.jobs.watch(ids, config=config) as events:
            async for _ in events:
                pass
    times = sorted(r.at for r in emu.requests)  # frozen sim clock: use the order and count
    assert len(times) <= 5 * 2.5 + 2


async def test_pause_holds_requests_that_already_had_a_slot(
    emu: Emulator, fast_client: AsyncClient
) -> None:
    """After a 429, no request goes out before its Retry-After, even ones queued before it."""
    good, _ = await _files(fast_client)
    ids = [
        (
            await fast_client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good]
            )
        ).id
        for _ in range(6)
    ]
    config = WatchConfig(
        fast_interval=0.01,
        base_interval=0.01,
        max_interval=0.01,
        requests_per_second=4,
        max_in_flight=4,
        coalesce=0,
    )
    stamps: list[tuple[float, int]] = []
    emu.add_observer(lambda exchange: stamps.append((anyio.current_time(), exchange.status)))
    emu.inject(Fault.http(429, retry_after=2, times=1))
    with anyio.move_on_after(3.5):
        async with fast_client.fine_tuning.jobs.watch(ids, config=config) as events:
            async for _ in events:
                pass
    limited = [t for t, status in stamps if status == 429]
    assert len(limited) == 1
    after = [t for t, _ in stamps if t > limited[0]]
    assert after
    assert min(after) - limited[0] >= 1.9


async def test_forbidden_ends_the_watch(emu: Emulator, fast_client: AsyncClient) -> None:
    """A 403 ends the watch with PermissionDeniedError, even with no one iterating."""
    from mistral_jobs_async import PermissionDeniedError

    good, _ = await _files(fast_client)
    job = await fast_client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[good])
    emu.inject(Fault.http(403))
    watcher = fast_client.fine_tuning.jobs.watcher([job.id], config=FAST)
    with pytest.raises(PermissionDeniedError):
        async with watcher:
            await anyio.sleep(0.5)
    with pytest.raises(Exception, match="stopped"):
        watcher.add(["another"])
