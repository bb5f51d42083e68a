"""Soak: 2000 jobs, faults on, for 10 minutes; memory, tasks and sockets must stay flat.

Not part of the test suite (``nox -s soak``, or run it directly). The emulator runs in this
process's event loop, on real time (speed 1) with phases long enough to outlast a poll, and
with faults on every route the whole time: 429s, 500s, 503s, dropped and truncated answers,
answers slower than the client's timeout, and 200s whose body is not JSON. Jobs are created
during the first half of the run (creates meet the faults too) and added to one watcher,
which must end by itself once every job has.

Every ``--sample`` seconds it records this process's RSS, its asyncio tasks and its open
sockets (both ends of loopback connections: the emulator lives here too). At the end it
compares, per job, the transitions the watcher yielded with the status history the emulator
recorded (from the first observation on), and counts jobs the creates made against the jobs
they returned.

    python benchmarks/soak.py [--jobs 2000] [--minutes 10] [--sample 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import time
from collections import defaultdict

import anyio
from _support import SAMPLE_LINE, Row, proc_status_kib, report

from mistral_jobs_async import AsyncClient, MistralJobsError, RetryPolicy
from mistral_jobs_async.emulator import Emulator, Fault, Timings
from mistral_jobs_async.watcher import JobVanished, PollFailed, Transition, WatchConfig

KEY = "soak-key"
TIMEOUT = 2.0
# Each phase outlasts the watcher's slowest poll (max_interval) with room for a sweep.
TIMINGS = Timings(
    queued=(12.0, 30.0),
    validating=(12.0, 30.0),
    starting=(12.0, 20.0),
    seconds_per_step=0.5,
    min_running=15.0,
    cancelling=(12.0, 20.0),
)
CONFIG = WatchConfig(
    fast_interval=1.0, base_interval=2.0, max_interval=5.0, requests_per_second=20.0
)
FAULTS = [
    Fault.http(429, retry_after=1, rate=0.002),
    Fault.http(500, rate=0.01),
    Fault.http(503, rate=0.01),
    Fault.http(503, retry_after=1, rate=0.005, after=True),
    Fault.drop(rate=0.003),
    Fault.truncate(rate=0.003),
    Fault.corrupt(rate=0.005),  # a 200 whose body is not JSON (a bad proxy): a list page too
    Fault.delay(TIMEOUT + 0.5, rate=0.002),
]


def rss_mib() -> float:
    kib = proc_status_kib("VmRSS")
    return float("nan") if kib is None else kib / 1024


def sockets() -> int:
    def target(fd: str) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            return ""

    return sum(target(fd).startswith("socket:") for fd in os.listdir("/proc/self/fd"))


async def soak(jobs: int, minutes: float, sample_every: float) -> tuple[list[Row], Row]:
    rng = random.Random(7)
    deadline = time.monotonic() + minutes * 60
    create_until = time.monotonic() + minutes * 60 / 2
    samples: list[Row] = []
    seen: dict[str, list[str]] = defaultdict(list)
    created: list[str] = []
    create_errors: list[str] = []
    parked: set[str] = set()
    to_cancel: set[str] = set()
    started = time.monotonic()
    counters = {"poll_failed": 0, "vanished": 0, "transitions": 0}
    ended_by_itself = False
    async with Emulator(seed=7, speed=1.0, timings=TIMINGS, api_keys=[KEY]) as emu:
        policy = RetryPolicy(backoff_initial=0.2, backoff_max=2.0)
        async with AsyncClient(KEY, base_url=emu.url, retry=policy, timeout=TIMEOUT) as client:
            uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 20), filename="t.jsonl")
            emu.inject(*FAULTS)

            async def create(n: int) -> None:
                try:
                    job = await client.fine_tuning.jobs.create(
                        model="open-mistral-7b",
                        training_files=[uploaded.id],
                        auto_start=n % 20 != 0,
                        hyperparameters={"training_steps": rng.randint(40, 400)},
                        suffix=f"soak-{n}",  # distinct: concurrent identical creates are the
                    )  # one case a lookup cannot tell apart (docs/reliability.md)
                except MistralJobsError as exc:
                    create_errors.append(type(exc).__name__)
                    return
                created.append(job.id)
                if not job.auto_start:
                    parked.add(job.id)
                elif n % 50 == 1:
                    to_cancel.add(job.id)
                watcher.add([job.id])

            watcher = client.fine_tuning.jobs.watcher(config=CONFIG)
            first = min(200, jobs)
            for n in range(first):
                await create(n)
            async with watcher, anyio.create_task_group() as group:

                async def keep_creating() -> None:
                    pace = max(0.01, (create_until - time.monotonic()) / max(1, jobs - first))
                    for n in range(first, jobs):
                        await create(n)
                        await anyio.sleep(pace)

                async def sample() -> None:
                    while True:
                        samples.append(
                            {
                                "t_s": round(time.monotonic() - started),
                                "rss_mib": round(rss_mib(), 1),
                                "tasks": len(asyncio.all_tasks()),
                                "sockets": sockets(),
                                "jobs": len(created),
                                "watching": len(watcher.job_ids),
                                "transitions": counters["transitions"],
                                "requests": watcher.stats.requests,
                            }
                        )
                        await anyio.sleep(sample_every)

                async def act(job_id: str, action: str) -> None:
                    try:
                        await getattr(client.fine_tuning.jobs, action)(job_id)
                    except MistralJobsError as exc:
                        print(f"{action} {job_id}: {exc}")

                group.start_soon(keep_creating)
                group.start_soon(sample)
                subscription = watcher.subscribe()
                with anyio.fail_after(max(60.0, deadline - time.monotonic() + 600)):
                    async for event in subscription:
                        if isinstance(event, Transition):
                            counters["transitions"] += 1
                            seen[event.job_id].append(event.status)
                            if event.status == "VALIDATED" and event.job_id in parked:
                                group.start_soon(act, event.job_id, "start")
                            if event.status == "RUNNING" and event.job_id in to_cancel:
                                group.start_soon(act, event.job_id, "cancel")
                        elif isinstance(event, PollFailed):
                            counters["poll_failed"] += 1
                        elif isinstance(event, JobVanished):
                            counters["vanished"] += 1
                ended_by_itself = True  # the iteration ended: every job had ended
                group.cancel_scope.cancel()
            elapsed = time.monotonic() - started
            emu.clear_faults()
            equal = subsequence = 0
            for job_id in created:
                history = [e["data"]["status"] for e in emu.job(job_id)["events"]]
                yielded = seen[job_id]
                tail = history[history.index(yielded[0]) :] if yielded else []
                if yielded == tail:
                    equal += 1
                positions = [history.index(s) for s in yielded if s in history]
                if yielded and positions == sorted(positions) and len(set(yielded)) == len(yielded):
                    subsequence += 1
            made = len(emu.job_ids(KEY))
    rss = [float(s["rss_mib"]) for s in samples]  # type: ignore[arg-type]
    warm = rss[len(rss) // 4 :] or rss
    summary: Row = {
        "minutes": round(elapsed / 60, 1),
        "jobs_created": len(created),
        "create_errors": len(create_errors),
        "jobs_on_emulator": made,
        "duplicate_ids_returned": len(created) - len(set(created)),
        "transitions": counters["transitions"],
        "jobs_equal_to_history": equal,
        "jobs_in_order_once": subsequence,
        "poll_failed_events": counters["poll_failed"],
        "vanished": counters["vanished"],
        "watch_ended_by_itself": ended_by_itself,
        "rss_warm_min_mib": min(warm),
        "rss_warm_max_mib": max(warm),
        "rss_end_over_warm_median": round(rss[-1] / statistics.median(warm), 3),
        "tasks_max": max(int(s["tasks"]) for s in samples),  # type: ignore[call-overload]
        "sockets_max": max(int(s["sockets"]) for s in samples),  # type: ignore[call-overload]
        "requests": samples[-1]["requests"] if samples else 0,
    }
    return samples, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    samples, summary = asyncio.run(soak(args.jobs, args.minutes, args.sample))
    report(samples, as_json=args.json)
    print(json.dumps(summary) if args.json else "")
    if not args.json:
        for key, value in summary.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
