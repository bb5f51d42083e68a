"""``jobs watch`` / ``forge watch``: follow jobs to their end, then say how they ended.

One board holds what is known of each job; three renderings read it: JSON lines (``--json``),
a live table (a terminal, with rich), or one plain line per change (a pipe).
"""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import EXIT_JOB_FAILED, EXIT_OK
from mistral_jobs_async._cli._output import (
    Output,
    clock_time,
    resource,
    start_hint,
    waiting_for_start,
)
from mistral_jobs_async.watcher import JobVanished, PollFailed, Transition, WatchEvent

__all__ = ["Board", "watch"]

_SUCCESS = "SUCCESS"
_VANISHED = "VANISHED"


@dataclass
class _Seen:
    """One watched job as last seen."""

    status: str | None = None
    since: float | None = None
    note: str = ""
    final: str | None = None


class Board:
    """What a watch knows of each job: status, since when, a note, how it ended."""

    def __init__(self, job_ids: list[str]) -> None:
        self.jobs = {job_id: _Seen() for job_id in job_ids}

    def apply(self, event: WatchEvent[Any]) -> None:
        """Take one watcher event into account."""
        seen = self.jobs.setdefault(event.job_id, _Seen())
        if isinstance(event, Transition):
            seen.status, seen.since = event.status, event.observed_at
            seen.note = start_hint(event.job_id) if waiting_for_start(event.job) else ""
            if event.terminal:
                seen.final = event.status
        elif isinstance(event, JobVanished):
            seen.status, seen.since, seen.final = _VANISHED, event.observed_at, _VANISHED
            seen.note = f"was {event.last_status or '-'}"
        elif isinstance(event, PollFailed):
            seen.note = f"poll failed ({event.error}); retrying"

    def rows(self) -> list[tuple[str, str, str, str]]:
        """One row per job: id, status, since (UTC time of day), note."""
        return [
            (
                job_id,
                seen.status or "-",
                clock_time(seen.since) if seen.since is not None else "-",
                seen.note,
            )
            for job_id, seen in self.jobs.items()
        ]

    def progress(self) -> str:
        """How many jobs have ended so far."""
        ended = sum(1 for seen in self.jobs.values() if seen.final is not None)
        return f"{ended}/{len(self.jobs)} ended"

    def exit_code(self) -> int:
        """1 if any job ended other than SUCCESS (failed, cancelled, vanished), else 0."""
        failed = any(s.final not in (None, _SUCCESS) for s in self.jobs.values())
        return EXIT_JOB_FAILED if failed else EXIT_OK

    def summary_line(self) -> str:
        """E.g. ``3 jobs ended: 2 SUCCESS, 1 FAILED (<id>)``."""
        finals = {job_id: s.final for job_id, s in self.jobs.items() if s.final is not None}
        counts = Counter(finals.values())
        parts = []
        for status in sorted(counts, key=lambda s: (s != _SUCCESS, s)):
            ids = "" if status == _SUCCESS else f" ({', '.join(_ids_with(finals, status))})"
            parts.append(f"{counts[status]} {status}{ids}")
        noun = "job" if len(finals) == 1 else "jobs"
        return f"{len(finals)} {noun} ended: {', '.join(parts)}"

    def summary_record(self) -> dict[str, Any]:
        """The summary as the last JSON line of ``watch --json``."""
        finals = {job_id: s.final for job_id, s in self.jobs.items() if s.final is not None}
        return {
            "event": "summary",
            "jobs": len(finals),
            "counts": dict(sorted(Counter(finals.values()).items())),
            "statuses": finals,
        }


def _ids_with(finals: dict[str, str], status: str) -> list[str]:
    return [job_id for job_id, final in finals.items() if final == status]


def event_record(event: WatchEvent[Any]) -> dict[str, Any] | None:
    """A watcher event as a JSON line (None for the ones ``watch`` does not report)."""
    if isinstance(event, Transition):
        return {
            "event": "transition",
            "job_id": event.job_id,
            "previous": event.previous,
            "status": event.status,
            "missed": event.missed,
            "observed_at": event.observed_at,
            "waiting_for_start": waiting_for_start(event.job),
        }
    if isinstance(event, JobVanished):
        return {"event": "vanished", "job_id": event.job_id, "last_status": event.last_status}
    if isinstance(event, PollFailed):
        return {"event": "poll_failed", "job_id": event.job_id, "error": str(event.error)}
    return None  # JobStalled: the watch command sets no stall_after


def event_line(event: WatchEvent[Any]) -> str | None:
    """A watcher event as one plain line (None for the ones ``watch`` does not report)."""
    at = clock_time(event.observed_at)
    if isinstance(event, Transition):
        line = f"{at}  {event.job_id}  {event.previous or '-'} -> {event.status}"
        return f"{line}: {start_hint(event.job_id)}" if waiting_for_start(event.job) else line
    if isinstance(event, JobVanished):
        return f"{at}  {event.job_id}  vanished (was {event.last_status or '-'})"
    if isinstance(event, PollFailed):
        return f"{at}  {event.job_id}  poll failed ({event.error}); retrying"
    return None


async def watch(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Follow ``args.ids`` until every one has ended; exit 1 if any did not succeed."""
    board = Board(list(args.ids))
    console = out.console()
    with contextlib.ExitStack() as stack:
        view = None
        if console is not None:
            from mistral_jobs_async._live import WatchView  # noqa: PLC0415 (rich is an extra)

            label = "fine-tuning jobs" if args.api == "jobs" else "Forge jobs"
            view = stack.enter_context(WatchView(console, title=f"watching {label}"))
            view.show(board.rows(), board.progress())
        async with resource(client, args.api).watch(args.ids) as events:
            async for event in events:
                board.apply(event)
                if out.json:
                    item = event_record(event)
                    if item is not None:
                        out.emit(item)
                elif view is not None:
                    view.show(board.rows(), board.progress())
                else:
                    line = event_line(event)
                    if line is not None:
                        out.line(line)
    if out.json:
        out.emit(board.summary_record())
    else:
        out.line(board.summary_line())
    return board.exit_code()
