"""What the benchmark scripts share: an emulator in its own process, memory figures, the
order of paired rounds, and the output."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

Row = dict[str, object]
#: One valid fine-tuning sample (a JSONL line) to build training files from.
SAMPLE_LINE = (
    b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
)


@dataclass(frozen=True)
class Running:
    """An emulator process: its pid (for memory), base URL and control token."""

    process: subprocess.Popen[str]
    url: str
    control_token: str


@contextmanager
def emulator_process(*options: str) -> Iterator[Running]:
    """``mistral-jobs emulator`` on a free loopback port, frozen clock, stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mistral_jobs_async", "emulator", "--port", "0", "--quiet",
         "--speed", "0", *options],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match, "the emulator did not start"
        banner = "".join(process.stdout.readline() for _ in range(4))
        token = re.search(r"control token: (\S+?)\)", banner)
        yield Running(process, match.group(1), token.group(1) if token else "")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


async def control(
    session: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]
) -> Any:
    """POST to the emulator's clock control (``{"speed": x}``, ``{"advance": seconds}``)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(f"{url}/_emulator/clock", json=body, headers=headers) as response:
        response.raise_for_status()
        return await response.json()


def proc_status_kib(field: str, pid: int | str = "self") -> int | None:
    """A memory figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``...) in KiB.

    None where there is none: no such process, no such field, or no ``/proc`` (not Linux).
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rotated(names: list[str], number: int) -> list[str]:
    """Round ``number``'s order of ``names``: each round starts one further along, so in
    paired rounds no contender always runs first (or right after the same one)."""
    turn = number % len(names)
    return names[turn:] + names[:turn]


def report(rows: list[Row], *, as_json: bool) -> None:
    """Print rows as an aligned table, or one JSON object per line."""
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True)))
