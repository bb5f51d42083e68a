"""The ``mistral-jobs`` command: thin argument parsing over the public API.

Modules:

* ``_parser``: the argparse tree and the examples every ``--help`` shows (the ``files`` and
  ``models`` families add their own parsers).
* ``_output``: ``Output`` (results on stdout as lines, tables or JSON lines; warnings, notes
  and errors on stderr) and the helpers that turn models into rows.
* ``_errors``: exit codes, the command line's own ``CliError``, and the one line (and code)
  each error is reported as.
* ``_commands``: ``list``, ``get``, ``start``, ``cancel``, ``create``, ``estimate``, ``wait``
  (``--until``); the options that only go together are checked, and the client built, there.
* ``_files``: ``files``: the family's parser; upload, list, get, download and delete.
* ``_models``: ``models``: list, get, update, archive, unarchive and delete model cards.
* ``_sweep``: ``sweep CONFIG.toml``: a hyperparameter sweep (the ``sweep`` extra).
* ``_mcp``: ``mcp``: the MCP server for agents and its guardrails (the ``mcp`` extra).
* ``_reference``: the CLI reference in Markdown, written from the parser (for the docs site).
* ``_watch``: ``watch``: the board of watched jobs (by id, or ``--all`` of them), its three
  renderings (JSON lines, live table, plain lines) with the latest training loss, the
  parked-VALIDATED hint, ``--until`` and the closing summary.
* ``_local``: ``demo`` and ``emulator``, which need no key and no network.
* ``_data``: ``files validate``, a local check of training files.

The live views themselves (rich, an optional extra) are in ``mistral_jobs_async._live``.

Exit codes: 0 done; 1 a watched job ended FAILED, FAILED_VALIDATION or CANCELLED (with
``--until``: ended in a status not asked for); 2 usage (bad arguments or parameters); 3
authentication (no key, refused key); 4 not found; 5 network (connection, timeout, a refused
redirect); 6 another API error; 124 ``wait --timeout`` ran out; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import TextIO

from mistral_jobs_async import MistralJobsError
from mistral_jobs_async._cli._commands import run_api
from mistral_jobs_async._cli._data import validate_files
from mistral_jobs_async._cli._errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    error_exit,
)
from mistral_jobs_async._cli._local import check_demo_args, demo, emulator
from mistral_jobs_async._cli._output import Output
from mistral_jobs_async._cli._parser import build_parser

__all__ = ["main"]

_REMOTE_KEEPS_RUNNING = "stopped watching; the jobs keep running on the server"


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; return the process exit code.

    ``stdout`` and ``stderr`` default to the process's; pass others to capture the output
    (a stream whose ``isatty()`` is true gets the live views).
    """
    stream = stdout if stdout is not None else sys.stdout
    errors = stderr if stderr is not None else sys.stderr
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(errors):
            args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error argparse reported
        return done.code if isinstance(done.code, int) else (EXIT_USAGE if done.code else EXIT_OK)
    out = Output(json=getattr(args, "json", False), stream=stream, errors=errors)
    if args.command == "emulator":
        return emulator(args, out)
    if args.command == "files" and args.action == "validate":
        return validate_files(args, out)  # local: no key, no network
    if args.command == "demo" and (problem := check_demo_args(args)):
        out.error(problem, command="mistral-jobs demo")
        return EXIT_USAGE
    try:
        if args.command == "demo":
            return demo(args, out)
        return asyncio.run(run_api(args, out))
    except KeyboardInterrupt:
        again = " (run the same sweep again to continue it)" if args.command == "sweep" else ""
        errors.write(f"\nmistral-jobs: interrupted: {_REMOTE_KEEPS_RUNNING}{again}\n")
        errors.flush()
        return EXIT_INTERRUPTED
    except (MistralJobsError, CliError) as error:
        code, message = error_exit(error)
        out.error(message)
        return code
