"""Progress events (checkpoints, estimates) and durable watches that survive SIGKILL."""

from __future__ import annotations

import io
import json
import signal
import sys
import textwrap
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from mistral_jobs_async import AsyncClient, RetryPolicy
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.watcher import (
    CheckpointReported,
    MetadataChanged,
    Transition,
    WatchConfig,
)

from .conftest import GOOD_JSONL, KEY_A

pytestmark = pytest.mark.anyio

CONFIG = WatchConfig(
    fast_interval=0.05, base_interval=0.1, max_interval=0.3, coalesce=0.05,
    requests_per_second=1000, max_in_flight=8,
)  # fmt: skip
ONE = "/v1/fine_tuning/jobs/{job_id}"


@pytest.fixture
async def client(emu: Emulator) -> Any:
    policy = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as c:
        yield c


async def _jobs(client: AsyncClient, count: int, steps: int = 100) -> list[str]:
    good = (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="g.jsonl")).id
    return [
        (
            await client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[good], auto_start=True,
                hyperparameters={"training_steps": steps},
            )
        ).id
        for _ in range(count)
    ]  # fmt: skip


@pytest.mark.mistral_emulator(seed=9, speed=0.0)
@pytest.mark.timeout(60)
async def test_progress_reports_every_checkpoint_once_in_step_order(
    emu: Emulator, client: AsyncClient
) -> None:
    """A progress subscriber gets each checkpoint once, in step order, and the estimates; a
    plain subscriber gets neither; only the job someone asked progress for is GET-polled."""
    followed, *others = await _jobs(client, 20)
    # History reads off: the GETs counted here are progress's alone.
    config = replace(CONFIG, history="off")
    watcher = client.fine_tuning.jobs.watcher([followed, *others], config=config)
    checkpoints: list[CheckpointReported] = []
    estimates: list[MetadataChanged] = []
    plain: list[Any] = []
    async with watcher:
        progress = watcher.subscribe(followed, progress=True)
        quiet = watcher.subscribe()
        emu.speed = 20.0

        async def read_quiet() -> None:
            plain.extend([event async for event in quiet])

        async with anyio.create_task_group() as group:
            group.start_soon(read_quiet)
            async for event in progress:
                if isinstance(event, CheckpointReported):
                    checkpoints.append(event)
                elif isinstance(event, MetadataChanged):
                    estimates.append(event)
                elif isinstance(event, Transition) and event.terminal:
                    assert checkpoints, "checkpoints come before the end"
    recorded = sorted(c["step_number"] for c in emu.job(followed)["checkpoints"])
    assert [c.step for c in checkpoints] == recorded  # every one, once, in step order
    assert all(c.job_id == followed and c.train_loss is not None for c in checkpoints)
    assert estimates
    assert estimates[0].metadata.get("expected_duration_seconds") is not None
    assert not [e for e in plain if isinstance(e, CheckpointReported | MetadataChanged)]
    gets: defaultdict[str, int] = defaultdict(int)
    for record in emu.requests:
        if record.route == ONE:
            gets[record.path.rsplit("/", 1)[-1]] += 1
    assert gets[followed] > 5  # polled by GET while it ran
    assert max(gets[other] for other in others) <= 2  # swept: progress costs them nothing


CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from mistral_jobs_async import AsyncClient
    from mistral_jobs_async.watcher import Transition, WatchConfig

    async def main():
        url, path, ids = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
        config = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.3)
        async with AsyncClient(sys.argv[4], base_url=url) as client:
            async with client.fine_tuning.jobs.watch(ids, config=config, state_path=path) as events:
                async for event in events:
                    if isinstance(event, Transition):
                        print(json.dumps([event.job_id, event.status, event.missed]), flush=True)
                        await asyncio.sleep(0.03)  # the consumer's own work

    asyncio.run(main())
    """
)


async def _run_child(
    args: list[str], lines: list[list[Any]], *, kill_after: int | None = None
) -> None:
    async with await anyio.open_process(args) as process:
        assert process.stdout is not None
        buffer = b""
        async for chunk in process.stdout:
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines.extend(json.loads(line) for line in complete if line)
            if kill_after is not None and len(lines) >= kill_after:
                process.send_signal(signal.SIGKILL)
                break
        await process.wait()


@pytest.mark.mistral_emulator(seed=4, speed=0.0)
@pytest.mark.timeout(90)
async def test_a_watch_killed_with_sigkill_resumes_exactly(
    emu: Emulator, client: AsyncClient, tmp_path: Path
) -> None:
    """A watch killed with SIGKILL and started again on its state file yields exactly the
    transitions it had not yielded: missed ones flagged, none twice, none lost."""
    ids = await _jobs(client, 12, steps=20)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    state = tmp_path / "watch.state"
    args = [sys.executable, str(script), emu.url, str(state), ",".join(ids), KEY_A]
    first: list[list[Any]] = []
    second: list[list[Any]] = []
    emu.speed = 5.0
    with anyio.fail_after(60):
        await _run_child(args, first, kill_after=20)
        await anyio.sleep(1.0)  # the jobs move on while nobody watches
        await _run_child(args, second)
    assert len(first) >= 20
    assert any(missed for _, _, missed in second)  # what happened while it was dead
    reported: dict[str, list[str]] = defaultdict(list)
    for job_id, status, _ in first + second:
        reported[job_id].append(status)
    for job_id in ids:
        history = [e["data"]["status"] for e in emu.job(job_id)["events"]]
        chain = reported[job_id]
        assert chain == history[history.index(chain[0]) :], (job_id, chain, history)
