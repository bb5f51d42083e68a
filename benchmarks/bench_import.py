"""Import time: ``mistral_jobs_async`` vs the official SDK vs our four core dependencies alone.

Each sample is a fresh interpreter timing its own import statement (``time.perf_counter``
around it, so interpreter start-up is left out), with the bytecode caches already written.
Rounds run the contenders one after the other, the order rotated; a ratio is the median of
the per-round ratios. Target: our import within 1.15x of ``import aiohttp, msgspec, tenacity,
anyio`` (what any client on these libraries pays).

    python benchmarks/bench_import.py [--rounds 21] [--json] [--plots DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _plots import bars
from _support import Row, report, rotated

CONTENDERS = {
    "core dependencies": "import aiohttp, msgspec, tenacity, anyio",
    "mistral_jobs_async": "from mistral_jobs_async import AsyncClient",
    # The watcher is imported on first use: here is what a program that watches pays in all.
    "mistral_jobs_async + watcher": "from mistral_jobs_async import AsyncClient, watcher",
    "mistralai 2.5.1": "from mistralai.client import Mistral",
    # Its fine-tuning API is imported on first use too (client.fine_tuning.jobs).
    "mistralai 2.5.1 + fine_tuning.jobs": (
        "from mistralai.client import Mistral; "
        "import mistralai.client.fine_tuning, mistralai.client.fine_tuning_jobs"
    ),
}
TIMED = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"


# Bytecode caches are written and used, as after any pip install: without them every
# contender would be timed compiling its sources (PYTHONDONTWRITEBYTECODE is set here).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sample(statement: str) -> float:
    """Seconds one fresh interpreter takes to run ``statement``."""
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(statement)],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    return float(done.stdout)


def measure(rounds: int) -> dict[str, list[float]]:
    names = list(CONTENDERS)
    for name in names:  # write the bytecode caches, warm the file cache
        sample(CONTENDERS[name])
    times: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in rotated(names, number):
            times[name].append(sample(CONTENDERS[name]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write the plot (PNG) here")
    args = parser.parse_args()
    times = measure(args.rounds)
    core = times["core dependencies"]
    rows: list[Row] = []
    for name, statement in CONTENDERS.items():
        ratios = [mine / base for mine, base in zip(times[name], core, strict=True)]
        rows.append(
            {
                "import": name,
                "statement": statement,
                "median ms": round(statistics.median(times[name]) * 1000, 1),
                "vs core dependencies": round(statistics.median(ratios), 3),
                "target": "<= 1.15" if name == "mistral_jobs_async" else "-",
            }
        )
    report(rows, as_json=args.json)
    if args.plots:
        bars(
            args.plots / "bench-import.png",
            {"": {name: statistics.median(values) * 1000 for name, values in times.items()}},
            title="Import time (lower is better)",
            unit="ms",
            note=f"bench_import.py: median of {args.rounds} fresh interpreters each",
        )


if __name__ == "__main__":
    main()
