"""The MCP server: tools over one client, behind the guardrails its owner set.

Built on the official MCP Python SDK's ``MCPServer`` (the SDK's FastMCP, renamed in 2.x).
Results are typed (``TypedDict`` in ``_results``: the SDK turns them into output schemas),
and each tool carries the annotations that tell a client what is safe: read-only,
destructive, idempotent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp_types import ToolAnnotations

from mistral_jobs_async._client import AsyncClient, jobs_of
from mistral_jobs_async._exceptions import MistralJobsError, WaitTimeoutError
from mistral_jobs_async.mcp._follow import Follower
from mistral_jobs_async.mcp._guardrails import Guardrails, Ledger
from mistral_jobs_async.mcp._results import (
    Estimate,
    FileSummary,
    JobList,
    JobSummary,
    ModelSummary,
    SweepSummary,
    Validation,
    estimate_of,
    job_summary,
    json_of,
    model_summary,
)
from mistral_jobs_async.watcher import CheckpointReported, Transition

__all__ = ["build_server"]

logger = logging.getLogger("mistral_jobs_async.mcp")

Api = Literal["fine_tuning", "forge"]
_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)
_CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                          open_world_hint=True)  # fmt: skip
_STOP = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                        open_world_hint=True)  # fmt: skip
#: Statuses of jobs that count as running for ``max_running`` (a parked VALIDATED job costs
#: nothing until started).
_ACTIVE = frozenset({"QUEUED", "VALIDATING", "STARTED", "RUNNING", "CANCELLATION_REQUESTED"})


def build_server(client: AsyncClient, guardrails: Guardrails | None = None) -> MCPServer:
    """An MCP server whose tools act through ``client`` within ``guardrails``.

    The API key is the client's (from the server's environment): no tool takes or returns it.
    """
    rails = guardrails or Guardrails()
    ledger = Ledger(rails)
    bus = InMemorySubscriptionBus()
    follower = Follower(client, bus)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with follower.running():
            yield {}

    server: MCPServer[Any] = MCPServer(
        "mistral-jobs",
        instructions=(
            "Mistral fine-tuning and Forge training jobs. Estimate a job's cost before creating "
            "it; creating is limited by the server's guardrails, which a refusal names. Read "
            "job://fine_tuning/{id} or job://forge/{id} and listen to it to hear of changes."
        ),
        subscriptions=bus,
        lifespan=lifespan,
    )

    @server.resource("job://fine_tuning/{job_id}", mime_type="application/json")
    async def fine_tuning_job(job_id: str) -> str:
        """A fine-tuning job (followed from then on: listen to hear when it changes)."""
        follower.follow("fine_tuning", job_id)
        return json_of(await _api(client.fine_tuning.jobs.get(job_id)))

    @server.resource("job://forge/{job_id}", mime_type="application/json")
    async def forge_job(job_id: str) -> str:
        """A Forge job (followed from then on: listen to hear when it changes)."""
        follower.follow("forge", job_id)
        return json_of(await _api(client.forge.jobs.get(job_id)))

    @server.resource("model://{model_id}", mime_type="application/json")
    async def model(model_id: str) -> str:
        """A model card (base or fine-tuned)."""
        return json_of(await _api(client.models.get(model_id)))

    def jobs(api: Api) -> Any:
        return jobs_of(client, api)

    async def running() -> int:
        """Jobs not ended, for the running cap; without a cap, none are counted (no lists)."""
        if rails.max_running is None:
            return 0
        count = 0
        for api in ("fine_tuning", "forge"):
            page = await jobs(api).list(page_size=100)
            count += sum(1 for job in page.data if job.status in _ACTIVE)
        return count

    @server.tool(annotations=_READ)
    async def list_jobs(api: Api = "fine_tuning", status: str | None = None,
                        limit: int = 20) -> JobList:  # fmt: skip
        """Jobs of one API, newest first (fine-tuning jobs may be filtered by status)."""
        size = max(1, min(limit, 100))
        pager = jobs(api).list(page_size=size, status=status) if api == "fine_tuning" and status \
            else jobs(api).list(page_size=size)  # fmt: skip
        page = await _api(pager)
        return {"jobs": [job_summary(j, api) for j in page.data], "total": page.total}

    @server.tool(annotations=_READ)
    async def get_job(job_id: str, api: Api = "fine_tuning") -> JobSummary:
        """One job, with its latest training loss."""
        return job_summary(await _api(jobs(api).get(job_id)), api)

    @server.tool(annotations=_READ)
    async def list_models(fine_tuned_only: bool = False) -> list[ModelSummary]:
        """Model cards: the base models offered for fine-tuning and the fine-tuned ones."""
        cards = await _api(client.models.list())
        return [model_summary(c) for c in cards if c.fine_tuned or not fine_tuned_only]

    @server.tool(annotations=_READ)
    async def get_model(model_id: str) -> ModelSummary:
        """One model card (a fine-tuned model's id is its job's fine_tuned_model)."""
        return model_summary(await _api(client.models.get(model_id)))

    @server.tool(annotations=_READ)
    async def list_files(limit: int = 20) -> list[FileSummary]:
        """Uploaded training files, newest first."""
        page = await _api(client.files.list(page_size=max(1, min(limit, 100))))
        return [
            {"id": f.id, "filename": f.filename, "bytes": f.bytes, "num_lines": f.num_lines,
             "created_at": f.created_at}
            for f in page.data
        ]  # fmt: skip

    @server.tool(annotations=_READ)
    async def validate_training_file(path: str, model: str | None = None) -> Validation:
        """Check a JSONL training file on the server's disk (nothing is uploaded).

        Mistral's rules and tokenizer: every problem by line, and the file's tokens.
        """
        from mistral_jobs_async.datasets import validate_file  # noqa: PLC0415

        source = rails.check_path(path)
        if not await anyio.Path(source).is_file():
            raise ToolError(f"{path}: not a readable file on the server")
        report = await anyio.to_thread.run_sync(lambda: validate_file(source, model=model))
        tokens = report.token_summary()
        return {
            "path": str(source), "ok": report.ok, "lines": report.lines,
            "valid_samples": report.samples, "errors": report.errors,
            "first_problems": [str(p) for p in report.problems[:10]],
            "tokens": tokens["total"], "tokens_exact": tokens["exact"],
        }  # fmt: skip

    @server.tool(annotations=_CREATE)
    async def estimate_job(model: str, training_files: list[str],
                           training_steps: int | None = None,
                           learning_rate: float | None = None) -> Estimate:  # fmt: skip
        """What a fine-tuning job would cost, from the service: nothing trains.

        The job is created parked, read at VALIDATED, then cancelled.
        """
        rails.check_writable("estimate_job")
        rails.check_model(model)
        estimate = await _api(client.fine_tuning.jobs.estimate(
            model=model, training_files=training_files, cancel=True, timeout=600,
            hyperparameters=_hyper(training_steps, learning_rate),
        ))  # fmt: skip
        logger.info("estimate_job: job %s created and cancelled (cost %s %s)",
                    estimate.job.id, estimate.cost, estimate.metadata.cost_currency)  # fmt: skip
        return estimate_of(estimate)

    @server.tool(annotations=_CREATE)
    async def create_job(model: str, training_files: list[str],
                         training_steps: int | None = None, learning_rate: float | None = None,
                         suffix: str | None = None) -> JobSummary:  # fmt: skip
        """Create and start a fine-tuning job, within the server's guardrails.

        Jobs per session and per day, jobs running at once, allowed models, and a cost ceiling
        checked on the service's estimate before the job starts.
        """
        rails.check_writable("create_job")
        rails.check_model(model)
        ledger.check_create(await _api(running()))
        create: dict[str, Any] = {
            "model": model, "training_files": training_files, "suffix": suffix,
            "hyperparameters": _hyper(training_steps, learning_rate),
        }  # fmt: skip
        if rails.max_cost_per_job is None:
            job = await _api(client.fine_tuning.jobs.create(**create, auto_start=True))
            ledger.created()
        else:
            estimate = await _api(client.fine_tuning.jobs.estimate(**create, timeout=600))
            ledger.created()
            try:
                rails.check_cost(estimate.cost, estimate.metadata.cost_currency)
            except ToolError:
                await _api(client.fine_tuning.jobs.cancel(estimate.job.id))
                logger.info("create_job: job %s cancelled at VALIDATED: over the cost ceiling",
                            estimate.job.id)  # fmt: skip
                raise
            job = await _api(client.fine_tuning.jobs.start(estimate.job.id))
        follower.follow("fine_tuning", job.id)
        logger.info("create_job: job %s created on %s (session total %d)", job.id, model,
                    ledger.session)  # fmt: skip
        return job_summary(job, "fine_tuning")

    @server.tool(annotations=_CREATE)
    async def start_job(job_id: str) -> JobSummary:
        """Start a fine-tuning job waiting in VALIDATED (within the running cap and ceiling)."""
        rails.check_writable("start_job")
        job = await _api(client.fine_tuning.jobs.get(job_id))
        rails.check_model(job.model or "")
        rails.check_running(await _api(running()))
        metadata = job.metadata
        rails.check_cost(metadata.cost if metadata else None,
                         metadata.cost_currency if metadata else None)  # fmt: skip
        started = await _api(client.fine_tuning.jobs.start(job_id))
        logger.info("start_job: job %s started", job_id)
        return job_summary(started, "fine_tuning")

    @server.tool(annotations=_CREATE)
    async def run_sweep(
        model: str, training_files: list[str], ctx: Context, *,
        learning_rate_min: float = 1e-5, learning_rate_max: float = 1e-3,
        training_steps: list[int] | None = None, trials: int = 6, parallel: int = 2,
    ) -> SweepSummary:  # fmt: skip
        """A learning-rate (and steps) sweep of fine-tuning jobs, hopeless trials cancelled.

        On Optuna; progress is sent as each trial ends. Every trial is a job, counted against
        the jobs-per-session and per-day caps, and ``parallel`` against the running cap; with
        a cost ceiling, the most expensive trial is estimated first.
        """
        rails.check_writable("run_sweep")
        rails.check_model(model)
        try:
            from mistral_jobs_async import sweeps  # noqa: PLC0415 (the sweep extra)
        except ModuleNotFoundError:
            raise ToolError("this server has no sweep support (the sweep extra)") from None
        import optuna  # noqa: PLC0415

        steps = sorted(set(training_steps or [100]))
        if trials < 1 or parallel < 1 or min(steps) < 1 or learning_rate_min <= 0:
            raise ToolError("trials, parallel, steps and the learning rates must be positive")
        ledger.check_create(await _api(running()), jobs=trials, at_once=parallel)
        if rails.max_cost_per_job is not None:
            probe = await _api(client.fine_tuning.jobs.estimate(
                model=model, training_files=training_files, cancel=True, timeout=600,
                hyperparameters={"training_steps": steps[-1], "learning_rate": learning_rate_max},
            ))  # fmt: skip
            rails.check_cost(probe.cost, probe.metadata.cost_currency)
        space: dict[str, Any] = {
            "learning_rate": optuna.distributions.FloatDistribution(
                learning_rate_min, learning_rate_max, log=True
            ),
            "training_steps": optuna.distributions.CategoricalDistribution(steps),
        }
        # The runner's updates come synchronously; progress is sent from a task of its own.
        send, receive = anyio.create_memory_object_stream[str](trials * 4)

        def on_update(update: Any) -> None:
            if update.state == "running":
                ledger.created()
                follower.follow("fine_tuning", update.job_id)
            elif update.state in ("complete", "pruned", "failed"):
                send.send_nowait(f"trial {update.number} {update.state}")

        async def report() -> None:
            ended = 0
            async with receive:
                async for message in receive:
                    ended += 1
                    await ctx.report_progress(ended, trials, message)

        sweep = sweeps.Sweep(base={"model": model, "training_files": training_files},
                             space=space, trials=trials, parallel=parallel)  # fmt: skip
        runner = sweeps.SweepRunner(client, sweep, on_update=on_update)
        async with anyio.create_task_group() as group:
            group.start_soon(report)
            async with send:
                result = await _api(runner.run())
        best = result.best
        logger.info("run_sweep: %d trials on %s, best %s", trials, model,
                    best.job_id if best else None)  # fmt: skip
        return {
            "trials": result.counts(), "best_job_id": best.job_id if best else None,
            "best_params": best.params if best else None,
            "best_objective": best.value if best else None,
            "best_model": best.model if best else None,
            "steps_planned": result.steps_planned, "steps_saved": result.steps_saved,
        }  # fmt: skip

    @server.tool(annotations=_STOP)
    async def cancel_job(job_id: str, api: Api = "fine_tuning") -> JobSummary:
        """Cancel a job (what it trained so far is lost)."""
        rails.check_writable("cancel_job")
        job = await _api(jobs(api).cancel(job_id))
        logger.info("cancel_job: %s job %s cancelled", api, job_id)
        return job_summary(job, api)

    @server.tool(annotations=_READ)
    async def wait_for_job(job_id: str, ctx: Context, api: Api = "fine_tuning",
                           timeout_seconds: float = 600) -> JobSummary:  # fmt: skip
        """Follow a job until it ends (or the timeout), with progress notifications.

        Each status change and each checkpoint's loss is reported as progress.
        """
        changes = 0
        try:
            async with jobs(api).watch([job_id], progress=True) as events:
                with anyio.move_on_after(timeout_seconds):
                    async for event in events:
                        changes += 1
                        if isinstance(event, Transition):
                            await ctx.report_progress(changes, None, f"status {event.status}")
                            if event.terminal:
                                return job_summary(event.job, api)
                        elif isinstance(event, CheckpointReported):
                            await ctx.report_progress(
                                changes, None, f"step {event.step}: loss {event.train_loss}"
                            )
        except MistralJobsError as exc:
            raise ToolError(str(exc)) from None
        job = await _api(jobs(api).get(job_id))
        return job_summary(job, api)

    return server


def _hyper(steps: int | None, rate: float | None) -> dict[str, Any] | None:
    given = {"training_steps": steps, "learning_rate": rate}
    return {k: v for k, v in given.items() if v is not None} or None


async def _api(call: Any) -> Any:
    """Await a client call; its errors become tool errors with the service's message.

    Never the key: the package's errors never hold it.
    """
    try:
        return await call
    except WaitTimeoutError as exc:
        raise ToolError(f"timed out: {exc}") from None
    except MistralJobsError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from None
