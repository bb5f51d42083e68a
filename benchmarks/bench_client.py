"""Client overhead against the official SDK and the floor: CPU per ``get``, and decode times.

The emulator runs in its own process, so this process's CPU time is the clients' alone. The
baseline is the official ``mistralai`` SDK pinned at 2.5.1, the last release with fine-tuning
jobs (the ``bench`` dependency group: ``nox -s bench``, or ``pip install --group bench``).

* CPU per ``get`` of one detailed job, in paired rounds (the three contenders one after the
  other, the order rotated each round; a ratio is the median of the per-round ratios):
  ``client.fine_tuning.jobs.get`` vs the SDK's ``fine_tuning.jobs.get_async`` vs the floor,
  a bare ``aiohttp`` GET of the same URL decoded with ``msgspec`` into the same model.
  Targets: at least 10x less CPU than the SDK, within 1.15x of the floor.
* decode of a 100-job list page and of a detailed job (events, checkpoints), the bytes the
  emulator sends: our models vs the SDK's models as the SDK decodes a response
  (``unmarshal_json_response``) and at their best (pydantic ``TypeAdapter.validate_json``) vs
  the standard library's ``json.loads`` (untyped dicts). Target: at least 6x faster than the SDK.

    python benchmarks/bench_client.py [--requests 400] [--rounds 9] [--json] [--plots DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import msgspec
import pydantic
from _plots import bars
from _support import SAMPLE_LINE, Row, control, emulator_process, report, rotated
from mistralai.client import Mistral
from mistralai.client import models as sdk_models
from mistralai.client.utils.unmarshal_json_response import unmarshal_json_response

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.models import FineTuningJob, FineTuningJobList

KEY = "bench-key"
OURS, SDK, FLOOR = "mistral_jobs_async", "mistralai 2.5.1", "raw aiohttp + msgspec (floor)"
Call = Callable[[], Awaitable[object]]


async def prepare(url: str, token: str) -> tuple[str, bytes, bytes]:
    """100 jobs, one of them run to SUCCESS: its id, its detailed bytes and a list page's."""
    async with AsyncClient(KEY, base_url=url) as client, aiohttp.ClientSession() as session:
        uploaded = await client.files.upload(io.BytesIO(SAMPLE_LINE * 20), filename="train.jsonl")
        first = await client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=[uploaded.id], suffix="bench", auto_start=True
        )
        await control(session, url, token, {"advance": 36_000})  # the first job runs to the end
        for _ in range(99):
            await client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=[uploaded.id], suffix="bench"
            )
        headers = {"Authorization": f"Bearer {KEY}"}
        pages = []
        for path in (f"jobs/{first.id}", "jobs?page_size=100"):
            async with session.get(f"{url}/v1/fine_tuning/{path}", headers=headers) as response:
                pages.append(await response.read())
    return first.id, pages[0], pages[1]


async def cpu_per_request(requests: int, call: Call) -> float:
    """Process CPU seconds per request for ``requests`` sequential calls."""
    started = time.process_time()
    for _ in range(requests):
        await call()
    return (time.process_time() - started) / requests


async def measure_get(url: str, job_id: str, requests: int, rounds: int) -> dict[str, float]:
    decoder = msgspec.json.Decoder(FineTuningJob)
    headers = {"Authorization": f"Bearer {KEY}"}
    target = f"{url}/v1/fine_tuning/jobs/{job_id}"
    async with (
        AsyncClient(KEY, base_url=url) as client,
        aiohttp.ClientSession() as session,
        Mistral(api_key=KEY, server_url=url) as sdk,
    ):

        async def raw() -> object:
            async with session.get(target, headers=headers) as response:
                return decoder.decode(await response.read())

        calls: dict[str, Call] = {
            FLOOR: raw,
            OURS: lambda: client.fine_tuning.jobs.get(job_id),
            SDK: lambda: sdk.fine_tuning.jobs.get_async(job_id=job_id),
        }
        assert (await calls[OURS]()) == (await calls[FLOOR]())
        assert getattr(await calls[SDK](), "status", None) == "SUCCESS"
        for call in calls.values():  # warm-up: connections, caches, lazy imports
            await cpu_per_request(100, call)
        times: dict[str, list[float]] = {name: [] for name in calls}
        floor_ratios, sdk_ratios = [], []
        names = list(calls)
        for number in range(rounds):
            # Paired rounds, the order rotated: each ratio compares runs made back to back, so
            # drift in the machine's load cancels out; the median drops outliers.
            this_round: dict[str, float] = {}
            for name in rotated(names, number):
                this_round[name] = await cpu_per_request(requests, calls[name])
                times[name].append(this_round[name])
            floor_ratios.append(this_round[OURS] / this_round[FLOOR])
            sdk_ratios.append(this_round[SDK] / this_round[OURS])
    result = {name: statistics.median(values) * 1e6 for name, values in times.items()}
    result["vs_floor"] = statistics.median(floor_ratios)
    result["sdk_vs_ours"] = statistics.median(sdk_ratios)
    return result


def best_time(function: Callable[[], object], number: int) -> float:
    """The fastest of five repeats, per call, in microseconds."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def measure_decode(body: bytes, ours: type, theirs: type, number: int) -> dict[str, float]:
    decoder: msgspec.json.Decoder[object] = msgspec.json.Decoder(ours)
    adapter: pydantic.TypeAdapter[object] = pydantic.TypeAdapter(theirs)

    def sdk_path() -> object:
        # What the SDK runs on every answer: the body as text, then its unmarshal_json.
        return unmarshal_json_response(theirs, httpx.Response(200, content=body))

    assert msgspec.json.encode(decoder.decode(body)), "our models decode the page"
    assert isinstance(sdk_path(), theirs), "the SDK's models decode it"
    return {
        OURS: best_time(lambda: decoder.decode(body), number),
        "SDK as it decodes": best_time(sdk_path, number),
        "SDK models, validate_json": best_time(lambda: adapter.validate_json(body), number),
        "json.loads": best_time(lambda: json.loads(body), number),
        "bytes": len(body),
    }


def rows_for(get: dict[str, float], decodes: dict[str, dict[str, float]]) -> list[Row]:
    rows: list[Row] = [
        {
            "measure": "CPU per get (us)",
            OURS: round(get[OURS], 1),
            "SDK": round(get[SDK], 1),
            "floor / json.loads": round(get[FLOOR], 1),
            "SDK / ours": round(get["sdk_vs_ours"], 2),
            "ours / floor": round(get["vs_floor"], 3),
            "target": "SDK/ours >= 10, ours/floor <= 1.15",
        }
    ]
    for name, decode in decodes.items():
        # The SDK as it decodes every answer (the target's figure), then its models at best.
        for measure, sdk, target in (
            (f"decode {name}, {decode['bytes']:.0f} B (us)", "SDK as it decodes", "SDK/ours >= 6"),
            (f"  the SDK's models at best (validate_json), {name}", "SDK models, validate_json",
             "-"),
        ):  # fmt: skip
            rows.append(
                {
                    "measure": measure,
                    OURS: round(decode[OURS], 1),
                    "SDK": round(decode[sdk], 1),
                    "floor / json.loads": round(decode["json.loads"], 1),
                    "SDK / ours": round(decode[sdk] / decode[OURS], 2),
                    "ours / floor": round(decode[OURS] / decode["json.loads"], 3),
                    "target": target,
                }
            )
    return rows


def plot(folder: Path, get: dict[str, float], decodes: dict[str, dict[str, float]]) -> None:
    """Two plots: request overhead, and decode times."""
    bars(
        folder / "bench-request-overhead.png",
        {"": {OURS: get[OURS], SDK: get[SDK], FLOOR: get[FLOOR]}},
        title="Client CPU per get of one job (lower is better)",
        unit="us",
        note="bench_client.py: medians of paired rounds, the emulator in its own process",
    )
    groups: dict[str, dict[str, float]] = {}
    for name, decode in decodes.items():
        groups[f"decode {name}"] = {
            OURS: decode[OURS],
            f"{SDK} (as it decodes)": decode["SDK as it decodes"],
            f"{SDK} models (validate_json)": decode["SDK models, validate_json"],
            "json.loads (untyped)": decode["json.loads"],
        }
    bars(
        folder / "bench-decode.png",
        groups,
        title="Decoding answers into typed models (lower is better)",
        unit="us",
        note="bench_client.py: best of 5 repeats; log scale",
        log=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="gets per contender per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write the plot (PNG) here")
    args = parser.parse_args()
    with emulator_process("--seed", "1") as running:
        job_id, detailed, page = asyncio.run(prepare(running.url, running.control_token))
        get = asyncio.run(measure_get(running.url, job_id, args.requests, args.rounds))
    decodes = {
        "100-job page": measure_decode(
            page, FineTuningJobList, sdk_models.ListFineTuningJobsResponse, 100
        ),
        "detailed job": measure_decode(
            detailed, FineTuningJob, sdk_models.CompletionFineTuningJobDetails, 500
        ),
    }
    report(rows_for(get, decodes), as_json=args.json)
    if args.plots:
        plot(args.plots, get, decodes)


if __name__ == "__main__":
    main()
