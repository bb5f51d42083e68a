"""The ``mistral-jobs`` command: thin argument parsing over the public API.

Exit codes: 0 done; 1 a watched job ended FAILED, FAILED_VALIDATION or CANCELLED; 2 usage
(bad arguments or parameters); 3 authentication (no key, refused key); 4 not found; 5 network
(connection, timeout); 6 another API error; 124 ``wait --timeout`` ran out; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import msgspec

from mistral_jobs_async import (
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MistralJobsError,
    NotFoundError,
    PermissionDeniedError,
    TransportError,
    WaitTimeoutError,
    __version__,
)
from mistral_jobs_async._demo import DemoJob, DemoSummary, run_demo
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.watcher import JobStalled, JobVanished, PollFailed, Transition

if TYPE_CHECKING:
    from mistral_jobs_async._live import LiveView

__all__ = ["main"]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_NETWORK = 5
EXIT_API = 6
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

_SUCCESS = "SUCCESS"
_REMOTE_KEEPS_RUNNING = "stopped watching; the jobs keep running on the server"

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
  mistral-jobs jobs wait JOB_ID --timeout 3600 --json
"""
_FORGE_EXAMPLES = """\
examples:
  mistral-jobs forge create --job-type supervised_fine_tuning --base-model mistral-small-latest
  mistral-jobs forge list --json
  mistral-jobs forge wait JOB_ID
"""
_FILES_EXAMPLES = """\
examples:
  mistral-jobs files upload train.jsonl
  mistral-jobs files list
  mistral-jobs files delete FILE_ID
"""


class UsageError(Exception):
    """A command-line mistake found after parsing (reported like argparse's own)."""


class Output:
    """Where results go: human lines (a table on a terminal) or one JSON object per line."""

    def __init__(self, *, json: bool, stream: TextIO | None = None) -> None:
        self.json = json
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()

    def emit(self, record: dict[str, Any]) -> None:
        """One JSON object (``--json``)."""
        self.stream.write(msgspec.json.encode(record).decode() + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """One human line."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def table(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        """Rows as an aligned table (human) or as JSON lines."""
        if self.json:
            for row in rows:
                self.emit(row)
            return
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        self.line("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
        for r in cells:
            self.line("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _when(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _record(model: Any) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.to_builtins(model)
    return record


# --- API commands ----------------------------------------------------------------------------

_FT_COLUMNS = ("id", "status", "model", "created", "fine_tuned_model")
_FORGE_COLUMNS = ("id", "status", "job_type", "created", "output_model")
_FILE_COLUMNS = ("id", "filename", "bytes", "created", "num_lines")


def _job_row(job: Any) -> dict[str, Any]:
    row = _record(job)
    row["created"] = _when(job.created_at)
    return row


def _resource(client: AsyncClient, api: str) -> Any:
    return client.fine_tuning.jobs if api == "jobs" else client.forge.jobs


async def _list(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    columns = _FT_COLUMNS if args.api == "jobs" else _FORGE_COLUMNS
    filters: dict[str, Any] = {}
    if args.api == "jobs":
        filters = {"status": args.status, "model": args.model, "suffix": args.suffix}
        filters = {k: v for k, v in filters.items() if v is not None}
    pager = _resource(client, args.api).list(page=args.page, page_size=args.page_size, **filters)
    if args.all:
        rows = [_job_row(job) async for job in pager]
        total = len(rows)
    else:
        page = await pager
        rows = [_job_row(job) for job in page.data]
        total = page.total
    out.table(rows, columns)
    if not out.json:
        out.line(f"{len(rows)} of {total} jobs" + ("" if args.all else f" (page {args.page})"))
    return EXIT_OK


async def _get(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    jobs = [await _resource(client, args.api).get(job_id) for job_id in args.ids]
    if out.json:
        for job in jobs:
            out.emit(_record(job))
        return EXIT_OK
    for job in jobs:
        row = _job_row(job)
        for key in ("events", "checkpoints"):
            row.pop(key, None)
        width = max(len(k) for k in row)
        for key, value in row.items():
            out.line(f"{key.ljust(width)}  {_cell(value)}")
        latest = job.latest_checkpoint
        if latest is not None and latest.metrics is not None:
            loss = _cell(latest.metrics.train_loss)
            out.line(f"{'train_loss'.ljust(width)}  {loss} (step {latest.step_number})")
        out.line("")
    return EXIT_OK


async def _act(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    resource = _resource(client, args.api)
    action = getattr(resource, args.action)
    rows = [_job_row(await action(job_id)) for job_id in args.ids]
    columns = _FT_COLUMNS if args.api == "jobs" else _FORGE_COLUMNS
    out.table(rows, columns)
    return EXIT_OK


async def _create(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    hyper = {
        "training_steps": args.training_steps,
        "learning_rate": args.learning_rate,
    }
    hyper = {k: v for k, v in hyper.items() if v is not None}
    if args.api == "jobs":
        job: Any = await client.fine_tuning.jobs.create(
            model=args.model,
            training_files=args.files,
            validation_files=args.validation_files,
            hyperparameters=hyper or None,
            suffix=args.suffix,
            auto_start=args.auto_start,
        )
        columns = _FT_COLUMNS
    else:
        config = {
            "base_model": args.base_model,
            "architecture": args.architecture,
            "num_experts": args.num_experts,
            "active_experts": args.active_experts,
        }
        job = await client.forge.jobs.create(
            job_type=args.job_type,
            model_config={k: v for k, v in config.items() if v is not None},
            hyperparameters=hyper or None,
            auto_start=args.auto_start,
        )
        columns = _FORGE_COLUMNS
    out.table([_job_row(job)], columns)
    return EXIT_OK


def _failed(status: str | None) -> bool:
    return status is not None and status != _SUCCESS


async def _watch(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    finals: dict[str, str | None] = dict.fromkeys(args.ids)
    async with _resource(client, args.api).watch(args.ids) as events:
        async for event in events:
            now = datetime.now(tz=timezone.utc).strftime("%H:%M:%S")
            if isinstance(event, Transition):
                if event.terminal:
                    finals[event.job_id] = event.status
                if out.json:
                    out.emit(
                        {
                            "event": "transition",
                            "job_id": event.job_id,
                            "previous": event.previous,
                            "status": event.status,
                            "missed": event.missed,
                            "observed_at": event.observed_at,
                        }
                    )
                else:
                    out.line(f"{now}  {event.job_id}  {event.previous or '-'} -> {event.status}")
            elif isinstance(event, JobVanished):
                finals[event.job_id] = "VANISHED"
                if out.json:
                    out.emit(
                        {
                            "event": "vanished",
                            "job_id": event.job_id,
                            "last_status": event.last_status,
                        }
                    )
                else:
                    out.line(f"{now}  {event.job_id}  vanished (was {event.last_status or '-'})")
            elif isinstance(event, PollFailed):
                if out.json:
                    out.emit(
                        {"event": "poll_failed", "job_id": event.job_id, "error": str(event.error)}
                    )
                else:
                    out.line(f"{now}  {event.job_id}  poll failed ({event.error}); retrying")
            elif isinstance(event, JobStalled):
                pass
    return EXIT_JOB_FAILED if any(_failed(s) for s in finals.values()) else EXIT_OK


async def _wait(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    resource = _resource(client, args.api)
    results: dict[str, Any] = {}
    errors: list[MistralJobsError] = []

    async def one(job_id: str) -> None:
        try:
            results[job_id] = await resource.wait(job_id, timeout=args.timeout)
        except MistralJobsError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for job_id in args.ids:
            group.start_soon(one, job_id)
    if errors:
        raise errors[0]
    rows = [_job_row(results[job_id]) for job_id in args.ids]
    out.table(rows, _FT_COLUMNS if args.api == "jobs" else _FORGE_COLUMNS)
    return EXIT_JOB_FAILED if any(_failed(r["status"]) for r in rows) else EXIT_OK


async def _files(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    if args.action == "upload":
        rows = [_record(await client.files.upload(path)) for path in args.paths]
    elif args.action == "list":
        page = await client.files.list(page=args.page, page_size=args.page_size)
        rows = [_record(f) for f in page.data]
    elif args.action == "get":
        rows = [_record(await client.files.get(file_id)) for file_id in args.ids]
    else:
        rows = [_record(await client.files.delete(file_id)) for file_id in args.ids]
        out.table(rows, ("id", "deleted"))
        return EXIT_OK
    for row in rows:
        row["created"] = _when(row.get("created_at"))
    out.table(rows, _FILE_COLUMNS)
    return EXIT_OK


_API_COMMANDS: dict[str, Callable[[AsyncClient, argparse.Namespace, Output], Awaitable[int]]] = {
    "list": _list,
    "get": _get,
    "start": _act,
    "cancel": _act,
    "create": _create,
    "watch": _watch,
    "wait": _wait,
}


async def _run_api(args: argparse.Namespace, out: Output) -> int:
    async with AsyncClient(base_url=args.base_url, timeout=args.request_timeout) as client:
        if args.command == "files":
            return await _files(client, args, out)
        return await _API_COMMANDS[args.action](client, args, out)


def _error_exit(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line that describe an error (never with the key)."""
    if isinstance(error, WaitTimeoutError):
        return EXIT_TIMEOUT, str(error)
    if isinstance(error, InvalidRequestError | UsageError):
        return EXIT_USAGE, str(error)
    if isinstance(error, ConfigurationError):
        code = EXIT_AUTH if "API key" in str(error) else EXIT_USAGE
        return code, str(error)
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH, f"{error.message} (HTTP {error.status_code}): check MISTRAL_API_KEY"
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND, error.message
    if isinstance(error, TransportError):
        return EXIT_NETWORK, str(error)
    if isinstance(error, APIStatusError):
        return EXIT_API, f"{error.message} (HTTP {error.status_code})"
    return EXIT_API, str(error)


# --- the parser ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
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
            listing.add_argument("--status")
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
            create.add_argument("--model", required=True)
            create.add_argument(
                "--file", dest="files", action="append", required=True, metavar="FILE_ID"
            )
            create.add_argument(
                "--validation-file", dest="validation_files", action="append", metavar="FILE_ID"
            )
            create.add_argument("--suffix")
        else:
            create.add_argument("--job-type", required=True)
            create.add_argument("--base-model")
            create.add_argument("--architecture", choices=("dense", "mixture_of_experts"))
            create.add_argument("--num-experts", type=int)
            create.add_argument("--active-experts", type=int)
        create.add_argument("--training-steps", type=int)
        create.add_argument("--learning-rate", type=float)
        create.add_argument("--auto-start", action=argparse.BooleanOptionalAction, default=None)
        watch = actions.add_parser(
            "watch",
            help="follow jobs until they end (exit 1 if any fails or is cancelled)",
            epilog=examples,
            formatter_class=raw,
        )
        watch.add_argument("ids", nargs="+", metavar="JOB_ID")
        wait = actions.add_parser(
            "wait",
            help="wait until jobs end, print them (exit 1 if any fails or is cancelled)",
            epilog=examples,
            formatter_class=raw,
        )
        wait.add_argument("ids", nargs="+", metavar="JOB_ID")
        wait.add_argument("--timeout", type=float, default=None, help="seconds (exit 124 after)")
        for sub_parser in actions.choices.values():
            sub_parser.add_argument("--json", action="store_true", help="one JSON object per line")
            sub_parser.set_defaults(api=api)

    files = commands.add_parser(
        "files", help="training files", epilog=_FILES_EXAMPLES, formatter_class=raw
    )
    file_actions = files.add_subparsers(dest="action", metavar="ACTION", required=True)
    upload = file_actions.add_parser(
        "upload", help="upload JSONL files", epilog=_FILES_EXAMPLES, formatter_class=raw
    )
    upload.add_argument("paths", nargs="+", metavar="PATH")
    file_list = file_actions.add_parser(
        "list", help="list files", epilog=_FILES_EXAMPLES, formatter_class=raw
    )
    file_list.add_argument("--page", type=int, default=0)
    file_list.add_argument("--page-size", type=int, default=100)
    for name in ("get", "delete"):
        sub = file_actions.add_parser(
            name, help=f"{name} files", epilog=_FILES_EXAMPLES, formatter_class=raw
        )
        sub.add_argument("ids", nargs="+", metavar="FILE_ID")
    for sub_parser in file_actions.choices.values():
        sub_parser.add_argument("--json", action="store_true", help="one JSON object per line")

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


# --- the demo ----------------------------------------------------------------------------------


def _live_view(out: Output) -> LiveView | None:
    """The rich live view on a terminal (None for pipes, --json, or without the cli extra)."""
    if not out.tty or out.json:
        return None
    try:
        from mistral_jobs_async._live import LiveView  # noqa: PLC0415 (rich is an extra)
    except ImportError:
        return None
    return LiveView(out.stream)


def _demo(args: argparse.Namespace, out: Output) -> int:
    view = _live_view(out)

    def on_change(summary: DemoSummary, job: DemoJob | None, message: str) -> None:
        if out.json and message == "progress":
            return
        if out.json:
            record: dict[str, Any] = {
                "event": "note" if job is None else "change",
                "message": message,
            }
            if job is not None:
                record.update(job_id=job.id, api=job.api, status=job.status)
            out.emit(record)
        elif view is not None:
            view.update(summary, job, message)
        elif message != "progress":
            who = f"{job.api:<11} {job.id}  " if job is not None else ""
            out.line(f"{datetime.now(tz=timezone.utc):%H:%M:%S}  {who}{message}")

    async def go() -> DemoSummary:
        if view is None:
            return await run_demo(
                jobs=args.jobs, speed=args.speed, seed=args.seed, on_change=on_change
            )
        with view:
            return await run_demo(
                jobs=args.jobs, speed=args.speed, seed=args.seed, on_change=on_change
            )

    summary = asyncio.run(go())
    outcome = summary.outcome()
    result = {
        "event": "summary",
        "jobs": len(summary.jobs),
        **outcome,
        "watcher_requests": summary.watcher_requests,
        "naive_requests": round(summary.naive_requests),
        "detail_requests": summary.detail_requests,
        "seconds": round(summary.seconds, 1),
    }
    if out.json:
        out.emit(result)
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


# --- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "emulator":
        return _emulator(args)
    out = Output(json=getattr(args, "json", False))
    if args.command == "demo" and (
        args.jobs < 1 or not (math.isfinite(args.speed) and args.speed > 0)
    ):
        print("mistral-jobs demo: error: --jobs must be >= 1 and --speed > 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "demo":
            return _demo(args, out)
        return asyncio.run(_run_api(args, out))
    except KeyboardInterrupt:
        print(f"\nmistral-jobs: interrupted: {_REMOTE_KEEPS_RUNNING}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MistralJobsError, UsageError) as error:
        code, message = _error_exit(error)
        print(f"mistral-jobs: error: {message}", file=sys.stderr)
        return code


def _emulator(args: argparse.Namespace) -> int:
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
