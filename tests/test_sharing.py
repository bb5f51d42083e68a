"""Sharing one poller through a real Redis: one leader, every event to every process."""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from typing import Any

import anyio
import pytest

from mistral_jobs_async import AsyncClient, ConfigurationError, RetryPolicy
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.sharing import SharedWatcher, SharingConfig
from mistral_jobs_async.watcher import Transition, WatchConfig

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
                model="m", training_files=[good], auto_start=True,
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
