"""Where results go: human lines and tables or JSON lines on one stream, notes on another.

Also the small helpers every command shares to turn models into rows and cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._client import jobs_of

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "FILE_COLUMNS",
    "FORGE_COLUMNS",
    "FT_COLUMNS",
    "Output",
    "cell",
    "clock_time",
    "columns_of",
    "job_row",
    "record",
    "resource",
    "start_hint",
    "when",
]

FT_COLUMNS = ("id", "status", "model", "created", "fine_tuned_model")
FORGE_COLUMNS = ("id", "status", "job_type", "created", "output_model")
FILE_COLUMNS = ("id", "filename", "bytes", "created", "num_lines")


class Output:
    """Results on ``stream``; warnings, notes and errors on ``errors``, one line each.

    Results are human lines, an aligned table, or (``json``) one JSON object per line.
    """

    def __init__(self, *, json: bool, stream: TextIO, errors: TextIO) -> None:
        self.json = json
        self.stream = stream
        self.errors = errors
        self.tty = stream.isatty()

    def emit(self, item: dict[str, Any]) -> None:
        """One JSON object (``--json``)."""
        self.stream.write(msgspec.json.encode(item).decode() + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """One human line."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def table(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        """Rows as an aligned table (human) or as JSON lines."""
        if self.json:
            for row in rows:
                self.emit(row)
            return
        cells = [[cell(row.get(c)) for c in columns] for row in rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        self.line("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
        for r in cells:
            self.line("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    def warn(self, text: str) -> None:
        """A warning: the command goes on."""
        self._tell(f"mistral-jobs: warning: {text}")

    def note(self, text: str) -> None:
        """Something the user should act on, said while the command goes on."""
        self._tell(f"mistral-jobs: {text}")

    def error(self, text: str, *, command: str = "mistral-jobs") -> None:
        """The one line an error is reported as."""
        self._tell(f"{command}: error: {text}")

    def _tell(self, text: str) -> None:
        self.errors.write(text + "\n")
        self.errors.flush()

    def console(self) -> Console | None:
        """A rich console for a live view: None for pipes, ``--json``, or without rich."""
        if not self.tty or self.json:
            return None
        try:
            from mistral_jobs_async._live import terminal_console  # noqa: PLC0415 (an extra)
        except ImportError:
            return None
        return terminal_console(self.stream)


def cell(value: Any) -> str:
    """A value as a table cell."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def when(timestamp: float | None) -> str | None:
    """Unix seconds as a UTC date and time."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def clock_time(timestamp: float) -> str:
    """Unix seconds as a UTC time of day, for lines that follow jobs as they change."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%H:%M:%S")


def record(model: Any) -> dict[str, Any]:
    """A model as a JSON-ready dict."""
    result: dict[str, Any] = msgspec.to_builtins(model)
    return result


def job_row(job: Any) -> dict[str, Any]:
    """A job as a table row (with its creation time readable)."""
    row = record(job)
    row["created"] = when(job.created_at)
    return row


def columns_of(api: str) -> tuple[str, ...]:
    """The table columns of an API's jobs (``jobs`` or ``forge``)."""
    return FT_COLUMNS if api == "jobs" else FORGE_COLUMNS


def resource(client: AsyncClient, api: str) -> Any:
    """The jobs resource of an API (``jobs`` or ``forge``)."""
    return jobs_of(client, "fine_tuning" if api == "jobs" else "forge")


def start_hint(job_id: str) -> str:
    """What a parked job waits for, and the command that starts it."""
    return f"waiting for start; run: mistral-jobs jobs start {job_id}"
