"""Validating training files: throughput against a plain json.loads loop, and flat memory.

Generates chat JSONL files of ``--small`` and ``--large`` MB (the large one by default 200 MB)
and measures, each in a fresh process (so peak RSS is the run's own):

* the baseline: a plain loop of ``json.loads`` over the same lines;
* ``validate_file(..., tokens=False)``: the structural rules alone;
* ``validate_file(..., model=..., workers=1)``: with Mistral's own validation and tokenizer
  (the ``data`` extra) in one process, and the same on every core (the default for a file
  of 8 MiB or more), on the small file only unless ``--tokens-large`` (far slower than the
  rules). Peak RSS is the main process's (each worker holds one tokenizer besides).

Reported: MB/s and the ratio against the baseline measured in the same run, and peak RSS of
the small and the large file (flat: memory does not follow the file's size).

    python benchmarks/bench_datasets.py [--small 20] [--large 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from _support import Row, report

MEASURE = """
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "json.loads":
    with open(path, "rb") as lines:
        for line in lines:
            json.loads(line)
else:
    from mistral_jobs_async.datasets import validate_file
    workers = 1 if mode == "tokens-one" else None
    report = validate_file(
        path, tokens=mode.startswith("tokens"), model="open-mistral-7b", workers=workers
    )
    assert report.ok, report.problems[:3]
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mib": peak}))
"""


def generate(path: Path, megabytes: int) -> None:
    rng = random.Random(5)
    words = ["model", "train", "token", "answer", "question", "data", "loss", "step", "file"]
    target = megabytes * 2**20
    written = n = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            question = " ".join(rng.choices(words, k=rng.randint(5, 40)))
            answer = " ".join(rng.choices(words, k=rng.randint(5, 80)))
            sample = {
                "messages": [
                    {"role": "system", "content": "You answer briefly."},
                    {"role": "user", "content": f"{question} #{n}"},
                    {"role": "assistant", "content": answer},
                ]
            }
            line = json.dumps(sample) + "\n"
            out.write(line)
            written += len(line)
            n += 1


def measure(path: Path, mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), mode], capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20, help="MB")
    parser.add_argument("--large", type=int, default=200, help="MB")
    parser.add_argument("--tokens-large", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as directory:
        for megabytes in (args.small, args.large):
            path = Path(directory) / f"train-{megabytes}.jsonl"
            generate(path, megabytes)
            size = path.stat().st_size / 2**20
            baseline = measure(path, "json.loads")
            modes = ["json.loads", "rules"]
            if megabytes == args.small or args.tokens_large:
                modes += ["tokens-one", "tokens"]
            for mode in modes:
                measured = baseline if mode == "json.loads" else measure(path, mode)
                rows.append(
                    {
                        "file MB": round(size),
                        "check": {"json.loads": "json.loads loop (baseline)",
                                  "rules": "validate_file (rules)",
                                  "tokens-one": "validate_file (+ mistral-common, 1 process)",
                                  "tokens": "validate_file (+ mistral-common, every core)",
                                  }[mode],
                        "MB/s": round(size / measured["seconds"], 1),
                        "time vs baseline": round(measured["seconds"] / baseline["seconds"], 2),
                        "peak RSS MiB": round(measured["peak_mib"], 1),
                    }
                )  # fmt: skip
    report(rows, as_json=args.json)


if __name__ == "__main__":
    main()
