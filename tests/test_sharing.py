"""Sharing one poller through a real Redis: one leader, every event to every process."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from mistral_jobs_async import AsyncClient, ConfigurationError, RetryPolicy
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.sharing import SharedWatcher, SharingConfig
from mistral_jobs_async.watcher import Transition, WatchConfig

from ._redis import RedisServer
from .conftest import GOOD_JSONL, KEY_A

pytestmark = pytest.mark.anyio

CONFIG = WatchConfig(
    fast_interval=0.05, base_interval=0.1, max_interval=0.3, coalesce=0.05,
    requests_per_second=1000, max_in_flight=8,
)  # fmt: skip


def _sharing(**options: Any) -> SharingConfig:
    return SharingConfig(namespace=f"test-{uuid.uuid4().hex[:8]}", read_block=0.2, **options)


async def _jobs(client: AsyncClient, count: int) -> list[str]:
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    return [
        (
            await client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good], auto_start=True,
                hyperparameters={"training_steps": 10 + n % 30},
            )
        ).id
        for n in range(count)
    ]  # fmt: skip


def _history(emu: Emulator, job_id: str) -> list[str]:
    return [e["data"]["status"] for e in emu.job(job_id)["events"]]


@pytest.mark.mistral_emulator(seed=3, speed=0.0)
@pytest.mark.timeout(60)
async def test_two_members_one_poller(emu: Emulator, redis_url: str) -> None:
    """Two members of one namespace: one leads and polls; both get every transition of the
    jobs they follow, in order, once; the polls are one watcher's."""
    sharing = _sharing(lease_ttl=1.0)
    policy = RetryPolicy(backoff_initial=0.01)
    async with (
        AsyncClient(KEY_A, base_url=emu.url, retry=policy) as one,
        AsyncClient(KEY_A, base_url=emu.url, retry=policy) as two,
    ):
        ids = await _jobs(one, 40)
        seen: dict[str, dict[str, list[str]]] = {"a": defaultdict(list), "b": defaultdict(list)}
        async with (
            SharedWatcher(one.fine_tuning.jobs, redis_url, config=CONFIG, sharing=sharing) as a,
            SharedWatcher(two.fine_tuning.jobs, redis_url, config=CONFIG, sharing=sharing) as b,
        ):
            a.add(ids)
            b.add(ids[:20])

            async def follow(name: str, member: SharedWatcher[Any], wanted: list[str]) -> None:
                ended: set[str] = set()
                async with member.subscribe() as events:
                    async for event in events:
                        assert isinstance(event, Transition), event
                        seen[name][event.job_id].append(event.status)
                        if event.terminal:
                            ended.add(event.job_id)
                            if ended == set(wanted):
                                return

            emu.clear_requests()
            with anyio.fail_after(40):
                async with anyio.create_task_group() as group:
                    group.start_soon(follow, "a", a, ids)
                    group.start_soon(follow, "b", b, ids[:20])
                    await anyio.sleep(0.5)
                    emu.speed = 30.0
            leaders = [m for m in (a, b) if m.leading]
            assert len(leaders) <= 1
    assert set(seen["b"]) == set(ids[:20])  # b sees only the jobs it follows
    for name, chains in seen.items():
        for job_id, chain in chains.items():
            history = _history(emu, job_id)
            assert chain == history[history.index(chain[0]) :], (name, job_id, chain, history)
    for job_id in ids[:20]:
        assert seen["a"][job_id][-3:] == seen["b"][job_id][-3:]


async def test_unreachable_redis_is_a_clear_error(emu: Emulator) -> None:
    """A Redis that does not answer is a ConfigurationError at startup naming it, no password."""
    async with AsyncClient(KEY_A, base_url=emu.url) as client:
        shared = SharedWatcher(client.fine_tuning.jobs, "redis://:hunter2@127.0.0.1:1/0")
        with pytest.raises(ConfigurationError, match="Redis is unreachable") as caught:
            await shared.__aenter__()
    assert "hunter2" not in str(caught.value)


CHILD = textwrap.dedent(
    """
    import json, sys
    import aiohttp, anyio
    from mistral_jobs_async import AsyncClient
    from mistral_jobs_async.sharing import SharedWatcher, SharingConfig
    from mistral_jobs_async.watcher import Transition, WatchConfig

    async def main():
        emu_url, redis_url, namespace, ids_path, key = sys.argv[1:6]
        ids = open(ids_path).read().split()
        requests = 0

        async def on_start(session, context, params):
            nonlocal requests
            requests += 1

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_start)
        config = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.3,
                             coalesce=0.05, requests_per_second=1000, max_in_flight=8)
        sharing = SharingConfig(namespace=namespace, lease_ttl=1.0, read_block=0.2)
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            async with AsyncClient(key, base_url=emu_url, session=session) as client:
                jobs = client.fine_tuning.jobs
                async with SharedWatcher(jobs, redis_url, config=config, sharing=sharing) as shared:
                    shared.add(ids)
                    print(json.dumps({"process": shared.process_id}), flush=True)
                    ended = set()
                    async with anyio.create_task_group() as group:
                        async def report():
                            while True:
                                leading = shared.leading is not None
                                print(json.dumps({"requests": requests, "leading": leading}),
                                      flush=True)
                                await anyio.sleep(0.1)

                        group.start_soon(report)
                        async with shared.subscribe() as events:
                            async for event in events:
                                if isinstance(event, Transition):
                                    print(json.dumps({"e": [event.job_id, event.status,
                                                            event.missed]}), flush=True)
                                    if event.terminal:
                                        ended.add(event.job_id)
                                if len(ended) == len(ids):
                                    break
                        group.cancel_scope.cancel()
        print(json.dumps({"done": True, "requests": requests}), flush=True)

    anyio.run(main)
    """
)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the children's output comes in the background)."""
    while not condition():  # noqa: ASYNC110 (no event to wait on: lines arrive from pipes)
        await anyio.sleep(0.02)


async def _three_members(
    children: list[Child], args: list[str], emu: Emulator
) -> tuple[float, Child]:
    """Start three members, let the jobs run, SIGKILL the leader; the takeover time."""
    async with anyio.create_task_group() as group:
        for _ in range(3):
            child = Child(await anyio.open_process(args, stderr=None))
            children.append(child)
            group.start_soon(child.read)
        await _until(lambda: all(child.last("process") for child in children))
        await _until(lambda: any(child.last("leading") for child in children))
        await anyio.sleep(0.5)
        emu.speed = 10.0
        await anyio.sleep(1.0)
        # Only the leader polls: the others have made no request at all.
        leaders = [child for child in children if child.last("leading")]
        assert len(leaders) == 1
        assert [c.last("requests") for c in children if c not in leaders] == [0, 0]
        leader = leaders[0]
        leader.process.kill()
        killed_at = anyio.current_time()
        survivors = [child for child in children if child is not leader]
        await _until(lambda: any(child.last("leading") for child in survivors))
        takeover = anyio.current_time() - killed_at
        for child in children:
            await child.process.wait()
    return takeover, leader


class Child:
    """One member process and what it printed (read as it comes)."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self.killed_at: float | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                if line:
                    self.lines.append({**json.loads(line), "at": anyio.current_time()})

    def last(self, key: str) -> Any:
        return next((line[key] for line in reversed(self.lines) if key in line), None)

    def chains(self) -> dict[str, list[tuple[str, bool]]]:
        chains: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for line in self.lines:
            if "e" in line:
                job_id, status, missed = line["e"]
                chains[job_id].append((status, missed))
        return chains


@pytest.mark.mistral_emulator(seed=6, speed=0.0)
@pytest.mark.timeout(120)
async def test_three_processes_one_poller_and_a_leader_killed(
    emu: Emulator, redis_url: str, tmp_path: Path
) -> None:
    """Three processes follow 300 jobs: only the leader polls; SIGKILL it mid-run and another
    takes over within about a lease; every survivor's chain per job is complete, no doubles."""
    async with AsyncClient(KEY_A, base_url=emu.url) as client:
        ids = await _jobs(client, 300)
    (tmp_path / "ids").write_text("\n".join(ids))
    (tmp_path / "child.py").write_text(CHILD)
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    args = [sys.executable, str(tmp_path / "child.py"), emu.url, redis_url, namespace,
            str(tmp_path / "ids"), KEY_A]  # fmt: skip
    children: list[Child] = []
    try:
        with anyio.fail_after(90):
            takeover, leader = await _three_members(children, args, emu)
    finally:
        for child in children:
            if child.process.returncode is None:
                child.process.kill()
    survivors = [child for child in children if child is not leader]
    print(f"takeover after SIGKILL: {takeover:.2f}s (lease_ttl 1.0s)")
    assert takeover < 3.0
    for child in survivors:
        assert child.last("done")
        chains = child.chains()
        assert set(chains) == set(ids)
        for job_id in ids:
            statuses = [status for status, _ in chains[job_id]]
            history = _history(emu, job_id)
            assert statuses == history[history.index(statuses[0]) :], (job_id, statuses, history)
    missed = sum(missed for child in survivors for c in child.chains().values() for _, missed in c)
    print(f"transitions flagged missed after the takeover: {missed}")


BUDGET_CHILD = textwrap.dedent(
    """
    import io, json, sys
    import anyio
    from mistral_jobs_async import AsyncClient, RateLimitError
    from mistral_jobs_async.sharing import RedisBudget

    async def main():
        emu_url, redis_url, namespace, key, shared = sys.argv[1:6]
        ok = limited = 0
        budget = RedisBudget(redis_url, requests_per_second=28, namespace=namespace)
        async with budget:
            client = AsyncClient(key, base_url=emu_url, max_retries=0,
                                 budget=budget if shared == "yes" else None)
            async with client:
                uploaded = None
                while uploaded is None:
                    try:
                        uploaded = await client.files.upload(
                            io.BytesIO(sys.argv[6].encode()), filename="t.jsonl")
                    except RateLimitError:
                        limited += 1
                        await anyio.sleep(0.2)
                for n in range(40):
                    try:
                        if n % 10 == 0:
                            await client.fine_tuning.jobs.create(
                                model="open-mistral-7b", training_files=[uploaded.id])
                        else:
                            await client.fine_tuning.jobs.list(page_size=1)
                        ok += 1
                    except RateLimitError:
                        limited += 1
        print(json.dumps({"ok": ok, "limited": limited}), flush=True)

    anyio.run(main)
    """
)


@pytest.mark.mistral_emulator(seed=2, rate_limit=30.0, rate_burst=3.0)
@pytest.mark.timeout(60)
async def test_a_budget_in_redis_keeps_three_processes_under_one_limit(
    emu: Emulator, redis_url: str, tmp_path: Path
) -> None:
    """Three processes creating and listing against a 30 requests/s limit: sharing one
    RedisBudget they meet (almost) no 429; each on its own they meet many."""
    script = tmp_path / "budget_child.py"
    script.write_text(BUDGET_CHILD)
    line = GOOD_JSONL.decode().splitlines()[0]

    async def run(shared: str) -> list[dict[str, int]]:
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        args = [sys.executable, str(script), emu.url, redis_url, namespace, KEY_A, shared, line]
        results: list[dict[str, int]] = []

        async def one() -> None:
            done = await anyio.run_process(args)
            results.append(json.loads(done.stdout))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
        return results

    with anyio.fail_after(50):
        alone = await run("no")
        emu.set_rate_limit(30.0, burst=3.0)  # a full bucket again
        await anyio.sleep(1.0)
        shared = await run("yes")
    assert sum(r["limited"] for r in alone) > 10  # the limit does bite without the budget
    assert sum(r["limited"] for r in shared) <= 2, shared
    assert sum(r["ok"] for r in shared) >= 118


@pytest.mark.mistral_emulator(seed=5, speed=0.0)
@pytest.mark.timeout(60)
async def test_a_redis_restart_is_waited_out(emu: Emulator, tmp_path: Path) -> None:
    """Redis goes away mid-watch for a second and comes back with its data: the watch goes
    on, and every job's chain is still its history, nothing twice."""
    server = RedisServer(tmp_path, persist=True).start()
    try:
        async with AsyncClient(KEY_A, base_url=emu.url) as client:
            ids = await _jobs(client, 10)
            seen: dict[str, list[str]] = defaultdict(list)
            shared = SharedWatcher(
                client.fine_tuning.jobs, server.url, config=CONFIG, sharing=_sharing(lease_ttl=1.0)
            )
            restarted = False
            async with shared, shared.subscribe() as events:
                shared.add(ids)
                ended: set[str] = set()
                emu.speed = 3.0
                with anyio.fail_after(45):
                    async for event in events:
                        assert isinstance(event, Transition), event
                        seen[event.job_id].append(event.status)
                        if not restarted and sum(map(len, seen.values())) >= 15:
                            restarted = True
                            server.stop()
                            await anyio.sleep(1.5)
                            server.start()
                        if event.terminal:
                            ended.add(event.job_id)
                            if ended == set(ids):
                                break
    finally:
        server.stop()
    assert restarted
    for job_id in ids:
        history = _history(emu, job_id)
        assert seen[job_id] == history[history.index(seen[job_id][0]) :], (seen[job_id], history)


def test_every_event_survives_the_stream_unchanged() -> None:
    """Each watcher event encodes to a stream entry and decodes back equal (the wire types
    mirror the events: this keeps them in step)."""
    from mistral_jobs_async import MistralJobsError
    from mistral_jobs_async.models import FineTuningJob
    from mistral_jobs_async.sharing._wire import Wire
    from mistral_jobs_async.watcher import (
        CheckpointReported,
        JobStalled,
        JobVanished,
        MetadataChanged,
        PollFailed,
        WatchEvent,
    )

    job = FineTuningJob(id="job-1", status="RUNNING", created_at=5, auto_start=True)
    wire = Wire(FineTuningJob)
    events: list[WatchEvent[FineTuningJob]] = [
        Transition("job-1", "STARTED", "RUNNING", job, 1.5, True, 4.0),
        JobVanished("job-1", "RUNNING", 2.0),
        JobStalled("job-1", "RUNNING", 1.0, 3.0),
        CheckpointReported("job-1", 10, 1.5, 1.7, 0.6, 9, 4.0),
        MetadataChanged("job-1", {"cost": 1.25, "cost_currency": "EUR"}, 5.0),
    ]
    for event in events:
        assert wire.decode(wire.encode(event)) == event
    failed = wire.decode(wire.encode(PollFailed("job-1", MistralJobsError("boom"), 2, 6.0)))
    assert isinstance(failed, PollFailed)
    assert (failed.job_id, str(failed.error), failed.failures) == ("job-1", "boom", 2)


@pytest.mark.mistral_emulator(seed=9, speed=0.0)
@pytest.mark.timeout(60)
async def test_while_redis_is_away_each_process_follows_its_jobs_itself(
    emu: Emulator, tmp_path: Path
) -> None:
    """Redis goes away for 3 s: after fallback_after the process follows its jobs with a local
    watcher (transitions keep coming), then the shared watch takes over; no status is given
    twice or skipped."""
    server = RedisServer(tmp_path, persist=True).start()
    during: list[str] = []
    seen: dict[str, list[str]] = defaultdict(list)
    try:
        async with AsyncClient(KEY_A, base_url=emu.url) as client:
            ids = await _jobs(client, 8)
            sharing = _sharing(lease_ttl=1.0, fallback_after=0.5)
            jobs = client.fine_tuning.jobs
            shared = SharedWatcher(jobs, server.url, config=CONFIG, sharing=sharing)
            away = anyio.Event()

            async def outage() -> None:
                await away.wait()
                server.stop()
                await anyio.sleep(3.0)
                server.start()

            async with shared, shared.subscribe() as events, anyio.create_task_group() as group:
                group.start_soon(outage)
                shared.add(ids)
                ended: set[str] = set()
                emu.speed = 4.0
                with anyio.fail_after(45):
                    async for event in events:
                        assert isinstance(event, Transition), event
                        seen[event.job_id].append(event.status)
                        if sum(map(len, seen.values())) >= 8:
                            away.set()
                        if not server.running:
                            during.append(event.status)
                        if event.terminal:
                            ended.add(event.job_id)
                            if ended == set(ids):
                                break
    finally:
        server.stop()
    assert during, "nothing came while Redis was away"
    for job_id in ids:
        history = _history(emu, job_id)
        assert seen[job_id] == history[history.index(seen[job_id][0]) :], (seen[job_id], history)


@pytest.mark.mistral_emulator(seed=3, speed=0.0)
@pytest.mark.timeout(30)
async def test_a_refused_key_ends_the_shared_watch_in_every_process(
    emu: Emulator, redis_url: str
) -> None:
    """A 401 to the leader's polls ends its subscribers with AuthenticationError; the process
    that takes over meets it too: no process goes on polling, none hangs."""
    from mistral_jobs_async import AuthenticationError

    sharing = _sharing(lease_ttl=1.0)
    async with (
        AsyncClient(KEY_A, base_url=emu.url) as one,
        AsyncClient(KEY_A, base_url=emu.url) as two,
    ):
        ids = await _jobs(one, 3)
        emu.inject(Fault.http(401, method="GET"))
        errors: list[BaseException] = []

        async def follow(member: SharedWatcher[Any]) -> None:
            member.add(ids)
            async with member.subscribe() as events:
                try:
                    async for _ in events:
                        pass
                except AuthenticationError as exc:
                    errors.append(exc)

        with anyio.fail_after(20):
            async with (
                SharedWatcher(one.fine_tuning.jobs, redis_url, config=CONFIG, sharing=sharing) as a,
                SharedWatcher(two.fine_tuning.jobs, redis_url, config=CONFIG, sharing=sharing) as b,
                anyio.create_task_group() as group,
            ):
                group.start_soon(follow, a)
                group.start_soon(follow, b)
    assert len(errors) == 2
    assert KEY_A not in str(errors)
