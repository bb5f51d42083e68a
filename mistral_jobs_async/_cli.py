"""The ``mistral-jobs`` command: thin argument parsing over the public API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
from collections.abc import Sequence

from mistral_jobs_async import __version__
from mistral_jobs_async.emulator import Emulator

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2

_EMULATOR_EXAMPLES = """\
examples:
  mistral-jobs emulator                          # http://127.0.0.1:8000, real-time-ish jobs
  mistral-jobs emulator --port 0 --speed 20      # a free port, lifecycles 20x faster
  mistral-jobs emulator --rate-limit 1 --seed 7  # 1 request/s per key, reproducible jobs

then, e.g.:
  curl -H 'Authorization: Bearer any-key' http://127.0.0.1:8000/v1/fine_tuning/jobs
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mistral-jobs",
        description="Launch and follow Mistral fine-tuning and Forge training jobs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    emulator = commands.add_parser(
        "emulator",
        help="run the local Mistral emulator (no key, no network)",
        description=(
            "Serve the Fine-Tuning, Forge and Files APIs locally, with job lifecycles on a "
            "simulated clock. Logs one line per request on stderr; Ctrl-C stops it."
        ),
        epilog=_EMULATOR_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    emulator.add_argument(
        "--port", type=int, default=8000, help="port, 0 for a free one (default: %(default)s)"
    )
    emulator.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default: %(default)s)",
    )
    emulator.add_argument(
        "--seed", type=int, default=None, help="seed for ids, durations and outcomes"
    )
    emulator.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key (repeatable; default: any non-empty key)",
    )
    emulator.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="RPS",
        help="requests/second per key (default: none)",
    )
    emulator.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="share of jobs that fail while RUNNING (default: 0)",
    )
    emulator.add_argument(
        "--control-token",
        default="",
        metavar="TOKEN",
        help="token of the /_emulator control path (default: random, printed)",
    )
    emulator.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(
        host=args.host,
        port=args.port,
        seed=args.seed,
        speed=args.speed,
        api_keys=args.api_keys,
        rate_limit=args.rate_limit,
        failure_rate=args.failure_rate,
        control_token=args.control_token,
    ) as emulator:
        print(f"Mistral emulator listening on {emulator.url}", flush=True)
        print(f"  fine-tuning: {emulator.url}/v1/fine_tuning/jobs", flush=True)
        print(f"  forge:       {emulator.url}/forge/training/jobs", flush=True)
        print(f"  files:       {emulator.url}/v1/files", flush=True)
        if emulator.control_token is not None:
            print(
                f"  control:     {emulator.url}/_emulator "
                f"(control token: {emulator.control_token})",
                flush=True,
            )
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("Emulator stopped.", flush=True)


def _check_emulator_args(args: argparse.Namespace) -> str | None:
    """The first option value the emulator cannot use, said in one line (None if all good)."""
    if not (math.isfinite(args.speed) and args.speed >= 0):
        return f"--speed must be a finite number >= 0, not {args.speed}"
    if not 0 <= args.port <= 65535:
        return f"--port must be within 0..65535, not {args.port}"
    if args.rate_limit is not None and not (math.isfinite(args.rate_limit) and args.rate_limit > 0):
        return f"--rate-limit must be a finite number > 0, not {args.rate_limit}"
    if not 0.0 <= args.failure_rate <= 1.0:
        return f"--failure-rate must be within 0..1, not {args.failure_rate}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        problem = _check_emulator_args(args)
        if problem:
            print(f"mistral-jobs emulator: error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        logging.basicConfig(
            level=logging.WARNING if args.quiet else logging.INFO,
            format="%(asctime)s %(message)s",
            stream=sys.stderr,
        )
        try:
            asyncio.run(_serve(args))
        except OSError as exc:
            print(
                f"mistral-jobs: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
    return EXIT_OK
