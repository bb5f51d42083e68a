"""Client overhead: CPU per ``get`` against the raw floor, and the decode time of a list page.

The emulator runs in its own process, so this process's CPU time is the client's alone.

* ``get``: ``AsyncClient.fine_tuning.jobs.get`` against the floor, a bare ``aiohttp`` GET of
  the same URL decoded with ``msgspec`` into the same model. Paired rounds alternate between
  the two; the ratio is the median of the per-round ratios. Target: ratio <= 1.2.
* decode: a 100-job list page (as the emulator sends it) decoded into the client's models,
  against the standard library's ``json.loads`` of the same bytes (untyped dicts).

    python benchmarks/bench_client.py [--requests 1000] [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import time
import timeit

import aiohttp
import msgspec
from _support import SAMPLE_LINE, Row, emulator_process, report

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.models import FineTuningJob, FineTuningJobList

KEY = "bench-key"


async def prepare(client: AsyncClient) -> tuple[str, bytes]:
    """A detailed job to GET, and the raw bytes of a 100-job list page."""
    uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 20), filename="train.jsonl")
    jobs = [
        await client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=[uploaded.id], suffix="bench"
        )
        for _ in range(100)
    ]
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{client.base_url}/v1/fine_tuning/jobs?page_size=100", headers=headers
        ) as response,
    ):
        page = await response.read()
    return jobs[0].id, page


async def cpu_per_request(requests: int, call: object) -> float:
    """Process CPU seconds per request for ``requests`` sequential calls."""
    started = time.process_time()
    for _ in range(requests):
        await call()  # type: ignore[operator]
    return (time.process_time() - started) / requests


async def measure_get(url: str, requests: int, rounds: int) -> dict[str, float]:
    decoder = msgspec.json.Decoder(FineTuningJob)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        AsyncClient(KEY, base_url=url) as client,
        aiohttp.ClientSession() as session,
    ):
        job_id, _ = await prepare(client)
        target = f"{url}/v1/fine_tuning/jobs/{job_id}"

        async def raw() -> None:
            async with session.get(target, headers=headers) as response:
                decoder.decode(await response.read())

        async def ours() -> None:
            await client.fine_tuning.jobs.get(job_id)

        await cpu_per_request(200, raw)  # warm-up both paths
        await cpu_per_request(200, ours)
        raw_times, our_times, ratios = [], [], []
        for number in range(rounds):
            # Paired rounds, in alternating order: each ratio compares two runs made back to
            # back, so drift in the machine's load cancels out; the median drops outliers.
            if number % 2:
                ours_time = await cpu_per_request(requests, ours)
                raw_time = await cpu_per_request(requests, raw)
            else:
                raw_time = await cpu_per_request(requests, raw)
                ours_time = await cpu_per_request(requests, ours)
            raw_times.append(raw_time)
            our_times.append(ours_time)
            ratios.append(ours_time / raw_time)
    return {
        "raw_us": statistics.median(raw_times) * 1e6,
        "client_us": statistics.median(our_times) * 1e6,
        "ratio": statistics.median(ratios),
    }


async def page_bytes(url: str) -> bytes:
    async with AsyncClient(KEY + "-page", base_url=url) as client:
        _, page = await prepare(client)
    return page


def measure_decode(page: bytes) -> dict[str, float]:
    decoder = msgspec.json.Decoder(FineTuningJobList)
    assert len(decoder.decode(page).data) == 100
    number = 200
    typed = min(timeit.repeat(lambda: decoder.decode(page), number=number, repeat=5)) / number
    stdlib = min(timeit.repeat(lambda: json.loads(page), number=number, repeat=5)) / number
    return {
        "stdlib_us": stdlib * 1e6,
        "client_us": typed * 1e6,
        "ratio": typed / stdlib,
        "bytes": len(page),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with emulator_process("--seed", "1") as running:
        url = running.url
        get = asyncio.run(measure_get(url, args.requests, args.rounds))
        decode = measure_decode(asyncio.run(page_bytes(url)))
    rows: list[Row] = [
        {
            "measure": "CPU per get (us)",
            "baseline": "raw aiohttp + msgspec",
            "baseline_value": round(get["raw_us"], 1),
            "client_value": round(get["client_us"], 1),
            "ratio": round(get["ratio"], 3),
            "target": "<= 1.2",
        },
        {
            "measure": f"decode 100-job page, {decode['bytes']:.0f} B (us)",
            "baseline": "json.loads (untyped)",
            "baseline_value": round(decode["stdlib_us"], 1),
            "client_value": round(decode["client_us"], 1),
            "ratio": round(decode["ratio"], 3),
            "target": "-",
        },
    ]
    report(rows, as_json=args.json)


if __name__ == "__main__":
    main()
