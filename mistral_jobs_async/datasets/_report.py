"""What a validation found: every problem (capped per kind) and a summary of the samples."""

from __future__ import annotations

import statistics
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Problem", "Report"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: the line (1-based; 0 for the whole file), the field's path, why, its kind."""

    line: int
    path: str
    reason: str
    kind: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.path}: {self.reason} [{self.kind}]"


@dataclass
class Report:
    """A file's validation: problems (at most ``max_per_kind`` kept of each kind) and counts."""

    path: str
    max_per_kind: int = 20
    lines: int = 0
    #: Samples with no error.
    samples: int = 0
    #: Lines with at least one error (they would make the job fail validation).
    bad_lines: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: Every problem found, by kind (also those past the cap).
    counts: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    roles: Counter[str] = field(default_factory=Counter)
    tool_calls: int = 0
    samples_with_tools: int = 0
    #: The numbers of the lines with an error (what ``--fix`` leaves out).
    bad_line_numbers: set[int] = field(default_factory=set)
    #: Each valid sample's tokens (4 bytes each, in file order).
    tokens: array[int] = field(default_factory=lambda: array("I"))
    #: Whether the counts are Mistral's tokenizer's (else estimates: the ``data`` extra).
    exact_tokens: bool = False
    tokenizer: str = ""
    context_length: int = 0
    #: A price per million training tokens, and the epochs, for a cost estimate.
    price_per_million: float | None = None
    epochs: float = 1.0

    @property
    def ok(self) -> bool:
        """Whether the file has no error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> int:
        """How many errors were found (past the cap too)."""
        return sum(n for kind, n in self.counts.items() if kind not in _WARNING_KINDS)

    def add(self, problem: Problem) -> None:
        """Count a problem, and keep it if fewer than ``max_per_kind`` of its kind are kept."""
        self.counts[problem.kind] += 1
        if self.counts[problem.kind] <= self.max_per_kind:
            self.problems.append(problem)

    def left_out(self) -> dict[str, int]:
        """How many problems of each kind are past the cap (not in ``problems``)."""
        return {k: n - self.max_per_kind for k, n in self.counts.items() if n > self.max_per_kind}

    def summary(self) -> dict[str, Any]:
        """The counts as a dict (the JSON form of the report, without the problems)."""
        return {
            "path": self.path,
            "ok": self.ok,
            "lines": self.lines,
            "valid_samples": self.samples,
            "bad_lines": self.bad_lines,
            "errors": self.errors,
            "problems_by_kind": dict(sorted(self.counts.items())),
            "formats": dict(self.formats),
            "roles": dict(sorted(self.roles.items())),
            "tool_calls": self.tool_calls,
            "samples_with_tools": self.samples_with_tools,
            "tokens": self.token_summary(),
        }

    def token_summary(self) -> dict[str, Any]:
        """Tokens in total and per sample (min, median, p95, max), and samples over the context.

        With a price, a cost estimate too: an estimate, the job's ``metadata`` being the truth.
        """
        counts = sorted(self.tokens)
        total = sum(counts)
        summary: dict[str, Any] = {
            "exact": self.exact_tokens,
            "tokenizer": self.tokenizer,
            "total": total,
            "over_context": sum(1 for n in counts if n > self.context_length),
            "context_length": self.context_length,
        }
        if counts:
            p95 = counts[min(len(counts) - 1, int(len(counts) * 0.95))]
            summary.update(min=counts[0], median=statistics.median(counts), p95=p95, max=counts[-1])
        if self.price_per_million is not None:
            cost = total * self.epochs * self.price_per_million / 1_000_000
            summary["estimated_cost"] = round(cost, 4)
        return summary


#: Kinds reported as warnings (they do not fail a file).
_WARNING_KINDS = frozenset({"blank_line", "duplicate", "unknown_model"})
