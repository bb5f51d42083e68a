"""``mcp``: serve the MCP server for agents (the ``mcp`` extra), over stdio or HTTP.

Over stdio, standard output is the protocol's: the command writes nothing else there; its
log lines (one per mutating call, never the key) go to standard error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import EXIT_OK, EXIT_USAGE, CliError
from mistral_jobs_async._cli._output import Output

__all__ = ["add_mcp_command", "serve_mcp"]

_EXAMPLES = """\
examples:
  mistral-jobs mcp                                   # stdio, for a desktop MCP client
  mistral-jobs mcp --read-only                       # looking, not touching
  mistral-jobs mcp --max-jobs-per-session 2 --max-cost 5 --allow-model open-mistral-7b
  mistral-jobs mcp --http --port 8765                # streamable HTTP at /mcp
"""


def add_mcp_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``mcp`` command and its guardrails."""
    mcp = commands.add_parser(
        "mcp",
        help="an MCP server for agents, with guardrails on what they may launch",
        description="Serve the training-job tools over the Model Context Protocol. The "
        "guardrails are yours to set here; an agent cannot change them. The key comes from "
        "MISTRAL_API_KEY and no tool returns it.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mcp.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="with --http (default: %(default)s)")
    mcp.add_argument("--port", type=int, default=8765, help="with --http (default: %(default)s)")
    mcp.add_argument("--read-only", action="store_true", help="refuse every mutating tool")
    mcp.add_argument("--max-jobs-per-session", type=_cap, default=5, metavar="N",
                     help="jobs created per session (default: 5; 'none' for no cap)")  # fmt: skip
    mcp.add_argument("--max-jobs-per-day", type=_cap, default=20, metavar="N",
                     help="jobs created per UTC day (default: 20; 'none')")  # fmt: skip
    mcp.add_argument("--max-running", type=_cap, default=3, metavar="N",
                     help="jobs running at once (default: 3; 'none')")  # fmt: skip
    mcp.add_argument("--allow-model", action="append", metavar="MODEL",
                     help="a base model jobs may name (repeatable; default: any)")  # fmt: skip
    mcp.add_argument("--files-root", default=".", metavar="DIR",
                     help="the folder validate_training_file may read in (default: the "
                     "current one; 'any' for anywhere)")  # fmt: skip
    mcp.add_argument("--max-cost", type=float, metavar="AMOUNT",
                     help="the most a job may cost, by its estimate (default: none)")  # fmt: skip


def _cap(value: str) -> int | None:
    if value.lower() == "none":
        return None
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("a cap is 0 or more, or 'none'")
    return number


async def serve_mcp(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Serve until the client hangs up (stdio) or Ctrl-C (HTTP)."""
    try:
        from mistral_jobs_async.mcp import Guardrails, build_server  # noqa: PLC0415 (extra)
    except ModuleNotFoundError as missing:  # the package's message names the extra
        raise CliError(str(missing), code=EXIT_USAGE) from None
    rails = Guardrails(
        read_only=args.read_only,
        max_jobs_per_session=args.max_jobs_per_session,
        max_jobs_per_day=args.max_jobs_per_day,
        max_running=args.max_running,
        allowed_models=frozenset(args.allow_model) if args.allow_model else None,
        max_cost_per_job=args.max_cost,
        files_root=None if args.files_root == "any" else args.files_root,
    )
    handler = logging.StreamHandler(out.errors if out.errors is not sys.stdout else sys.stderr)
    handler.setFormatter(logging.Formatter("mistral-jobs mcp: %(message)s"))
    log = logging.getLogger("mistral_jobs_async.mcp")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    server = build_server(client, rails)
    try:
        if args.http:
            out.note(f"MCP over streamable HTTP at http://{args.host}:{args.port}/mcp")
            await server.run_streamable_http_async(host=args.host, port=args.port)
        else:
            await server.run_stdio_async()
    finally:
        log.removeHandler(handler)
    return EXIT_OK
