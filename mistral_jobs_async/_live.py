"""The demo's live terminal view (needs rich: ``pip install mistral-jobs-async[cli]``)."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

__all__ = ["LiveView"]


class LiveView:
    """The demo's live terminal view (rich), refreshed on every change."""

    def __init__(self, stream: TextIO) -> None:

        self._console = Console(file=stream)
        self._live = Live(console=self._console, refresh_per_second=8, transient=False)
        self._notes: list[str] = []

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, summary: Any, job: Any, message: str) -> None:

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
