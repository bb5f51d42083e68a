"""The watcher against a naive loop written with the official SDK, at 10 to 5000 jobs.

For each N and each poller, a fresh emulator (its own process, its CPU not counted) holds N
fresh fine-tuning jobs (the same seed and lengths each time) whose lifecycles run on a clock
``--speed`` times real time, and one poller follows them for ``--seconds`` in a fresh
process of its own (so its CPU time and memory are the poller's alone):

* the watcher (``client.fine_tuning.jobs.watch``), ``max_interval`` ``--interval``, complete
  (``history="gaps"``, the default: statuses a sweep skipped are read back by GETs);
* the same watcher with ``history="off"``: what completeness costs;
* the baseline: a loop written with ``mistralai`` 2.5.1 as its users write it, a
  ``fine_tuning.jobs.get_async`` per job per ``--interval`` (8 in flight), the last with
  fine-tuning jobs.

Each poller first makes one request (a connection made, lazy imports and model classes
loaded), then is measured. Reported per poller: requests and client CPU per *look* (one poll
of all N jobs: a watcher's cycle, or N GETs of the loop), the totals over the window, the
growth of the process's peak RSS while following, and the detection lag from the emulator's
status change (its event time on the simulated clock, mapped to this machine's) to the
poller seeing it. Event times are whole simulated seconds, so lags are known to within
``1 / speed`` seconds. The watcher looks again sooner at jobs that just changed
(``fast_interval`` a quarter of ``--interval``), so it makes more looks in the window: per
look, the costs compare; the lag shows what each delivers. Targets at 1000 jobs: at least
20x fewer requests and 10x less CPU per look than the SDK loop.

    python benchmarks/bench_watcher.py [--sizes 10,100,1000,5000] [--seconds 8] [--json]
        [--plots DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from _plots import lines
from _support import SAMPLE_LINE, Row, control, emulator_process, proc_status_kib, report
from mistralai.client import Mistral

from mistral_jobs_async import FINE_TUNING_TERMINAL, AsyncClient, RetryPolicy
from mistral_jobs_async.watcher import Transition, WatchConfig

KEY = "bench-watch"
COMPLETE, CHEAP, SDK = "watcher (complete)", "watcher (history off)", "mistralai 2.5.1 loop"
POLLERS = (COMPLETE, CHEAP, SDK)


@dataclass(frozen=True)
class Run:
    """What a poller process needs: where the jobs are, and how to map simulated times."""

    poller: str
    url: str
    ids: list[str]
    seconds: float
    interval: float
    speed: float
    sim_ref: float
    wall_ref: float

    def wall(self, simulated: float) -> float:
        return self.wall_ref + (simulated - self.sim_ref) / self.speed


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class Meter:
    """This process's CPU time and peak RSS growth from ``start``, once the client is warm."""

    def start(self) -> None:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # reset the peak RSS to the current RSS
        self.rss_before = proc_status_kib("VmRSS") or 0
        self.cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        """(CPU seconds, peak RSS growth in MiB)."""
        cpu = time.process_time() - self.cpu
        return cpu, ((proc_status_kib("VmHWM") or 0) - self.rss_before) / 1024


async def watch(run: Run, lags: list[float], meter: Meter) -> tuple[int, float]:
    """Follow with the watcher; (requests, looks)."""
    config = WatchConfig(
        fast_interval=run.interval / 4,
        base_interval=run.interval / 2,
        max_interval=run.interval,
        coalesce=run.interval / 4,
        requests_per_second=10_000,
        max_in_flight=8,
        history="gaps" if run.poller == COMPLETE else "off",
    )
    async with AsyncClient(KEY, base_url=run.url) as client:
        await client.fine_tuning.jobs.get(run.ids[0])  # warm: a connection, the watcher loaded
        meter.start()
        async with client.fine_tuning.jobs.watch(run.ids, config=config) as events:
            with anyio.move_on_after(run.seconds):
                async for event in events:
                    if not isinstance(event, Transition) or event.previous is None:
                        continue  # not a change (a job's first status, or another event)
                    if event.changed_at is not None:
                        lags.append(time.time() - run.wall(event.changed_at))
            stats = events.watcher.stats
    return stats.requests, stats.cycles


def status_changed_at(job: Any) -> float:
    """When the job reached its status, from its events (as an SDK user would read it)."""
    times = [
        event.created_at
        for event in job.events or ()
        if isinstance(event.data, dict) and event.data.get("status") == job.status
    ]
    return float(max(times, default=job.modified_at))


async def sdk_loop(run: Run, lags: list[float], meter: Meter) -> tuple[int, float]:
    """The naive loop with the official SDK: a GET per job per interval; (requests, looks)."""
    requests = 0
    last: dict[str, str] = {}
    pending = set(run.ids)
    limiter = asyncio.Semaphore(8)
    async with Mistral(api_key=KEY, server_url=run.url) as sdk:

        async def get(job_id: str) -> None:
            nonlocal requests
            async with limiter:
                job = await sdk.fine_tuning.jobs.get_async(job_id=job_id)
            requests += 1
            seen = last.get(job_id)
            if seen is not None and job.status != seen:
                lags.append(time.time() - run.wall(status_changed_at(job)))
            last[job_id] = job.status
            if job.status in FINE_TUNING_TERMINAL:
                pending.discard(job_id)

        # Warm, as the watcher is: a connection, the SDK's lazily loaded fine-tuning API and
        # its models (about 0.1 s of CPU and 4 MiB the first time).
        await sdk.fine_tuning.jobs.get_async(job_id=run.ids[0])
        meter.start()
        with anyio.move_on_after(run.seconds):
            while pending:
                started = time.monotonic()
                await asyncio.gather(*(get(job_id) for job_id in list(pending)))
                await asyncio.sleep(max(0.0, run.interval - (time.monotonic() - started)))
    return requests, requests / len(run.ids)  # looks: a partial last one counts in part


def poll_in_child(run: Run) -> dict[str, float]:
    """Run one poller in this (fresh) process and measure it."""
    follow: Callable[[Run, list[float], Meter], Awaitable[tuple[int, float]]]
    follow = sdk_loop if run.poller == SDK else watch
    lags: list[float] = []
    meter = Meter()
    requests, looks = asyncio.run(follow(run, lags, meter))
    cpu, rss_growth = meter.stop()
    looks = max(looks, 1e-9)
    return {
        "requests": requests,
        "looks": looks,
        "cpu_s": cpu,
        "requests_per_look": requests / looks,
        "cpu_ms_per_look": cpu / looks * 1000,
        "peak_rss_growth_mib": rss_growth,
        "changes": len(lags),
        "lag_p50": statistics.median(lags) if lags else math.nan,
        "lag_p99": percentile(lags, 0.99),
    }


async def create_jobs(client: AsyncClient, count: int) -> list[str]:
    uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 10), filename="train.jsonl")
    ids: list[str] = [""] * count
    limiter = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with limiter:
            job = await client.fine_tuning.jobs.create(
                model="open-mistral-7b",
                training_files=[uploaded.id],
                auto_start=True,
                hyperparameters={"training_steps": 40 + (n * 37) % 400},
            )
            ids[n] = job.id

    await asyncio.gather(*(one(n) for n in range(count)))
    return ids


async def start(url: str, token: str, size: int, speed: float) -> tuple[list[str], float, float]:
    """N jobs, then the clock set running; (ids, simulated time, wall time) at that moment."""
    retry = RetryPolicy(backoff_initial=0.05)
    async with AsyncClient(KEY, base_url=url, retry=retry) as client:
        ids = await create_jobs(client, size)
    async with aiohttp.ClientSession() as session:
        state = await control(session, url, token, {"speed": speed})
    return ids, float(state["time"]), time.time()


def follow(pool: ProcessPoolExecutor, poller: str, size: int, args: Any) -> dict[str, float]:
    """One poller following N fresh jobs on a fresh emulator."""
    with emulator_process("--seed", "3") as running:
        ids, sim_ref, wall_ref = asyncio.run(
            start(running.url, running.control_token, size, args.speed)
        )
        run = Run(poller, running.url, ids, args.seconds, args.interval, args.speed,
                  sim_ref, wall_ref)  # fmt: skip
        return pool.submit(poll_in_child, run).result()


def row(size: int, poller: str, result: dict[str, float], sdk: dict[str, float]) -> Row:
    def fewer(key: str) -> object:
        return "-" if poller == SDK else round(sdk[key] / max(result[key], 1e-9), 1)

    return {
        "N": size,
        "poller": poller,
        "req/look": round(result["requests_per_look"], 2),
        "fewer req/look": fewer("requests_per_look"),
        "CPU ms/look": round(result["cpu_ms_per_look"], 1),
        "less CPU/look": fewer("cpu_ms_per_look"),
        "looks": round(result["looks"], 1),
        "requests": int(result["requests"]),
        "CPU s": round(result["cpu_s"], 2),
        "peak RSS +MiB": round(result["peak_rss_growth_mib"], 1),
        "changes seen": int(result["changes"]),  # the loop misses what a look skips
        "lag p50 s": round(result["lag_p50"], 2),
        "lag p99 s": round(result["lag_p99"], 2),
    }


def plot(path: Path, sizes: list[int], results: dict[tuple[int, str], dict[str, float]]) -> None:
    def series(key: str) -> dict[str, list[float]]:
        return {p: [results[size, p][key] for size in sizes] for p in POLLERS}

    lines(
        path,
        sizes,
        {
            "requests per look": series("requests_per_look"),
            "client CPU ms per look": series("cpu_ms_per_look"),
            "detection lag p99 (s)": series("lag_p99"),
        },
        title="Following N jobs: the watcher vs a loop on the official SDK (lower is better)",
        xlabel="jobs followed (N)",
        linear={"detection lag p99 (s)"},
        note="bench_watcher.py: each poller in its own process, the emulator in another",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    parser.add_argument("--speed", type=float, default=5.0, help="emulator clock speed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write the plot (PNG) here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[int, str], dict[str, float]] = {}
    rows: list[Row] = []
    spawn = multiprocessing.get_context("spawn")
    for size in sizes:
        for poller in POLLERS:
            # A fresh process per poller: its CPU and memory are its own.
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                results[size, poller] = follow(pool, poller, size, args)
        rows.extend(row(size, p, results[size, p], results[size, SDK]) for p in POLLERS)
    report(rows, as_json=args.json)
    if not args.json:
        print(
            f"\na look is one poll of all N jobs; lag p99 target: one poll interval "
            f"({args.interval}s) plus one request; event times are whole simulated seconds "
            f"(+-{1 / args.speed:.2f}s here)"
        )
    if args.plots:
        plot(args.plots / "bench-watcher.png", sizes, results)


if __name__ == "__main__":
    main()
