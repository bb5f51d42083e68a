"""Limits on what an agent may do, set by the person who runs the server, never by the agent.

Every refusal is a tool error that says which limit refused and how its owner changes it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

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

    def check_writable(self, tool: str) -> None:
        """Refuse a mutating tool in read-only mode."""
        if self.read_only:
            raise Refused(f"{tool} changes things and the server is read-only", "--read-only off")

    def check_model(self, model: str) -> None:
        """Refuse a model outside the allowlist."""
        if self.allowed_models is not None and model not in self.allowed_models:
            allowed = ", ".join(sorted(self.allowed_models)) or "none"
            raise Refused(f"model {model!r} is not allowed (allowed: {allowed})", "--allow-model")

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

    def check_create(self, running: int) -> None:
        """Refuse one more job if a cap would be passed (``running``: jobs not ended now)."""
        rails = self._guardrails
        if rails.max_jobs_per_session is not None and self.session >= rails.max_jobs_per_session:
            raise Refused(f"this session has created {self.session} jobs, the most allowed",
                          "--max-jobs-per-session")  # fmt: skip
        today = self._days[_day()]
        if rails.max_jobs_per_day is not None and today >= rails.max_jobs_per_day:
            raise Refused(f"{today} jobs were created today (UTC), the most allowed",
                          "--max-jobs-per-day")  # fmt: skip
        if rails.max_running is not None and running >= rails.max_running:
            raise Refused(f"{running} jobs are running, the most allowed at once", "--max-running")

    def created(self) -> None:
        """Count a job created."""
        self.session += 1
        self._days[_day()] += 1


def _day() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
