"""The commands that need no key and no network: ``demo`` and ``emulator``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
from datetime import datetime, timezone
from typing import Any

from mistral_jobs_async._cli._errors import EXIT_OK, EXIT_USAGE
from mistral_jobs_async._cli._output import Output
from mistral_jobs_async._demo import DemoJob, DemoSummary, run_demo
from mistral_jobs_async.emulator import Emulator

__all__ = ["check_demo_args", "check_emulator_args", "demo", "emulator"]


# --- the demo ----------------------------------------------------------------------------------


def check_demo_args(args: argparse.Namespace) -> str | None:
    """Why the demo cannot run with these options, in one line (None if it can)."""
    if args.jobs < 1 or not (math.isfinite(args.speed) and args.speed > 0):
        return "--jobs must be >= 1 and --speed > 0"
    return None


def demo(args: argparse.Namespace, out: Output) -> int:
    """Run the demo: a live view on a terminal, plain lines in a pipe, JSON lines with --json."""
    console = out.console()
    view = None
    if console is not None:
        from mistral_jobs_async._live import LiveView  # noqa: PLC0415 (rich is an extra)

        view = LiveView(console)

    def on_change(summary: DemoSummary, job: DemoJob | None, message: str) -> None:
        if out.json and message == "progress":
            return
        if out.json:
            item: dict[str, Any] = {
                "event": "note" if job is None else "change",
                "message": message,
            }
            if job is not None:
                item.update(job_id=job.id, api=job.api, status=job.status)
            out.emit(item)
        elif view is not None:
            view.update(summary, job, message)
        elif message != "progress":
            who = f"{job.api:<11} {job.id}  " if job is not None else ""
            out.line(f"{datetime.now(tz=timezone.utc):%H:%M:%S}  {who}{message}")

    async def go() -> DemoSummary:
        with view if view is not None else contextlib.nullcontext():
            return await run_demo(
                jobs=args.jobs, speed=args.speed, seed=args.seed, on_change=on_change
            )

    summary = asyncio.run(go())
    outcome = summary.outcome()
    if out.json:
        out.emit(
            {
                "event": "summary",
                "jobs": len(summary.jobs),
                **outcome,
                "watcher_requests": summary.watcher_requests,
                "naive_requests": round(summary.naive_requests),
                "detail_requests": summary.detail_requests,
                "seconds": round(summary.seconds, 1),
            }
        )
        return EXIT_OK
    saving = summary.naive_requests / max(1, summary.watcher_requests)
    out.line("")
    out.line(
        f"{len(summary.jobs)} jobs in {summary.seconds:.0f}s: {outcome['succeeded']} succeeded, "
        f"{outcome['failed']} failed, {outcome['cancelled']} cancelled"
    )
    out.line(
        f"the watcher spent {summary.watcher_requests} requests; naive polling (a GET per "
        f"unfinished job every 2s) would have spent about {summary.naive_requests:.0f} "
        f"({saving:.0f}x more)"
    )
    out.line(f"(plus {summary.detail_requests} GETs by the demo itself, for the loss column)")
    return EXIT_OK


# --- the emulator ------------------------------------------------------------------------------


def check_emulator_args(args: argparse.Namespace) -> str | None:
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


async def _serve(args: argparse.Namespace, out: Output) -> None:
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
    ) as served:
        out.line(f"Mistral emulator listening on {served.url}")
        out.line(f"  fine-tuning: {served.url}/v1/fine_tuning/jobs")
        out.line(f"  forge:       {served.url}/forge/training/jobs")
        out.line(f"  files:       {served.url}/v1/files")
        if served.control_token is not None:
            out.line(
                f"  control:     {served.url}/_emulator (control token: {served.control_token})"
            )
        out.line("Press Ctrl-C to stop.")
        await stop.wait()
    out.line("Emulator stopped.")


def emulator(args: argparse.Namespace, out: Output) -> int:
    """Serve the emulator until Ctrl-C or SIGTERM."""
    problem = check_emulator_args(args)
    if problem:
        out.error(problem, command="mistral-jobs emulator")
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        stream=out.errors,
    )
    try:
        asyncio.run(_serve(args, out))
    except OSError as exc:
        out.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
        return 1
    return EXIT_OK
