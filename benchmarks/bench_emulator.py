"""Emulator throughput at scale: requests/second for get and list with 10,000 jobs per key.

The emulator runs in its own process (as ``mistral-jobs emulator``); this process is the load.
The baseline, measured in the same run, is the same requests against a key holding 100 jobs
(one full page): a ratio near 1.0 means the 10,000-job organisation does not slow the emulator down.

    python benchmarks/bench_emulator.py [--jobs 10000] [--requests 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
from _support import SAMPLE_LINE, Row, emulator_process, proc_status_kib, report


def rss_mib(pid: int) -> float:
    kib = proc_status_kib("VmRSS", pid)
    return float("nan") if kib is None else kib / 1024


async def populate(session: aiohttp.ClientSession, url: str, key: str, jobs: int) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"}
    form = aiohttp.FormData()
    form.add_field("purpose", "fine-tune")
    form.add_field("file", SAMPLE_LINE * 10, filename="train.jsonl")
    async with session.post(url + "/v1/files", data=form, headers=headers) as response:
        file_id = (await response.json())["id"]
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": file_id}]}
    ids: list[str] = []
    limiter = asyncio.Semaphore(16)

    async def one() -> None:
        async with (
            limiter,
            session.post(url + "/v1/fine_tuning/jobs", json=body, headers=headers) as response,
        ):
            ids.append((await response.json())["id"])

    await asyncio.gather(*(one() for _ in range(jobs)))
    return ids


async def rate(requests: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    """Requests per second for ``requests`` calls with ``concurrency`` in flight."""
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


async def main(jobs: int, requests: int, concurrency: int) -> list[dict[str, object]]:
    rows: list[Row] = []
    with emulator_process() as running:
        process, url = running.process, running.url
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            rss_empty = rss_mib(process.pid)
            small = await populate(session, url, "baseline-key", 100)
            large = await populate(session, url, "scale-key", jobs)
            rss_full = rss_mib(process.pid)

            def caller(key: str, target: Callable[[int], str]) -> Callable[[int], Awaitable[None]]:
                """GET ``target(i)`` (a path under the collection) as ``key``."""
                headers = {"Authorization": f"Bearer {key}"}

                async def call(i: int) -> None:
                    path = f"{url}/v1/fine_tuning/jobs{target(i)}"
                    async with session.get(path, headers=headers) as response:
                        await response.read()
                        assert response.status == 200

                return call

            def getter(key: str, ids: list[str]) -> Callable[[int], Awaitable[None]]:
                return caller(key, lambda i: f"/{ids[i % len(ids)]}")

            def lister(key: str, query: str) -> Callable[[int], Awaitable[None]]:
                return caller(key, lambda _: f"?{query}")

            scenarios = [
                ("GET one job", getter("baseline-key", small), getter("scale-key", large)),
                (
                    "list page 0 (100 jobs)",
                    lister("baseline-key", "page_size=100"),
                    lister("scale-key", "page_size=100"),
                ),
                (
                    "list last page (100 jobs)",
                    lister("baseline-key", "page_size=100"),
                    lister("scale-key", f"page={jobs // 100 - 1}&page_size=100"),
                ),
                (
                    "list filtered by status",
                    lister("baseline-key", "page_size=100&status=QUEUED"),
                    lister("scale-key", "page_size=100&status=QUEUED"),
                ),
            ]
            for name, baseline_call, scale_call in scenarios:
                await rate(min(200, requests), concurrency, baseline_call)  # warm-up
                baseline = await rate(requests, concurrency, baseline_call)
                scaled = await rate(requests, concurrency, scale_call)
                rows.append(
                    {
                        "scenario": name,
                        "baseline_rps_100_jobs": round(baseline, 1),
                        f"rps_{jobs}_jobs": round(scaled, 1),
                        "ratio": round(scaled / baseline, 3),
                    }
                )
            rows.append(
                {
                    "scenario": "emulator RSS (MiB)",
                    "baseline_rps_100_jobs": round(rss_empty, 1),
                    f"rps_{jobs}_jobs": round(rss_full, 1),
                    "ratio": round(rss_full / rss_empty, 3),
                }
            )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args()
    report(asyncio.run(main(args.jobs, args.requests, args.concurrency)), as_json=args.json)
