"""Limits on what an agent may do, set by the person who runs the server, never by the agent.

Every refusal is a tool error that says which limit refused and how its owner changes it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

__all__ = ["Guardrails", "Ledger", "Refused"]


class Refused(ToolError):
    """A call the guardrails refuse: the message names the limit and the option that sets it."""

    def __init__(self, what: str, option: str) -> None:
        super().__init__(
            f"refused by the server's guardrails: {what}. The person running the server can "
            f"change this with {option}."
        )


@dataclass(frozen=True)
class Guardrails:
    """What the server allows. ``None`` for a cap means no cap.

    The defaults are careful: at most 5 jobs created per session and 20 per UTC day, 3
    running at once, any model, no cost ceiling, mutating tools allowed.
    """

    read_only: bool = False
    max_jobs_per_session: int | None = 5
    max_jobs_per_day: int | None = 20
    max_running: int | None = 3
    #: Base models a job may name (None: any the service offers).
    allowed_models: frozenset[str] | None = None
    #: The most one job may cost, as its estimate at VALIDATED says (None: no ceiling).
    max_cost_per_job: float | None = None
    #: The folder ``validate_training_file`` may read in (None: anywhere the server can read).
    files_root: str | None = "."

    def check_path(self, path: str) -> Path:
        """The file ``path`` names, refused outside ``files_root``."""
        resolved = Path(path).resolve()
        if self.files_root is not None:
            root = Path(self.files_root).resolve()
            if not resolved.is_relative_to(root):
                raise Refused(f"{path} is outside the folder files may be read from ({root})",
                              "--files-root")  # fmt: skip
        return resolved

    def check_writable(self, tool: str) -> None:
        """Refuse a mutating tool in read-only mode."""
        if self.read_only:
            raise Refused(f"{tool} changes things and the server is read-only", "--read-only off")

    def check_model(self, model: str) -> None:
        """Refuse a model outside the allowlist."""
        if self.allowed_models is not None and model not in self.allowed_models:
            allowed = ", ".join(sorted(self.allowed_models)) or "none"
            raise Refused(f"model {model!r} is not allowed (allowed: {allowed})", "--allow-model")

    def check_running(self, running: int, at_once: int = 1) -> None:
        """Refuse ``at_once`` more jobs running beside the ``running`` ones, past the cap."""
        if self.max_running is not None and running + at_once > self.max_running:
            raise Refused(f"{running} jobs are running and {at_once} more would run at once; the "
                          f"most allowed is {self.max_running}", "--max-running")  # fmt: skip

    def check_cost(self, cost: float | None, currency: str | None) -> None:
        """Refuse a job whose estimate is over the ceiling (or unknown, with a ceiling)."""
        ceiling = self.max_cost_per_job
        if ceiling is None:
            return
        if cost is None:
            raise Refused("the service gave no cost estimate to check the ceiling against",
                          "--max-cost")  # fmt: skip
        if cost > ceiling:
            raise Refused(f"the job's estimate is {cost:g} {currency or ''}, over the ceiling "
                          f"of {ceiling:g}", "--max-cost")  # fmt: skip


class Ledger:
    """Jobs created: by this server session, and by UTC day (in this process)."""

    def __init__(self, guardrails: Guardrails) -> None:
        self._guardrails = guardrails
        self.session = 0
        self._days: Counter[str] = Counter()

    def check_create(self, running: int, *, jobs: int = 1, at_once: int = 1) -> None:
        """Refuse ``jobs`` more jobs (``at_once`` running together) past a cap.

        ``running`` is the jobs not ended now.
        """
        rails = self._guardrails
        session_cap, day_cap = rails.max_jobs_per_session, rails.max_jobs_per_day
        if session_cap is not None and self.session + jobs > session_cap:
            raise Refused(
                f"this session has created {self.session} jobs and asks {jobs} more; the most "
                f"allowed is {session_cap}",
                "--max-jobs-per-session",
            )
        today = self._days[_day()]
        if day_cap is not None and today + jobs > day_cap:
            raise Refused(f"{today} jobs were created today (UTC) and {jobs} more are asked; "
                          f"the most allowed is {day_cap}", "--max-jobs-per-day")  # fmt: skip
        rails.check_running(running, at_once)

    def created(self) -> None:
        """Count a job created."""
        self.session += 1
        self._days[_day()] += 1


def _day() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
