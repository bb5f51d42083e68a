"""``mistral-jobs demo``: a realistic batch on the embedded emulator, followed by the watcher.

Uses only the public API: the emulator, the client and the watcher.
"""

from __future__ import annotations

import io
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from mistral_jobs_async import FINE_TUNING_TERMINAL, FORGE_TERMINAL, AsyncClient, ConflictError
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.watcher import JobVanished, PollFailed, Transition, WatchConfig

__all__ = ["DemoJob", "DemoSummary", "run_demo"]

_GOOD = b"".join(
    b'{"messages": [{"role": "user", "content": "Q%d"}, {"role": "assistant", "content": "A%d"}]}\n'
    % (i, i)
    for i in range(50)
)
_BAD = b'{"prompt": "not the fine-tuning format"}\n'
_CONFIG = WatchConfig(fast_interval=1.0, base_interval=2.0, max_interval=5.0, coalesce=0.5,
                      requests_per_second=20.0)  # fmt: skip
#: What the naive loop the summary compares with would do: GET every unfinished job this often.
NAIVE_INTERVAL = _CONFIG.base_interval


@dataclass
class DemoJob:
    """One job of the demo, as the view shows it."""

    id: str
    api: str
    plan: str
    status: str = "QUEUED"
    started: float = field(default_factory=time.monotonic)
    changed: float = field(default_factory=time.monotonic)
    ended: float | None = None
    loss: float | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since it was created (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def terminal(self) -> bool:
        """Whether it ended."""
        done = FINE_TUNING_TERMINAL if self.api == "fine-tuning" else FORGE_TERMINAL
        return self.status in done


@dataclass
class DemoSummary:
    """What the demo did and what it cost."""

    jobs: list[DemoJob]
    watcher_requests: int = 0
    detail_requests: int = 0
    watchers: list[Any] = field(default_factory=list)
    naive_requests: float = 0.0
    seconds: float = 0.0

    def requests_so_far(self) -> int:
        """Requests the watchers have spent up to now."""
        return sum(watcher.stats.requests for watcher in self.watchers)

    def counts(self) -> Counter[str]:
        """Jobs per status."""
        return Counter(job.status for job in self.jobs)

    def outcome(self) -> dict[str, int]:
        """Succeeded / failed / cancelled."""
        counts = self.counts()
        return {
            "succeeded": counts["SUCCESS"],
            "failed": counts["FAILED"] + counts["FAILED_VALIDATION"],
            "cancelled": counts["CANCELLED"],
        }


async def run_demo(
    *,
    jobs: int,
    speed: float,
    seed: int,
    on_change: Callable[[DemoSummary, DemoJob | None, str], None],
) -> DemoSummary:
    """Create the batch on a fresh emulator and follow it to the end.

    ``on_change(summary, job, message)`` is called on every change (``job`` None for notes).
    """
    rng = random.Random(seed)
    summary = DemoSummary(jobs=[])
    started = time.monotonic()
    async with (
        Emulator(seed=seed, speed=speed, failure_rate=0.08) as emulator,
        AsyncClient("demo-key", base_url=emulator.url) as client,
    ):
        on_change(summary, None, f"emulator on {emulator.url} (speed {speed:g}x, seed {seed})")
        good = await client.files.upload(io.BytesIO(_GOOD), filename="train.jsonl")
        bad = await client.files.upload(io.BytesIO(_BAD), filename="broken.jsonl")
        by_id: dict[str, DemoJob] = {}
        forge_count = max(1, jobs * 3 // 10) if jobs > 1 else 0
        for n in range(jobs - forge_count):
            plan = rng.choices(["auto", "manual", "bad"], weights=[80, 10, 10])[0]
            job = await client.fine_tuning.jobs.create(
                model=rng.choice(["open-mistral-7b", "mistral-small-latest"]),
                training_files=[bad.id if plan == "bad" else good.id],
                hyperparameters={"training_steps": rng.randint(40, 240)},
                auto_start=plan != "manual",
                suffix=f"demo-{n}",
            )
            by_id[job.id] = DemoJob(id=job.id, api="fine-tuning", plan=plan)
        for _ in range(forge_count):
            forge = await client.forge.jobs.create(
                job_type=rng.choice(["supervised_fine_tuning", "dpo", "odpo"]),
                model_config={"base_model": "mistral-small-latest"},
                hyperparameters={"training_steps": rng.randint(40, 240)},
                auto_start=True,
            )
            by_id[forge.id] = DemoJob(id=forge.id, api="forge", plan="auto")
        running_ft = [j for j in by_id.values() if j.api == "fine-tuning" and j.plan == "auto"]
        for chosen in rng.sample(running_ft, k=min(2, len(running_ft))):
            chosen.plan = "cancel"
        summary.jobs = list(by_id.values())
        on_change(summary, None, f"created {len(by_id)} jobs; watching them")

        async def detail(job: DemoJob) -> None:
            summary.detail_requests += 1
            if job.api == "fine-tuning":
                full: Any = await client.fine_tuning.jobs.get(job.id)
            else:
                full = await client.forge.jobs.get(job.id)
            checkpoint = full.latest_checkpoint
            if checkpoint is not None and checkpoint.metrics is not None:
                job.loss = checkpoint.metrics.train_loss

        async def follow(api: str, jobs_api: Any) -> None:
            ids = [j.id for j in summary.jobs if j.api == api]
            if not ids:
                return
            async with jobs_api.watch(ids, config=_CONFIG) as events:
                summary.watchers.append(events.watcher)
                async for event in events:
                    await react(event)
            summary.watcher_requests = summary.requests_so_far()

        async def react(event: object) -> None:
            if isinstance(event, Transition):
                job = by_id[event.job_id]
                job.status = event.status
                job.changed = time.monotonic()
                if event.terminal:
                    job.ended = time.monotonic()
                if event.status == "VALIDATED" and job.plan == "manual":
                    await client.fine_tuning.jobs.start(job.id)
                    on_change(summary, job, "started (auto_start was false)")
                if job.plan == "cancel" and event.job.status == "RUNNING":
                    job.plan = "cancel requested"  # once: later transitions may still say RUNNING
                    try:
                        await client.fine_tuning.jobs.cancel(job.id)
                    except ConflictError:  # it ended meanwhile: nothing to cancel
                        pass
                    else:
                        on_change(summary, job, "cancel requested")
                if event.status == "RUNNING" or event.terminal:
                    await detail(job)
                on_change(summary, job, f"{event.previous or 'new'} -> {event.status}")
            elif isinstance(event, PollFailed | JobVanished):
                on_change(summary, None, f"{type(event).__name__}: {event.job_id}")

        async def count_naive() -> None:
            # The naive loop GETs every unfinished job every NAIVE_INTERVAL seconds.
            while True:
                await anyio.sleep(1.0)
                unfinished = sum(1 for j in summary.jobs if not j.terminal)
                summary.naive_requests += unfinished / NAIVE_INTERVAL

        async def refresh_losses() -> None:
            # The loss column needs checkpoints, which list sweeps do not carry: a few GETs of
            # running jobs every couple of seconds (counted apart from the watcher's).
            turn = 0
            while True:
                await anyio.sleep(2.0)
                running = [j for j in summary.jobs if j.status == "RUNNING"]
                for job in running[turn : turn + 5] or running[:5]:
                    await detail(job)
                    on_change(summary, job, "progress")
                turn = turn + 5 if turn + 5 < len(running) else 0

        async with anyio.create_task_group() as group:
            group.start_soon(count_naive)
            group.start_soon(refresh_losses)
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(follow, "fine-tuning", client.fine_tuning.jobs)
                watchers.start_soon(follow, "forge", client.forge.jobs)
            group.cancel_scope.cancel()
    summary.seconds = time.monotonic() - started
    return summary
