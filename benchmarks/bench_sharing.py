"""1 vs 4 processes watching the same 1000 jobs: each with its own watcher, or sharing one.

For each scenario a fresh emulator (its own process) holds the jobs, on a clock ``--speed``
times real time, and N member processes follow all of them for ``--seconds``: with a local
watcher each, or through Redis (``SharedWatcher``: one leader polls for all). Each member
counts its own HTTP requests (an aiohttp trace) and CPU time. Reported per scenario: the
requests and CPU of all members together, as ratios against one process with a local watcher
measured in the same run, and how many transitions each member delivered.

Needs Debian's ``redis-server`` (started here on a free loopback port, no persistence).

    python benchmarks/bench_sharing.py [--jobs 1000] [--seconds 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from _support import SAMPLE_LINE, Row, emulator_process, report

from mistral_jobs_async import AsyncClient

KEY = "bench-sharing"

MEMBER = textwrap.dedent(
    """
    import json, sys, time
    import aiohttp, anyio
    from mistral_jobs_async import AsyncClient
    from mistral_jobs_async.watcher import Transition, WatchConfig

    async def main():
        emu_url, redis_url, namespace, ids_path, key, seconds = sys.argv[1:7]
        ids = open(ids_path).read().split()
        requests = transitions = 0

        async def on_start(session, context, params):
            nonlocal requests
            requests += 1

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_start)
        config = WatchConfig(fast_interval=0.25, base_interval=0.5, max_interval=1.0,
                             coalesce=0.25, requests_per_second=10_000, max_in_flight=8)
        cpu = time.process_time()
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            async with AsyncClient(key, base_url=emu_url, session=session) as client:
                jobs = client.fine_tuning.jobs
                if redis_url == "-":
                    watcher = jobs.watcher(ids, config=config, close_when_done=False)
                    context = watcher
                else:
                    from mistral_jobs_async.sharing import SharedWatcher, SharingConfig
                    sharing = SharingConfig(namespace=namespace, read_block=0.2)
                    watcher = SharedWatcher(jobs, redis_url, config=config, sharing=sharing)
                    context = watcher
                async with context:
                    watcher.add(ids)
                    with anyio.move_on_after(float(seconds)):
                        async with watcher.subscribe() as events:
                            async for event in events:
                                transitions += isinstance(event, Transition)
        led = len(getattr(watcher, "led", [None]))
        print(json.dumps({"requests": requests, "cpu": time.process_time() - cpu,
                          "transitions": transitions, "led": led}))

    anyio.run(main)
    """
)


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench_sharing needs redis-server (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    raise SystemExit("redis-server did not start")


async def create_jobs(url: str, count: int) -> list[str]:
    async with AsyncClient(KEY, base_url=url) as client:
        uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 10), filename="t.jsonl")
        limiter = asyncio.Semaphore(16)

        async def one(n: int) -> str:
            async with limiter:
                job = await client.fine_tuning.jobs.create(
                    model="open-mistral-7b", training_files=[uploaded.id], auto_start=True,
                    hyperparameters={"training_steps": 40 + (n * 37) % 400},
                )  # fmt: skip
                return job.id

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def scenario(
    members: int, redis_url: str | None, jobs: int, seconds: float, speed: float, work: Path
) -> dict[str, float]:
    with emulator_process("--seed", "4") as running:
        ids = asyncio.run(create_jobs(running.url, jobs))
        (work / "ids").write_text("\n".join(ids))
        control = [  # set the clock running through the control path
            sys.executable, "-c",
            "import json, sys, urllib.request as u; r = u.Request(sys.argv[1] + '/_emulator/clock',"
            " data=json.dumps({'speed': float(sys.argv[3])}).encode(), headers={'Authorization':"
            " 'Bearer ' + sys.argv[2], 'Content-Type': 'application/json'}); u.urlopen(r).read()",
            running.url, running.control_token, str(speed),
        ]  # fmt: skip
        subprocess.run(control, check=True)
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        command = [
            sys.executable, str(work / "member.py"), running.url, redis_url or "-", namespace,
            str(work / "ids"), KEY, str(seconds),
        ]  # fmt: skip
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(members)
        ]
        results = [json.loads(p.communicate()[0]) for p in processes]
    return {
        "requests": sum(r["requests"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "transitions_min": min(r["transitions"] for r in results),
        "transitions_max": max(r["transitions"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--speed", type=float, default=5.0, help="emulator clock speed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        (work / "member.py").write_text(MEMBER)
        redis, redis_url = start_redis(directory)
        try:
            rows: list[Row] = []
            baseline: dict[str, float] | None = None
            for members, shared in ((1, False), (4, False), (1, True), (4, True)):
                measured = scenario(
                    members, redis_url if shared else None, args.jobs, args.seconds, args.speed,
                    work,
                )  # fmt: skip
                baseline = baseline or measured
                rows.append(
                    {
                        "processes": members,
                        "watching": "shared (Redis)" if shared else "own watcher each",
                        "requests": int(measured["requests"]),
                        "requests vs 1 local": round(
                            measured["requests"] / baseline["requests"], 2
                        ),
                        "CPU s (all)": round(measured["cpu"], 2),
                        "CPU vs 1 local": round(measured["cpu"] / baseline["cpu"], 2),
                        "transitions per member": (
                            f"{int(measured['transitions_min'])}-{int(measured['transitions_max'])}"
                        ),
                    }
                )
        finally:
            redis.terminate()
            redis.wait()
    report(rows, as_json=args.json)


if __name__ == "__main__":
    main()
