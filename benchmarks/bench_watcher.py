"""The watcher against a naive polling loop, at N = 10, 100, 1000 and 5000 jobs.

For each N, the emulator (its own process) holds N fine-tuning jobs whose lifecycles run on a
clock ``--speed`` times real time. Two pollers follow the same jobs for ``--seconds`` each,
one after the other, in this process:

* the watcher (``client.fine_tuning.jobs.watch``), with ``--interval`` as its poll interval
  ceiling (``max_interval``; ``base_interval`` is half of it), complete (``history="gaps"``,
  the default: statuses a sweep skipped are read back from the job's events by GETs);
* the same watcher with ``history="off"`` (on a fresh emulator with fresh jobs): what
  completeness costs;
* the baseline, a naive loop that GETs every job once per ``--interval`` (8 in flight).

Reported per poller: requests per cycle, client CPU per cycle, peak Python memory
(tracemalloc), and for the watcher the detection lag: from the emulator's status change
(its event time, converted from the simulated clock) to the event in this process. Event
times are whole simulated seconds, so lags are known to within ``1 / speed`` seconds.

    python benchmarks/bench_watcher.py [--sizes 10,100,1000,5000] [--seconds 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import statistics
import time
import tracemalloc
from typing import Any, Literal

import aiohttp
import anyio
from _support import SAMPLE_LINE, Row, emulator_process, report

from mistral_jobs_async import AsyncClient, RetryPolicy
from mistral_jobs_async.watcher import Transition, WatchConfig

KEY = "bench-watch"


async def control(
    session: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(f"{url}/_emulator/clock", json=body, headers=headers) as response:
        return await response.json()


async def create_jobs(client: AsyncClient, count: int) -> list[str]:
    uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 10), filename="train.jsonl")
    ids: list[str] = []
    limiter = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with limiter:
            job = await client.fine_tuning.jobs.create(
                model="open-mistral-7b",
                training_files=[uploaded.id],
                auto_start=True,
                hyperparameters={"training_steps": 40 + (n * 37) % 400},
            )
            ids.append(job.id)

    await asyncio.gather(*(one(n) for n in range(count)))
    return ids


async def run_watcher(
    client: AsyncClient,
    ids: list[str],
    seconds: float,
    interval: float,
    clock: Any,
    history: Literal["gaps", "always", "off"],
) -> dict[str, float]:
    config = WatchConfig(
        fast_interval=interval / 4,
        base_interval=interval / 2,
        max_interval=interval,
        coalesce=interval / 4,
        requests_per_second=10_000,
        max_in_flight=8,
        history=history,
    )
    lags: list[float] = []
    transitions = 0
    tracemalloc.start()
    cpu = time.process_time()
    async with client.fine_tuning.jobs.watch(ids, config=config) as events:
        with anyio.move_on_after(seconds):
            async for event in events:
                if isinstance(event, Transition) and event.previous is not None:
                    transitions += 1
                    changed = event.changed_at
                    if changed is not None:
                        lags.append(time.time() - clock(changed))
        stats = events.watcher.stats
    cpu = time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cycles = max(1, stats.cycles)
    lags.sort()
    return {
        "requests_per_cycle": stats.requests / cycles,
        "cpu_ms_per_cycle": cpu / cycles * 1000,
        "peak_mib": peak / 2**20,
        "cycles": stats.cycles,
        "changes_per_cycle": transitions / cycles,
        "lag_p50": statistics.median(lags) if lags else math.nan,
        "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else math.nan,
        "requests": stats.requests,
        "history_gets": stats.history_requests,
    }


async def run_naive(url: str, ids: list[str], seconds: float, interval: float) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {KEY}"}
    limiter = asyncio.Semaphore(8)
    cycles = requests = 0
    tracemalloc.start()
    cpu = time.process_time()
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:

        async def get(job_id: str) -> None:
            nonlocal requests
            async with (
                limiter,
                session.get(f"{url}/v1/fine_tuning/jobs/{job_id}", headers=headers) as r,
            ):
                await r.read()
                requests += 1

        while time.monotonic() < deadline:
            started = time.monotonic()
            await asyncio.gather(*(get(job_id) for job_id in ids))
            cycles += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    cpu = time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cycles = max(1, cycles)
    return {
        "requests_per_cycle": requests / cycles,
        "cpu_ms_per_cycle": cpu / cycles * 1000,
        "peak_mib": peak / 2**20,
        "cycles": cycles,
        "requests": requests,
    }


async def follow(
    size: int, seconds: float, interval: float, speed: float, history: str
) -> tuple[dict[str, float], dict[str, float] | None]:
    """N fresh jobs on a fresh emulator, followed by the watcher (and, for "gaps", naively)."""
    with emulator_process("--seed", "3") as running:
        url, token = running.url, running.control_token
        retry = RetryPolicy(backoff_initial=0.05)
        async with (
            AsyncClient(KEY, base_url=url, retry=retry) as client,
            aiohttp.ClientSession() as raw,
        ):
            ids = await create_jobs(client, size)
            state = await control(raw, url, token, {"speed": speed})
            # Map the emulator's simulated seconds to this machine's wall clock.
            sim_ref, wall_ref = float(state["time"]), time.time()

            def to_wall(sim: float) -> float:
                return wall_ref + (sim - sim_ref) / speed

            mode: Literal["gaps", "off"] = "gaps" if history == "gaps" else "off"
            watched = await run_watcher(client, ids, seconds, interval, to_wall, mode)
            naive = await run_naive(url, ids, seconds, interval) if mode == "gaps" else None
    return watched, naive


def watcher_row(size: int, label: str, watched: dict[str, float], naive_requests: float) -> Row:
    bound = math.ceil(size / 100) + watched["changes_per_cycle"]
    return {
        "N": size,
        "poller": label,
        "req/cycle": round(watched["requests_per_cycle"], 2),
        "target req/cycle": f"<= {bound:.1f}",
        "history GETs": int(watched["history_gets"]),
        # Over the same length of time (cycles differ in length between the pollers).
        "requests": int(watched["requests"]),
        "fewer than naive": round(naive_requests / max(watched["requests"], 1), 1),
        "cpu ms/cycle": round(watched["cpu_ms_per_cycle"], 2),
        "peak MiB": round(watched["peak_mib"], 2),
        "lag p50 s": round(watched["lag_p50"], 2),
        "lag p99 s": round(watched["lag_p99"], 2),
        "cycles": int(watched["cycles"]),
    }


async def measure(size: int, seconds: float, interval: float, speed: float) -> list[Row]:
    complete, naive = await follow(size, seconds, interval, speed, "gaps")
    cheap, _ = await follow(size, seconds, interval, speed, "off")
    assert naive is not None
    return [
        watcher_row(size, "watcher (complete)", complete, naive["requests"]),
        watcher_row(size, "watcher (history off)", cheap, naive["requests"]),
        {
            "N": size,
            "poller": "naive GET loop",
            "req/cycle": round(naive["requests_per_cycle"], 2),
            "target req/cycle": "-",
            "history GETs": "-",
            "requests": int(naive["requests"]),
            "fewer than naive": 1.0,
            "cpu ms/cycle": round(naive["cpu_ms_per_cycle"], 2),
            "peak MiB": round(naive["peak_mib"], 2),
            "lag p50 s": "-",
            "lag p99 s": "-",
            "cycles": int(naive["cycles"]),
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    parser.add_argument("--speed", type=float, default=5.0, help="emulator clock speed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows: list[Row] = []
    for size in (int(s) for s in args.sizes.split(",")):
        rows.extend(asyncio.run(measure(size, args.seconds, args.interval, args.speed)))
    report(rows, as_json=args.json)
    print(
        f"\nlag target: p99 within one poll interval ({args.interval}s) plus one request; "
        f"event times are whole simulated seconds (+-{1 / args.speed:.2f}s here)"
    )


if __name__ == "__main__":
    main()
