"""Live terminal views of the command line (need rich: ``pip install mistral-jobs-async[cli]``).

``byte_progress`` is the bar of ``files validate`` on a long file.

``LiveView`` is the demo's; ``WatchView`` is ``jobs watch`` / ``forge watch``'s. Both draw on a
console they are given, so tests can hand them one that writes to a buffer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

__all__ = ["LiveView", "WatchView", "byte_progress", "terminal_console"]


def terminal_console(stream: TextIO) -> Console:
    """A rich console on ``stream``, which the caller found to be a terminal."""
    return Console(file=stream, force_terminal=True)


class LiveView:
    """The demo's live terminal view (rich), refreshed on every change."""

    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=8, transient=False)
        self._notes: list[str] = []

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, summary: Any, job: Any, message: str) -> None:
        """Redraw after a change (``job`` None for a note)."""
        if job is None:
            self._notes = [*self._notes[-2:], message]
        jobs = summary.jobs
        table = Table(expand=False, title="jobs (most recent changes first)")
        for column in ("job", "api", "status", "elapsed", "train loss"):
            table.add_column(column)
        recent = sorted(jobs, key=lambda j: -j.changed)[:18]
        for item in recent:
            loss = f"{item.loss:.3f}" if item.loss is not None else "-"
            table.add_row(item.id[:8], item.api, item.status, f"{item.elapsed:5.0f}s", loss)
        done = sum(1 for j in jobs if j.terminal)
        counts = "  ".join(f"{status}: {n}" for status, n in sorted(summary.counts().items()))
        bar = ProgressBar(total=max(1, len(jobs)), completed=done, width=50)
        self._live.update(
            Group(
                *self._notes,
                table,
                counts,
                bar,
                f"{done}/{len(jobs)} ended  watcher requests so far: {summary.requests_so_far()}",
            )
        )


class WatchView:
    """``watch`` on a terminal: one row per job (id, status, since, loss, note), live.

    The loss is the latest checkpoint's (``step 40: 1.234``), ``-`` before any. ``sweep``
    draws its trials with it too, with its own ``columns``.
    """

    COLUMNS = ("job", "status", "since (UTC)", "loss", "note")

    def __init__(self, console: Console, title: str, columns: Sequence[str] = COLUMNS) -> None:
        # No redirection of sys.stdout/stderr: the command's streams are injected, and a view
        # must not change process-wide state (tests run it in a thread).
        self._live = Live(
            console=console,
            refresh_per_second=4,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._title = title
        self._columns = tuple(columns)

    def __enter__(self) -> WatchView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(None, None, None)

    def show(self, rows: Sequence[Sequence[str]], footer: str) -> None:
        """Redraw with these rows (one string per column) and a line under the table."""
        table = Table(expand=False, title=self._title)
        for column in self._columns:
            table.add_column(column)
        for row in rows:
            # Text, not markup: an unknown status or an error message may hold brackets.
            table.add_row(*(Text(value) for value in row))
        self._live.update(Group(table, Text(footer)), refresh=True)


@contextlib.contextmanager
def byte_progress(console: Console, label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over ``total`` bytes, gone when done.

    Yields the callback that moves it: it takes the bytes done so far.
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)
