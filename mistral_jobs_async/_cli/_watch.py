"""``jobs watch`` / ``forge watch``: follow jobs to their end (or ``--until``), then say how.

One board holds what is known of each job; three renderings read it: JSON lines (``--json``),
a live table (a terminal, with rich), or one plain line per change (a pipe). With ``--all``
the watch follows every job of the organisation, jobs created later included, until Ctrl-C;
the board grows as jobs are found. With progress (the default with ids) the board shows each
job's latest checkpoint: step and training loss.
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
)
from mistral_jobs_async.watcher import (
    CheckpointReported,
    JobVanished,
    MetadataChanged,
    PollFailed,
    Transition,
    WatchEvent,
    event_record,
)

__all__ = ["Board", "event_line", "watch"]

_SUCCESS = "SUCCESS"
_VANISHED = "VANISHED"


@dataclass
class _Seen:
    """One watched job as last seen."""

    status: str | None = None
    since: float | None = None
    note: str = ""
    final: str | None = None
    loss: str = "-"
    #: Reached ``until``: the progress its last poll also showed may still follow.
    trailing: bool = False


def _loss(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


class Board:
    """What a watch knows of each job: status, since when, latest loss, a note, how it ended.

    A job is finished for the board when it ends, or (``until``) reaches one of those
    statuses; later events of a finished job are not its business any more, but for the
    progress (estimates, checkpoints) of the poll that showed it reach ``until``: the watcher
    reports a poll's progress after its transitions.
    """

    def __init__(self, job_ids: list[str], until: frozenset[str] | None = None) -> None:
        self.jobs = {job_id: _Seen() for job_id in job_ids}
        self.until = until

    @property
    def wanted(self) -> frozenset[str]:
        """The statuses a job may finish in without failing the watch."""
        return self.until if self.until is not None else frozenset({_SUCCESS})

    def accepts(self, event: WatchEvent[Any]) -> bool:
        """Whether ``event`` is still the board's business (see the class)."""
        seen = self.jobs.get(event.job_id)
        if seen is None or seen.final is None:
            return True
        if seen.trailing and isinstance(event, CheckpointReported | MetadataChanged):
            return True
        seen.trailing = False
        return False

    def apply(self, event: WatchEvent[Any]) -> bool:
        """Take one event it accepts into account; True if it finished its job."""
        seen = self.jobs.setdefault(event.job_id, _Seen())
        if isinstance(event, CheckpointReported):
            seen.loss = f"step {event.step}: {_loss(event.train_loss)}"
        elif isinstance(event, Transition):
            seen.status, seen.since = event.status, event.observed_at
            seen.note = start_hint(event.job_id) if event.waiting_for_start else ""
            if event.terminal or (self.until is not None and event.status in self.until):
                seen.final, seen.trailing = event.status, not event.terminal
                return True
        elif isinstance(event, JobVanished):
            seen.status, seen.since, seen.final = _VANISHED, event.observed_at, _VANISHED
            seen.note = f"was {event.last_status or '-'}"
            return True
        elif isinstance(event, PollFailed):
            seen.note = f"poll failed ({event.error}); retrying"
        return False

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """One row per job: id, status, since (UTC time of day), loss, note."""
        return [
            (
                job_id,
                seen.status or "-",
                clock_time(seen.since) if seen.since is not None else "-",
                seen.loss,
                seen.note,
            )
            for job_id, seen in self.jobs.items()
        ]

    def progress(self) -> str:
        """How many jobs have finished so far."""
        finished = sum(1 for seen in self.jobs.values() if seen.final is not None)
        return f"{finished}/{len(self.jobs)} {self._verb}"

    @property
    def _verb(self) -> str:
        return "ended" if self.until is None else "done"

    def exit_code(self) -> int:
        """1 if any job finished outside ``wanted`` (failed, cancelled, vanished), else 0."""
        wanted = self.wanted
        failed = any(s.final not in (None, *wanted) for s in self.jobs.values())
        return EXIT_JOB_FAILED if failed else EXIT_OK

    def _finals(self) -> dict[str, str]:
        return {job_id: s.final for job_id, s in self.jobs.items() if s.final is not None}

    def summary_line(self) -> str:
        """E.g. ``3 jobs ended: 2 SUCCESS, 1 FAILED (<id>)`` (``done`` with ``until``)."""
        finals = self._finals()
        counts = Counter(finals.values())
        wanted = self.wanted
        parts = []
        for status in sorted(counts, key=lambda s: (s not in wanted, s)):
            ids = "" if status in wanted else f" ({', '.join(_ids_with(finals, status))})"
            parts.append(f"{counts[status]} {status}{ids}")
        noun = "job" if len(finals) == 1 else "jobs"
        return f"{len(finals)} {noun} {self._verb}: {', '.join(parts)}"

    def summary_record(self) -> dict[str, Any]:
        """The summary as the last JSON line of ``watch --json``."""
        finals = self._finals()
        record: dict[str, Any] = {
            "event": "summary",
            "jobs": len(finals),
            "counts": dict(sorted(Counter(finals.values()).items())),
            "statuses": finals,
        }
        if self.until is not None:
            record["until"] = sorted(self.until)
        return record


def _ids_with(finals: dict[str, str], status: str) -> list[str]:
    return [job_id for job_id, final in finals.items() if final == status]


def event_line(event: WatchEvent[Any]) -> str | None:
    """A watcher event as one plain line (None for the ones ``watch`` does not report)."""
    at = clock_time(event.observed_at)
    if isinstance(event, Transition):
        line = f"{at}  {event.job_id}  {event.previous or '-'} -> {event.status}"
        return f"{line}: {start_hint(event.job_id)}" if event.waiting_for_start else line
    if isinstance(event, JobVanished):
        return f"{at}  {event.job_id}  vanished (was {event.last_status or '-'})"
    if isinstance(event, PollFailed):
        return f"{at}  {event.job_id}  poll failed ({event.error}); retrying"
    if isinstance(event, CheckpointReported):
        losses = f"train_loss {_loss(event.train_loss)}  valid_loss {_loss(event.valid_loss)}"
        return f"{at}  {event.job_id}  step {event.step}  {losses}"
    return None  # estimates (MetadataChanged) are in --json only


def _session(client: AsyncClient, args: argparse.Namespace) -> Any:
    """The watch session of ``args``: of its ids, or (``--all``) of every matching job."""
    jobs = resource(client, args.api)
    progress = args.progress if args.progress is not None else not args.all
    if not args.all:
        return jobs.watch(args.ids, progress=progress)
    filters = {name: getattr(args, name, None) for name in ("status", "model", "suffix")}
    filters = {name: value for name, value in filters.items() if value is not None}
    return jobs.watch_all(include_ended=args.include_ended, progress=progress, **filters)


def _all_note(args: argparse.Namespace, label: str) -> str:
    """What ``watch --all`` follows, and how it ends."""
    matching = [
        f"{name} {value}"
        for name in ("status", "model", "suffix")
        if (value := getattr(args, name, None)) is not None
    ]
    which = f" with {', '.join(matching)}" if matching else ""
    ended = "ended ones and new ones included" if args.include_ended else "new ones included"
    return (
        f"watching every {label[:-1]}{which}, {ended}; "
        "Ctrl-C stops watching (the jobs keep running)"
    )


async def watch(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Follow the jobs until each has ended or reached ``--until``; exit 1 if any failed.

    With ``--all`` it follows every job until interrupted.
    """
    board = Board(list(args.ids), args.until)
    label = "fine-tuning jobs" if args.api == "jobs" else "Forge jobs"
    if args.all:
        out.note(_all_note(args, label))
    console = out.console()
    with contextlib.ExitStack() as stack:
        view = None
        if console is not None:
            from mistral_jobs_async._live import WatchView  # noqa: PLC0415 (rich is an extra)

            view = stack.enter_context(WatchView(console, title=f"watching {label}"))
            view.show(board.rows(), board.progress())
        async with _session(client, args) as events:
            async for event in events:
                if not board.accepts(event):
                    # Done for this watch: its events were already on their way, or a watch
                    # by query found it again (its next walk does): forget it again.
                    if isinstance(event, Transition) and not event.terminal:
                        events.watcher.remove([event.job_id])
                    continue
                if board.apply(event) and isinstance(event, Transition) and not event.terminal:
                    events.watcher.remove([event.job_id])  # reached --until: stop polling it
                if out.json:
                    out.emit(event_record(event))
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
