"""The argparse tree of ``mistral-jobs``, with the examples every ``--help`` shows."""

from __future__ import annotations

import argparse

from mistral_jobs_async import __version__
from mistral_jobs_async._cli._files import add_file_commands
from mistral_jobs_async._cli._mcp import add_mcp_command
from mistral_jobs_async._cli._models import add_model_commands
from mistral_jobs_async._cli._sweep import add_sweep_command

__all__ = ["build_parser"]

_EMULATOR_EXAMPLES = """\
examples:
  mistral-jobs emulator                          # http://127.0.0.1:8000, real-time-ish jobs
  mistral-jobs emulator --port 0 --speed 20      # a free port, lifecycles 20x faster
  mistral-jobs emulator --rate-limit 1 --seed 7  # 1 request/s per key, reproducible jobs

then, e.g.:
  curl -H 'Authorization: Bearer any-key' http://127.0.0.1:8000/v1/fine_tuning/jobs
  MISTRAL_API_KEY=any-key mistral-jobs --base-url http://127.0.0.1:8000 jobs list
"""
_DEMO_EXAMPLES = """\
examples:
  mistral-jobs demo                       # ~100 jobs, about a minute, no key, no network
  mistral-jobs demo --jobs 20 --speed 20  # a quick look
  mistral-jobs demo --json | tail -1      # the summary as JSON
"""
_JOBS_EXAMPLES = """\
examples (MISTRAL_API_KEY set; --base-url or MISTRAL_BASE_URL for an emulator):
  mistral-jobs jobs list --status RUNNING
  mistral-jobs jobs create --model open-mistral-7b --file FILE_ID --training-steps 100
  mistral-jobs jobs watch JOB_ID [JOB_ID ...]        # exit 1 if any ends failed/cancelled
  mistral-jobs jobs watch --all --suffix nightly     # every job, new ones too; Ctrl-C ends
  mistral-jobs jobs estimate --model open-mistral-7b --file FILE_ID   # cost, before paying
  mistral-jobs jobs wait JOB_ID --until VALIDATED    # validated: read its cost, then start
  mistral-jobs jobs start JOB_ID                     # one created with --no-auto-start
  mistral-jobs jobs wait JOB_ID --timeout 3600 --json
"""
_FORGE_EXAMPLES = """\
examples:
  mistral-jobs forge create --job-type supervised_fine_tuning --base-model mistral-small-latest
  mistral-jobs forge list --json
  mistral-jobs forge wait JOB_ID
  mistral-jobs forge watch --all                     # every Forge job, new ones too
"""

_PARKED = (
    " A job created with --no-auto-start is shown waiting in VALIDATED, with the command that "
    "starts it."
)


def _add_fine_tuning_options(parser: argparse.ArgumentParser) -> None:
    """What a fine-tuning job is made of (``jobs create`` and ``jobs estimate``)."""
    parser.add_argument("--model", required=True)
    parser.add_argument("--file", dest="files", action="append", required=True, metavar="FILE_ID")
    parser.add_argument(
        "--validation-file", dest="validation_files", action="append", metavar="FILE_ID"
    )
    parser.add_argument("--suffix")
    parser.add_argument(
        "--invalid-sample-skip-percentage",
        type=float,
        metavar="P",
        help="let the service skip up to P%% invalid samples instead of failing validation",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command and option."""
    parser = argparse.ArgumentParser(
        prog="mistral-jobs",
        description=(
            "Launch and follow Mistral fine-tuning and Forge training jobs. "
            "The API key comes from MISTRAL_API_KEY; it is never printed."
        ),
        epilog="start here: mistral-jobs demo   (no key, no network)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--base-url",
        default=None,
        help="service root, e.g. an emulator's http://127.0.0.1:8000 (default: "
        "$MISTRAL_BASE_URL, else https://api.mistral.ai)",
    )
    parser.add_argument(
        "--request-timeout", type=float, default=60.0, help="seconds per request (default: 60)"
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// --base-url beyond this machine (the key then crosses the "
        "network unencrypted; loopback needs no flag)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    demo = commands.add_parser(
        "demo",
        help="a batch of jobs on the embedded emulator, followed live (no key, no network)",
        description="Start the emulator, launch a realistic batch of fine-tuning and Forge "
        "jobs, and follow them all with the watcher until they end.",
        epilog=_DEMO_EXAMPLES,
        formatter_class=raw,
    )
    demo.add_argument("--jobs", type=int, default=100, help="how many jobs (default: 100)")
    demo.add_argument(
        "--speed", type=float, default=3.0, help="emulator clock speed (default: 3, ~1 minute)"
    )
    demo.add_argument("--seed", type=int, default=1, help="seed of the batch (default: 1)")
    demo.add_argument("--json", action="store_true", help="JSON lines instead of the live view")

    for api, label, examples in (
        ("jobs", "fine-tuning jobs", _JOBS_EXAMPLES),
        ("forge", "Forge training jobs", _FORGE_EXAMPLES),
    ):
        group = commands.add_parser(
            api, help=label, description=f"Work with {label}.", epilog=examples, formatter_class=raw
        )
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser(
            "list", help="list jobs, newest first", epilog=examples, formatter_class=raw
        )
        listing.add_argument("--page", type=int, default=0)
        listing.add_argument("--page-size", type=int, default=100)
        listing.add_argument("--all", action="store_true", help="every page")
        if api == "jobs":
            listing.add_argument(
                "--status", help="only jobs in this status (an unknown one is warned about)"
            )
            listing.add_argument("--model")
            listing.add_argument("--suffix")
        verbs = [("get", "show jobs in detail"), ("cancel", "cancel jobs")]
        if api == "jobs":
            verbs.append(("start", "start jobs waiting in VALIDATED"))
        for name, text in verbs:
            sub = actions.add_parser(name, help=text, epilog=examples, formatter_class=raw)
            sub.add_argument("ids", nargs="+", metavar="JOB_ID")
        create = actions.add_parser(
            "create", help="create a job", epilog=examples, formatter_class=raw
        )
        if api == "jobs":
            _add_fine_tuning_options(create)
            estimate = actions.add_parser(
                "estimate",
                help="what a job would cost: create it parked, read its cost at VALIDATED",
                description="Create the job with auto_start off, wait until the service has "
                "validated it, and show its cost, tokens and expected duration (the service's "
                "own figures). The job then waits for `jobs start`, unless --cancel.",
                epilog=examples,
                formatter_class=raw,
            )
            _add_fine_tuning_options(estimate)
            estimate.add_argument(
                "--cancel", action="store_true", help="cancel the job once its cost is read"
            )
            estimate.add_argument(
                "--timeout", type=float, default=None, help="seconds to wait (exit 124 after)"
            )
        else:
            create.add_argument("--job-type", required=True)
            create.add_argument("--base-model")
            create.add_argument("--architecture", choices=("dense", "mixture_of_experts"))
            create.add_argument("--num-experts", type=int)
            create.add_argument("--active-experts", type=int)
        for parser_ in (create, estimate) if api == "jobs" else (create,):
            parser_.add_argument("--training-steps", type=int)
            parser_.add_argument("--learning-rate", type=float)
        create.add_argument("--auto-start", action=argparse.BooleanOptionalAction, default=None)
        watch = actions.add_parser(
            "watch",
            help="follow jobs until they end (exit 1 if any fails or is cancelled)",
            description="Follow jobs until every one has ended (or reached --until): a live "
            "table on a terminal, one line per change in a pipe, JSON lines with --json; then "
            "a summary line. With --all, every job of the organisation, new ones included, "
            "until Ctrl-C." + (_PARKED if api == "jobs" else ""),
            epilog=examples,
            formatter_class=raw,
        )
        watch.add_argument("ids", nargs="*", metavar="JOB_ID")
        watch.add_argument(
            "--all",
            action="store_true",
            help="every job instead of JOB_IDs, those created later too (runs until Ctrl-C)",
        )
        if api == "jobs":
            watch.add_argument("--status", help="with --all: only jobs in this status")
            watch.add_argument("--model", help="with --all: only jobs of this model")
            watch.add_argument("--suffix", help="with --all: only jobs with this suffix")
        watch.add_argument(
            "--include-ended",
            action="store_true",
            help="with --all: also the jobs that had already ended when found",
        )
        _add_until(watch, "a job is done for the watch once in one of these statuses")
        watch.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show each checkpoint's training loss (one GET per poll of each RUNNING job; "
            "default: on with JOB_IDs, off with --all)",
        )
        wait = actions.add_parser(
            "wait",
            help="wait until jobs end (or reach --until), print them (exit 1 if any fails)",
            epilog=examples,
            formatter_class=raw,
        )
        wait.add_argument("ids", nargs="+", metavar="JOB_ID")
        wait.add_argument("--timeout", type=float, default=None, help="seconds (exit 124 after)")
        _add_until(wait, "return once each job is in one of these statuses")
        for sub_parser in actions.choices.values():
            sub_parser.add_argument("--json", action="store_true", help="one JSON object per line")
            sub_parser.set_defaults(api=api)

    add_model_commands(commands)

    add_file_commands(commands)
    add_sweep_command(commands)
    add_mcp_command(commands)

    emulator = commands.add_parser(
        "emulator",
        help="run the local Mistral emulator (no key, no network)",
        description=(
            "Serve the Fine-Tuning, Forge and Files APIs locally, with job lifecycles on a "
            "simulated clock. Logs one line per request on stderr; Ctrl-C stops it."
        ),
        epilog=_EMULATOR_EXAMPLES,
        formatter_class=raw,
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


def _add_until(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--until",
        action="append",
        metavar="STATUS",
        help=f"{what} instead of at the end (repeatable or comma-separated, e.g. "
        "RUNNING,SUCCESS); ending in another is a failure (exit 1)",
    )
