"""The check of one chunk of lines: what a worker process does, and the in-process path too.

A chunk's result is a list of ``LineResult``; the caller folds them into the report in file
order, so a file checked by a pool of processes gives the very report a single process gives.
The duplicate check is the caller's (it needs every line of the file, in order).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import msgspec

from mistral_jobs_async.datasets._report import Problem
from mistral_jobs_async.datasets._rules import SampleFacts, check_sample
from mistral_jobs_async.datasets._tokens import TokenCounter

__all__ = ["LineResult", "check_chunk", "counter_for"]

_decoder = msgspec.json.Decoder()


@dataclass(slots=True)
class LineResult:
    """What one line holds: its problems; its facts and tokens when it is a valid sample."""

    problems: list[Problem] = field(default_factory=list)
    #: Whether it decoded to JSON (only such lines are checked for repeats).
    decoded: bool = False
    bad: bool = False
    facts: SampleFacts | None = None
    tokens: int | None = None


@functools.cache
def counter_for(model: str | None) -> TokenCounter:
    """The process's counter for ``model`` (its tokenizer is loaded on first use, once)."""
    return TokenCounter(model)


def check_chunk(
    first: int, lines: list[bytes], model: str | None, tokens: bool
) -> list[LineResult]:
    """Check ``lines`` (numbered from ``first``): one result a line, in order."""
    counter = counter_for(model) if tokens else None
    return [_check_line(number, raw, counter) for number, raw in enumerate(lines, start=first)]


def _check_line(number: int, raw: bytes, counter: TokenCounter | None) -> LineResult:
    result = LineResult()
    line = raw.rstrip(b"\r\n")
    if not line.strip():
        result.problems.append(Problem(number, "$", "a blank line", "blank_line", "warning"))
        return result
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 (byte {exc.start + 1} of the line)"
        return _bad(result, Problem(number, "$", reason, "utf8"))
    try:
        sample = _decoder.decode(line)
    except msgspec.DecodeError as exc:
        return _bad(result, Problem(number, "$", f"not one JSON value: {exc}", "json"))
    result.decoded = True
    findings, facts = check_sample(sample)
    result.problems.extend(Problem(number, f.path, f.reason, f.kind, f.severity) for f in findings)
    if any(f.severity == "error" for f in findings) or facts is None:
        result.bad = True
        return result
    if counter is not None:
        count, refused = counter.count(sample, facts.format)
        if refused:
            result.problems.extend(Problem(number, f.path, f.reason, f.kind) for f in refused)
            result.bad = True
            return result
        result.tokens = count
    result.facts = facts
    return result


def _bad(result: LineResult, problem: Problem) -> LineResult:
    result.problems.append(problem)
    result.bad = True
    return result
