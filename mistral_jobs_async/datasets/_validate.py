"""Validate a JSONL training file as it streams: one line in memory at a time."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import msgspec

from mistral_jobs_async.datasets._report import Problem, Report
from mistral_jobs_async.datasets._rules import check_sample
from mistral_jobs_async.datasets._tokens import TokenCounter

__all__ = ["validate_file", "validate_lines"]


def validate_file(
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    tokens: bool = True,
    price_per_million: float | None = None,
    epochs: float = 1.0,
    max_per_kind: int = 20,
) -> Report:
    """Check every line of a JSONL training file; the report of all it found.

    With ``tokens`` (the default), each valid sample is also checked and counted by Mistral's
    own tokenizer for ``model`` (the ``data`` extra; without it, counts are estimates and the
    report says so). The file is read line by line (bytes), so its size does not matter to
    memory, except for the duplicate check (an 8-byte digest per distinct line) and the
    per-sample counts (4 bytes each).
    """
    source = Path(path)
    with source.open("rb") as lines:
        return validate_lines(
            lines, name=str(source), model=model, tokens=tokens,
            price_per_million=price_per_million, epochs=epochs, max_per_kind=max_per_kind,
        )  # fmt: skip


def validate_lines(
    lines: Iterable[bytes],
    *,
    name: str = "<lines>",
    model: str | None = None,
    tokens: bool = True,
    price_per_million: float | None = None,
    epochs: float = 1.0,
    max_per_kind: int = 20,
) -> Report:
    """Check JSONL lines (bytes, as a binary file yields them); the report."""
    report = Report(name, max_per_kind=max_per_kind)
    report.price_per_million, report.epochs = price_per_million, epochs
    counter = TokenCounter(model) if tokens else None
    if counter is not None:
        report.exact_tokens = counter.exact
        report.tokenizer, report.context_length = counter.info.file, counter.info.context
        if not counter.known_model:
            reason = f"no tokenizer is known for {model}: counted with {counter.info.file}"
            report.add(Problem(0, "$", reason, "unknown_model", "warning"))
    seen = _Repeats()
    for number, raw in enumerate(lines, start=1):
        report.lines = number
        _check_line(report, number, raw.rstrip(b"\r\n"), seen, counter)
    if len(report.formats) > 1:
        kinds = ", ".join(sorted(report.formats))
        report.add(Problem(0, "$", f"one file holds one kind of sample, not {kinds}", "mixed"))
    return report


def _check_line(
    report: Report,
    number: int,
    line: bytes,
    seen: _Repeats,
    counter: TokenCounter | None,
) -> None:
    if not line.strip():
        report.add(Problem(number, "$", "a blank line", "blank_line", "warning"))
        return
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 (byte {exc.start + 1} of the line)"
        _bad(report, Problem(number, "$", reason, "utf8"))
        return
    try:
        sample = msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        _bad(report, Problem(number, "$", f"not one JSON value: {exc}", "json"))
        return
    repeat = seen.check(line, number)
    if repeat is not None:
        report.add(Problem(number, "$", repeat, "duplicate", "warning"))
    findings, facts = check_sample(sample)
    for finding in findings:
        report.add(Problem(number, finding.path, finding.reason, finding.kind, finding.severity))
    if any(f.severity == "error" for f in findings) or facts is None:
        _bad_line(report, number)
        return
    if counter is not None:
        count, refused = counter.count(sample, facts.format)
        for finding in refused:
            report.add(Problem(number, finding.path, finding.reason, finding.kind))
        if refused:
            _bad_line(report, number)
            return
        report.tokens.append(count)
    report.samples += 1
    report.formats[facts.format] += 1
    report.roles.update(facts.roles)
    report.tool_calls += facts.tool_calls
    report.samples_with_tools += facts.has_tools


def _bad(report: Report, problem: Problem) -> None:
    report.add(problem)
    _bad_line(report, problem.line)


def _bad_line(report: Report, number: int) -> None:
    report.bad_lines += 1
    report.bad_line_numbers.add(number)


class _Repeats:
    """Which lines repeat an earlier one, in bounded memory whatever the file's size.

    The first ``exact_lines`` distinct lines are remembered exactly (a repeat names the line
    it repeats); every line also goes into a fixed-size Bloom filter (8 MiB, 4 hashes), which
    flags repeats of later lines as likely (about one false alarm in 100,000 lines at a
    million lines). Repeats are warnings only, so a false alarm costs a look, nothing more.
    """

    _BITS = 8 * 2**20 * 8

    def __init__(self, exact_lines: int = 100_000) -> None:
        self._exact: dict[bytes, int] = {}
        self._exact_lines = exact_lines
        self._filter = bytearray(self._BITS // 8)

    def check(self, line: bytes, number: int) -> str | None:
        """Why ``line`` looks like a repeat (None if it is new); then remember it."""
        digest = hashlib.blake2b(line, digest_size=16).digest()
        first = self._exact.get(digest)
        if first is not None:
            return f"the same sample as line {first}"
        positions = [
            int.from_bytes(digest[i : i + 4], "little") % self._BITS for i in range(0, 16, 4)
        ]
        # While every earlier line is remembered exactly, the filter has nothing to add.
        exact_only = len(self._exact) < self._exact_lines
        seen = not exact_only and all(self._filter[p >> 3] & (1 << (p & 7)) for p in positions)
        for p in positions:
            self._filter[p >> 3] |= 1 << (p & 7)
        if exact_only:
            self._exact[digest] = number
        return "probably the same as an earlier sample" if seen else None
