"""``files validate``: check training files locally (no key, no network), optionally fixed."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mistral_jobs_async._cli._errors import EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE
from mistral_jobs_async._cli._output import Output
from mistral_jobs_async.datasets import Report, validate_file

__all__ = ["validate_files"]


def validate_files(args: argparse.Namespace, out: Output) -> int:
    """Validate each PATH; exit 1 if any has errors (warnings alone pass), 2 on misuse."""
    if args.fix and len(args.paths) != 1:
        out.error("--fix takes one PATH (the valid lines of it go to OUT)")
        return EXIT_USAGE
    failed = False
    for name in args.paths:
        path = Path(name)
        if not path.is_file():
            out.error(f"{name}: not a readable file")
            failed = True
            continue
        with _progress(out, path) as progress:
            report = validate_file(
                path, model=args.model, tokens=not args.no_tokens,
                price_per_million=args.price_per_million, epochs=args.epochs,
                workers=args.workers, progress=progress,
            )  # fmt: skip
        failed = failed or not report.ok
        if out.json:
            out.emit(_record(report))
        else:
            _show(report, out)
        if args.fix:
            kept = _fix(path, Path(args.fix), report)
            out.note(f"wrote {kept} valid lines of {report.lines} to {args.fix}")
    return EXIT_JOB_FAILED if failed else EXIT_OK


#: Files smaller than this are checked without a progress bar (it would only flash).
PROGRESS_FROM_BYTES = 4 << 20


@contextlib.contextmanager
def _progress(out: Output, path: Path) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on standard error for a long file; else nothing.

    Shown when standard error is a terminal and rich is installed (the ``cli`` extra).
    """
    size = path.stat().st_size
    if size < PROGRESS_FROM_BYTES or not out.errors.isatty():
        yield None
        return
    try:
        from mistral_jobs_async._live import byte_progress, terminal_console  # noqa: PLC0415
    except ImportError:
        yield None
        return
    with byte_progress(terminal_console(out.errors), f"checking {path.name}", size) as move:
        yield move


def _record(report: Report) -> dict[str, Any]:
    return {
        **report.summary(),
        "problems": [
            {"line": p.line, "path": p.path, "reason": p.reason, "kind": p.kind,
             "severity": p.severity}
            for p in report.problems
        ],
        "left_out": report.left_out(),
    }  # fmt: skip


def _show(report: Report, out: Output) -> None:
    verdict = "OK" if report.ok else f"{report.errors} errors in {report.bad_lines} lines"
    out.line(f"{report.path}: {verdict} ({report.samples} valid samples of {report.lines} lines)")
    for problem in report.problems:
        out.line(f"  {problem}" + (" (warning)" if problem.severity == "warning" else ""))
    for kind, more in sorted(report.left_out().items()):
        out.line(f"  ... and {more} more {kind}")
    tokens = report.token_summary()
    if tokens["total"]:
        exact = "" if tokens["exact"] else "about "
        line = (
            f"  tokens: {exact}{tokens['total']} ({tokens['tokenizer']}); per sample min "
            f"{tokens['min']}, median {tokens['median']}, p95 {tokens['p95']}, max {tokens['max']}"
        )
        if tokens["over_context"]:
            line += f"; {tokens['over_context']} over the {tokens['context_length']} context"
        if "estimated_cost" in tokens:
            line += f"; estimated cost {tokens['estimated_cost']} (the job's metadata decides)"
        out.line(line)


def _fix(source: Path, target: Path, report: Report) -> int:
    """Copy the lines with no error (warnings kept) to ``target``; how many."""
    kept = 0
    with source.open("rb") as lines, target.open("wb") as fixed:
        for number, line in enumerate(lines, start=1):
            if number not in report.bad_line_numbers and line.strip():
                fixed.write(line if line.endswith(b"\n") else line + b"\n")
                kept += 1
    return kept
