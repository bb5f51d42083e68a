"""Validate a JSONL training file as it streams, on one core or on all of them.

The file is read in chunks of lines; each chunk is checked (rules, Mistral's validation and
tokenizer) in this process or in a pool of worker processes, and the results are folded into
the report in file order, so both ways give the same report. At most a few chunks per worker
are in flight: memory does not follow the file's size.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from mistral_jobs_async.datasets._check import LineResult, check_chunk, counter_for
from mistral_jobs_async.datasets._report import Problem, Report

__all__ = ["validate_file", "validate_lines"]

#: A chunk ends at this many lines or bytes, whichever comes first.
_CHUNK_LINES = 2_000
_CHUNK_BYTES = 1 << 20
#: From this size on, ``workers=None`` tokenizes on every core: below it, starting the
#: workers (each loads its tokenizer, most of a second) costs more than it saves.
POOL_FROM_BYTES = 8 << 20


def validate_file(
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    tokens: bool = True,
    price_per_million: float | None = None,
    epochs: float = 1.0,
    max_per_kind: int = 20,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Check every line of a JSONL training file; the report of all it found.

    With ``tokens`` (the default), each valid sample is also checked and counted by Mistral's
    own tokenizer for ``model`` (the ``data`` extra; without it, counts are estimates and the
    report says so). The file is read in chunks, so its size does not matter to memory, except
    for the per-sample counts (4 bytes each) and the duplicate check (bounded, see
    ``_Repeats``).

    ``workers`` processes check the chunks (``None``: every core for an exactly tokenized
    file of 8 MiB or more, else this process alone; ``1``: this process). ``progress`` is
    called with the bytes read so far after each chunk.
    """
    source = Path(path)
    if workers is None:
        big = tokens and counter_for(model).exact and source.stat().st_size >= POOL_FROM_BYTES
        workers = _cores() if big else 1
    with source.open("rb") as lines:
        return validate_lines(
            lines, name=str(source), model=model, tokens=tokens,
            price_per_million=price_per_million, epochs=epochs, max_per_kind=max_per_kind,
            workers=workers, progress=progress,
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
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Check JSONL lines (bytes, as a binary file yields them); the report."""
    report = Report(name, max_per_kind=max_per_kind)
    report.price_per_million, report.epochs = price_per_million, epochs
    if tokens:
        counter = counter_for(model)
        report.exact_tokens = counter.exact
        report.tokenizer, report.context_length = counter.info.file, counter.info.context
        if not counter.known_model:
            reason = f"no tokenizer is known for {model}: counted with {counter.info.file}"
            report.add(Problem(0, "$", reason, "unknown_model", "warning"))
    seen = _Repeats()
    done = 0
    for first, chunk, results in _checked(_chunks(lines), model, tokens, workers):
        for number, (raw, result) in enumerate(zip(chunk, results, strict=True), start=first):
            _fold(report, number, raw, result, seen)
        report.lines = first + len(chunk) - 1
        done += sum(map(len, chunk))
        if progress is not None:
            progress(done)
    if len(report.formats) > 1:
        kinds = ", ".join(sorted(report.formats))
        report.add(Problem(0, "$", f"one file holds one kind of sample, not {kinds}", "mixed"))
    return report


_Chunk = tuple[int, list[bytes]]


def _chunks(lines: Iterable[bytes]) -> Iterator[_Chunk]:
    """The lines in chunks, each with the number of its first line."""
    chunk: list[bytes] = []
    size, first = 0, 1
    for raw in lines:
        chunk.append(raw)
        size += len(raw)
        if len(chunk) >= _CHUNK_LINES or size >= _CHUNK_BYTES:
            yield first, chunk
            first += len(chunk)
            chunk, size = [], 0
    if chunk:
        yield first, chunk


def _checked(
    chunks: Iterator[_Chunk], model: str | None, tokens: bool, workers: int
) -> Iterator[tuple[int, list[bytes], list[LineResult]]]:
    """Each chunk with its results, in file order: here, or by ``workers`` processes."""
    if workers <= 1:
        for first, chunk in chunks:
            yield first, chunk, check_chunk(first, chunk, model, tokens)
        return
    # spawn, not fork: the caller may have threads (an event loop, an upload's worker thread)
    # that a forked child would inherit mid-step.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[tuple[int, list[bytes], Future[list[LineResult]]]] = deque()
        broken = False
        for first, chunk in chunks:
            if broken:
                yield first, chunk, check_chunk(first, chunk, model, tokens)
                continue
            pending.append((first, chunk, pool.submit(check_chunk, first, chunk, model, tokens)))
            if len(pending) >= 2 * workers:
                oldest, lines, future = pending.popleft()
                results, broken = _result(future, oldest, lines, model, tokens)
                yield oldest, lines, results
        while pending:
            first, chunk, future = pending.popleft()
            results, broken = _result(future, first, chunk, model, tokens)
            yield first, chunk, results


def _result(
    future: Future[list[LineResult]], first: int, chunk: list[bytes], model: str | None,
    tokens: bool,
) -> tuple[list[LineResult], bool]:  # fmt: skip
    """A chunk's results from the pool, and whether the pool broke.

    If a worker died (out of memory, killed), the chunk is checked here instead, and the
    pool is said broken so the rest are checked here too.
    """
    try:
        return future.result(), False
    except BrokenProcessPool:
        return check_chunk(first, chunk, model, tokens), True


def _fold(report: Report, number: int, raw: bytes, result: LineResult, seen: _Repeats) -> None:
    """Add one line's result to the report (in file order)."""
    if result.decoded:
        repeat = seen.check(raw.rstrip(b"\r\n"), number)
        if repeat is not None:
            report.add(Problem(number, "$", repeat, "duplicate", "warning"))
    for problem in result.problems:
        report.add(problem)
    if result.bad:
        report.bad_lines += 1
        report.bad_line_numbers.add(number)
        return
    facts = result.facts
    if facts is None:  # a blank line
        return
    if result.tokens is not None:
        report.tokens.append(result.tokens)
    report.samples += 1
    report.formats[facts.format] += 1
    report.roles.update(facts.roles)
    report.tool_calls += facts.tool_calls
    report.samples_with_tools += facts.has_tools


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
