"""The API commands: arguments -> one public API call each -> output.

``list``, ``get``, ``start``, ``cancel``, ``create`` and ``wait`` of both job APIs, and the
``files`` commands; ``watch`` lives in ``_watch``. The options that only make sense together
(``watch`` ids or ``--all``, ``--until``) are checked here before any request.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_JOB_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    NO_KEY,
    CliError,
)
from mistral_jobs_async._cli._files import run_files
from mistral_jobs_async._cli._mcp import serve_mcp
from mistral_jobs_async._cli._models import run_models
from mistral_jobs_async._cli._output import (
    Output,
    cell,
    columns_of,
    job_row,
    record,
    resource,
    start_hint,
)
from mistral_jobs_async._cli._sweep import run_sweep_command
from mistral_jobs_async._cli._watch import watch
from mistral_jobs_async.models import FINE_TUNING_STATUSES, FORGE_STATUSES, JobBase
from mistral_jobs_async.watcher import JobVanished, Transition

__all__ = ["KNOWN_STATUSES", "check_args", "check_status", "run_api"]

_SUCCESS = "SUCCESS"
#: Every status some API defines; the set is open (a new one decodes), so others are warned of.
KNOWN_STATUSES = FINE_TUNING_STATUSES | FORGE_STATUSES
_API_STATUSES = {"jobs": ("fine-tuning", FINE_TUNING_STATUSES), "forge": ("Forge", FORGE_STATUSES)}
_WATCH_ALL_ONLY = ("status", "model", "suffix", "include_ended")


def check_status(status: str, out: Output, *, api: str | None = None) -> None:
    """Warn (never refuse) when no API defines ``status``: the list would likely be empty.

    With ``api`` (``--until``), when that API does not define it: a job may never reach it.
    """
    if api is None:
        known_set, subject, then = KNOWN_STATUSES, "no API defines the status", "asking the API"
    else:
        label, known_set = _API_STATUSES[api]
        subject, then = f"the {label} API defines no status", "a job may never reach it; going on"
    if status in known_set:
        return
    known = sorted(known_set)
    guess = difflib.get_close_matches(status.upper(), known, n=1)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    out.warn(f"{subject} {status!r}{hint} (known: {', '.join(known)}); {then} anyway")


def _until(args: argparse.Namespace, out: Output) -> frozenset[str] | None:
    """``--until`` (repeated, comma-separated) as a set of statuses; None when not given."""
    if args.until is None:
        return None
    statuses = [s.strip() for value in args.until for s in value.split(",") if s.strip()]
    if not statuses:
        raise CliError("--until needs statuses, e.g. --until VALIDATED or --until RUNNING,SUCCESS")
    for status in dict.fromkeys(statuses):
        check_status(status, out, api=args.api)
    return frozenset(statuses)


def check_args(args: argparse.Namespace, out: Output) -> None:
    """Refuse options that do not go together (one line, exit 2); turn ``--until`` into a set."""
    if args.action not in ("watch", "wait"):
        return
    args.until = _until(args, out)
    if args.action != "watch":
        return
    if args.all and args.ids:
        raise CliError("give JOB_IDs or --all, not both")
    if not args.all and not args.ids:
        raise CliError("give the JOB_IDs to watch, or --all to watch every job")
    given = [name for name in _WATCH_ALL_ONLY if getattr(args, name, None) not in (None, False)]
    if given and not args.all:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        verb = "goes" if len(given) == 1 else "go"
        raise CliError(f"{options} {verb} only with --all (to choose the jobs it follows)")
    if args.all and getattr(args, "status", None) is not None:
        check_status(args.status, out)


async def _list(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    filters: dict[str, Any] = {}
    if args.api == "jobs":
        if args.status is not None:
            check_status(args.status, out)
        filters = {"status": args.status, "model": args.model, "suffix": args.suffix}
        filters = {k: v for k, v in filters.items() if v is not None}
    pager = resource(client, args.api).list(page=args.page, page_size=args.page_size, **filters)
    if args.all:
        rows = [job_row(job) async for job in pager]
        total = len(rows)
    else:
        page = await pager
        rows = [job_row(job) for job in page.data]
        total = page.total
    out.table(rows, columns_of(args.api))
    if not out.json:
        out.line(f"{len(rows)} of {total} jobs" + ("" if args.all else f" (page {args.page})"))
    return EXIT_OK


async def _get(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    jobs = [await resource(client, args.api).get(job_id) for job_id in args.ids]
    if out.json:
        for job in jobs:
            out.emit(record(job))
        return EXIT_OK
    for job in jobs:
        row = job_row(job)
        for key in ("events", "checkpoints"):
            row.pop(key, None)
        width = max(len(k) for k in row)
        for key, value in row.items():
            out.line(f"{key.ljust(width)}  {cell(value)}")
        latest = job.latest_checkpoint
        if latest is not None and latest.metrics is not None:
            loss = cell(latest.metrics.train_loss)
            out.line(f"{'train_loss'.ljust(width)}  {loss} (step {latest.step_number})")
        out.line("")
    return EXIT_OK


async def _act(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    action = getattr(resource(client, args.api), args.action)
    rows = [job_row(await action(job_id)) for job_id in args.ids]
    out.table(rows, columns_of(args.api))
    return EXIT_OK


def _fine_tuning_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters of a fine-tuning job from ``jobs create`` or ``jobs estimate``."""
    hyper = {"training_steps": args.training_steps, "learning_rate": args.learning_rate}
    return {
        "model": args.model,
        "training_files": args.files,
        "validation_files": args.validation_files,
        "hyperparameters": {k: v for k, v in hyper.items() if v is not None} or None,
        "suffix": args.suffix,
        "invalid_sample_skip_percentage": args.invalid_sample_skip_percentage,
    }


async def _create(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    if args.api == "jobs":
        job: Any = await client.fine_tuning.jobs.create(
            **_fine_tuning_options(args), auto_start=args.auto_start
        )
    else:
        hyper = {"training_steps": args.training_steps, "learning_rate": args.learning_rate}
        config = {
            "base_model": args.base_model,
            "architecture": args.architecture,
            "num_experts": args.num_experts,
            "active_experts": args.active_experts,
        }
        job = await client.forge.jobs.create(
            job_type=args.job_type,
            model_config={k: v for k, v in config.items() if v is not None},
            hyperparameters={k: v for k, v in hyper.items() if v is not None} or None,
            auto_start=args.auto_start,
        )
    out.table([job_row(job)], columns_of(args.api))
    return EXIT_OK


async def _estimate(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """``jobs estimate``: the service's cost figures at VALIDATED, the job parked (or not)."""
    estimate = await client.fine_tuning.jobs.estimate(
        **_fine_tuning_options(args), cancel=args.cancel, timeout=args.timeout
    )
    meta = estimate.metadata
    row = {
        "id": estimate.job.id,
        "status": estimate.job.status,
        "cost": meta.cost,
        "currency": meta.cost_currency,
        "data_tokens": meta.data_tokens,
        "train_tokens": meta.train_tokens,
        "expected_duration_seconds": meta.expected_duration_seconds,
        "cancelled": estimate.cancelled,
    }
    out.table([row], tuple(row))
    if not estimate.cancelled and not out.json:
        out.note(f"job {estimate.job.id} {start_hint(estimate.job.id)}")
    return EXIT_OK


def _ended_elsewhere(event: Transition[Any], until: frozenset[str]) -> str:
    """The one line that says a job ended without reaching ``--until``."""
    wanted = " or ".join(sorted(until))
    if event.previous is None:  # its first observation: what came before is not known
        return (
            f"job {event.job_id} had already ended {event.status} when first seen, "
            f"without reaching {wanted} while watched"
        )
    return f"job {event.job_id} ended {event.status} without reaching {wanted}"


async def _wait(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    # One watcher for every id (not one ``jobs.wait`` each): it costs fewer requests, and its
    # events show a job parked in VALIDATED, which would otherwise be waited for in silence.
    until: frozenset[str] | None = args.until
    done: dict[str, tuple[str, JobBase]] = {}  # ended, or reached --until: status, job
    last: dict[str, str] = {}
    told: set[str] = set()
    with anyio.move_on_after(args.timeout) as deadline:
        async with resource(client, args.api).watch(args.ids) as events:
            async for event in events:
                if event.job_id in done:
                    continue  # reached --until; these events were already on their way
                if isinstance(event, JobVanished):
                    raise CliError(
                        f"job {event.job_id} vanished while waiting for it", code=EXIT_NOT_FOUND
                    )
                if not isinstance(event, Transition):
                    continue
                last[event.job_id] = event.status
                reached = event.terminal if until is None else event.status in until
                if reached or event.terminal:
                    done[event.job_id] = (event.status, event.job)
                    if not event.terminal:
                        events.watcher.remove([event.job_id])  # the others are still awaited
                    elif until is not None and not reached:
                        out.error(_ended_elsewhere(event, until))
                elif event.waiting_for_start and event.job_id not in told:
                    told.add(event.job_id)
                    out.note(f"job {event.job_id} is VALIDATED, {start_hint(event.job_id)}")
    if deadline.cancelled_caught:
        pending = [job_id for job_id in dict.fromkeys(args.ids) if job_id not in done]
        listing = ", ".join(f"{job_id} ({last.get(job_id, 'unobserved')})" for job_id in pending)
        who = "it keeps running" if len(pending) == 1 else "they keep running"
        state = "ended" if until is None else f"in {' or '.join(sorted(until))}"
        raise CliError(
            f"not {state} after {args.timeout:g}s: {listing} ({who}; only the wait ended)",
            code=EXIT_TIMEOUT,
        )
    if missing := [job_id for job_id in args.ids if job_id not in done]:
        raise CliError(f"the watch ended before {', '.join(missing)} did", code=EXIT_API)
    rows = []
    for job_id in args.ids:
        status, job = done[job_id]
        # A status read back from the job's events: the job as fetched is already further on.
        rows.append({**job_row(job), "status": status})
    out.table(rows, columns_of(args.api))
    fine = until if until is not None else {_SUCCESS}
    return EXIT_JOB_FAILED if any(row["status"] not in fine for row in rows) else EXIT_OK


_JOB_COMMANDS: dict[str, Callable[[AsyncClient, argparse.Namespace, Output], Awaitable[int]]] = {
    "list": _list,
    "get": _get,
    "start": _act,
    "cancel": _act,
    "create": _create,
    "estimate": _estimate,
    "watch": watch,
    "wait": _wait,
}


async def run_api(args: argparse.Namespace, out: Output) -> int:
    """Run a ``jobs``, ``forge``, ``files`` or ``models`` command with the options' client."""
    if args.command in ("jobs", "forge"):
        check_args(args, out)  # a usage error is said before a missing key
    # The client reads MISTRAL_API_KEY itself; a blank one is caught here to say what a shell
    # user does about it (the client's message speaks of its constructor).
    if not os.environ.get("MISTRAL_API_KEY", "").strip():
        raise CliError(NO_KEY, code=EXIT_AUTH)
    async with AsyncClient(
        base_url=args.base_url,
        timeout=args.request_timeout,
        allow_insecure_http=args.allow_insecure_http,
    ) as client:
        if args.command == "files":
            return await run_files(client, args, out)
        if args.command == "models":
            return await run_models(client, args, out)
        if args.command == "sweep":
            return await run_sweep_command(client, args, out)
        if args.command == "mcp":
            return await serve_mcp(client, args, out)
        return await _JOB_COMMANDS[args.action](client, args, out)
