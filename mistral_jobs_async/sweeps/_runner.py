"""Running a sweep: trials asked as slots free, their jobs followed by one watcher.

Each checkpoint is reported to Optuna; the jobs its pruner gives up on are cancelled.

Optuna is driven by hand (ask and tell) rather than by ``study.optimize``: a trial here is a
job that runs for minutes on the service while others run beside it, all followed by one
watcher in one event loop, which ``optimize``'s one-call-per-trial model does not fit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import Any

import optuna
from optuna.trial import TrialState

from mistral_jobs_async._client import AsyncClient, jobs_of
from mistral_jobs_async._exceptions import (
    AuthenticationError,
    ConfigurationError,
    MistralJobsError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
)
from mistral_jobs_async.sweeps._config import Sweep
from mistral_jobs_async.sweeps._result import SweepResult, flat_record, result_of
from mistral_jobs_async.watcher import (
    CheckpointReported,
    JobVanished,
    Transition,
    WatchConfig,
    WatchEvent,
)

__all__ = ["SweepRunner", "TrialUpdate", "run_sweep"]

logger = logging.getLogger("mistral_jobs_async.sweeps")

#: Errors no other trial would escape either: the sweep stops on them (resumable). A refused
#: key, and a service that stays unreachable, overloaded or rate-limited after the client's
#: retries: failing trial after trial would only burn the study.
_FATAL = (AuthenticationError, PermissionDeniedError, TransportError, ServerError, RateLimitError)


@dataclass(frozen=True)
class TrialUpdate:
    """What happened to a trial: running, reported, complete, pruned or failed.

    ``reported`` is a checkpoint the trial went on from (its ``step`` and ``value``).
    """

    number: int
    state: str
    params: dict[str, Any]
    job_id: str | None = None
    value: float | None = None
    step: int | None = None
    reason: str | None = None

    def record(self) -> dict[str, Any]:
        """The update as a JSON-ready dict (the searched values flattened into it)."""
        return flat_record(
            {"trial": self.number, "state": self.state}, self.params,
            {"job_id": self.job_id, "value": self.value, "step": self.step,
             "reason": self.reason},
        )  # fmt: skip


@dataclass
class _Running:
    trial: optuna.Trial
    last_step: int = 0


class SweepRunner:
    """Runs one sweep with one client.

    :meth:`run` again, or a new runner on the same storage, continues it.
    """

    def __init__(
        self,
        client: AsyncClient,
        sweep: Sweep,
        *,
        watch: WatchConfig | None = None,
        on_update: Callable[[TrialUpdate], None] | None = None,
    ) -> None:
        self.client = client
        self.sweep = sweep
        self._watch = watch
        self._on_update = on_update or (lambda update: None)
        self._jobs: Any = jobs_of(client, sweep.api)
        self._running: dict[str, _Running] = {}
        try:
            self.study = optuna.create_study(
                storage=sweep.storage,
                sampler=sweep.sampler,
                pruner=sweep.pruner
                or optuna.pruners.MedianPruner(n_startup_trials=max(4, sweep.parallel)),
                study_name=sweep.study_name,
                direction=sweep.direction,
                load_if_exists=sweep.resume,
            )
        except Exception as exc:  # noqa: BLE001 (any storage backend's error: SQLAlchemy, ...)
            # Said without the URL's credentials, which a database error may quote.
            said = re.sub(r"://[^/@\s]+@", "://***@", str(exc).splitlines()[0][:200])
            raise ConfigurationError(
                f"the sweep's storage cannot be opened: {type(exc).__name__}: {said}"
            ) from None
        # Counted here rather than read from the storage after every event.
        self._asked = len(self.study.get_trials(deepcopy=False))
        #: What makes this study's suffixes its own (another study's trial 3 is another job).
        self._tag = hashlib.sha256(sweep.study_name.encode()).hexdigest()[:6]

    async def run(self) -> SweepResult:
        """Run the sweep until the study has ``trials`` finished trials; its result.

        Cancelled (Ctrl-C), it stops asking and following: the jobs keep running on the
        service, and a later run on the same storage re-attaches them by id.
        """
        await self._reattach()
        async with (
            self._jobs.watcher(
                list(self._running), config=self._watch, close_when_done=False
            ) as watcher,
            watcher.subscribe(progress=True) as events,
        ):
            await self._fill(watcher)
            if self._running:
                async for event in events:
                    await self._handle(event, watcher)
                    await self._fill(watcher)
                    if not self._running:
                        break
        return result_of(self.study)

    # --- trials in and out ---------------------------------------------------------------------

    async def _reattach(self) -> None:
        """Follow again the jobs of trials a previous run left running."""
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            # Optuna has no public way to take a running trial up again: its storage id is
            # FrozenTrial._trial_id (kept stable through Optuna 5; the extra pins <6).
            trial = optuna.Trial(self.study, frozen._trial_id)
            job_id = frozen.user_attrs.get("job_id") or await self._made_before(frozen)
            if job_id is None:
                self._fail(trial, "interrupted before its job was created")
                continue
            trial.set_user_attr("job_id", job_id)
            last = max(frozen.intermediate_values, default=0)
            self._running[job_id] = _Running(trial, last)
            self._tell(trial, "running", job_id=job_id)

    async def _made_before(self, frozen: optuna.trial.FrozenTrial) -> str | None:
        """The job a trial interrupted mid-create made, if the service shows one.

        Found by the trial's suffix among fine-tuning jobs created since the trial began.
        """
        suffix = frozen.user_attrs.get("suffix")
        if self.sweep.api != "fine_tuning" or suffix is None or frozen.datetime_start is None:
            return None
        if not frozen.user_attrs.get("own_suffix"):
            return None  # the base's suffix: every trial shares it, the job cannot be told
        # Optuna keeps naive local times; the service's clock may differ from ours.
        started = frozen.datetime_start.astimezone(timezone.utc).timestamp()
        since = started + min(0.0, self.client._http.server_offset()) - 5
        page = await self._jobs.list(suffix=suffix, page_size=20)
        found = [job for job in page.data if (job.created_at or 0) >= since]
        if len(found) > 1:
            logger.warning("trial %d: %d jobs carry its suffix; none re-attached", frozen.number,
                           len(found))  # fmt: skip
            return None
        return found[0].id if found else None

    async def _fill(self, watcher: Any) -> None:
        """Launch trials while slots are free and the study wants more."""
        while len(self._running) < self.sweep.parallel and self._asked < self.sweep.trials:
            trial = self.study.ask(dict(self.sweep.space))
            self._asked += 1
            try:
                request = self.sweep.request(self.sweep.api, self.sweep.base, trial.params)
            except Exception as exc:  # the user's function: its error says what to fix
                self._fail(trial, f"request function failed: {exc!r}")
                raise
            if self.sweep.api == "fine_tuning" and not request.get("suffix"):
                # Fine-tuning's suffix is what finds this trial's job if the run stops
                # between the create and recording its id (max 18 characters).
                request["suffix"] = f"t{trial.number}-{self._tag}"
                trial.set_user_attr("own_suffix", True)
            if request.get("suffix"):
                trial.set_user_attr("suffix", request["suffix"])
            try:
                job = await self._jobs.create(**request, auto_start=True)
            except _FATAL:
                # Left running: a resume looks for the job the create may have made.
                raise
            except TypeError as exc:
                self._fail(trial, f"not a create parameter: {exc}")
                raise ConfigurationError(f"the sweep's request is not a create's: {exc}") from None
            except MistralJobsError as exc:
                self._fail(trial, f"create refused: {exc}")
                continue
            trial.set_user_attr("job_id", job.id)
            planned = getattr(job.hyperparameters, "training_steps", None)
            if planned:
                trial.set_user_attr("planned_steps", planned)
            self._running[job.id] = _Running(trial)
            watcher.add(job.id)
            self._tell(trial, "running", job_id=job.id)

    async def _handle(self, event: WatchEvent[Any], watcher: Any) -> None:
        running = self._running.get(event.job_id)
        if running is None:
            return
        if isinstance(event, CheckpointReported):
            await self._checkpoint(event, running, watcher)
        elif isinstance(event, Transition) and event.terminal:
            del self._running[event.job_id]
            watcher.remove([event.job_id])
            await self._ended(event.job_id, event.status, running)
        elif isinstance(event, JobVanished):
            del self._running[event.job_id]
            self._fail(running.trial, "its job vanished from the service", job_id=event.job_id)

    async def _checkpoint(self, event: CheckpointReported, running: _Running, watcher: Any) -> None:
        value = event.valid_loss if event.valid_loss is not None else event.train_loss
        if value is None or event.step <= running.last_step:
            return
        trial = running.trial
        trial.report(value, event.step)
        running.last_step = event.step
        trial.set_user_attr("steps_run", event.step)
        if not trial.should_prune():
            self._tell(trial, "reported", job_id=event.job_id, value=value, step=event.step)
            return
        del self._running[event.job_id]
        watcher.remove([event.job_id])
        try:
            await self._jobs.cancel(event.job_id)
        except _FATAL:
            raise
        except MistralJobsError as exc:  # it ended meanwhile (409), or the service refused
            trial.set_user_attr("reason", f"pruned, but its job was not cancelled: {exc}")
            logger.warning("pruned trial %d: its job was not cancelled: %s", trial.number, exc)
        self.study.tell(trial, state=TrialState.PRUNED)
        self._tell(trial, "pruned", job_id=event.job_id, value=value, step=event.step)

    async def _ended(self, job_id: str, status: str, running: _Running) -> None:
        trial = running.trial
        try:
            job = await self._jobs.get(job_id)
        except _FATAL:
            raise  # the trial stays running in the study: a resume reads its job again
        except MistralJobsError as exc:
            self._fail(trial, f"{status}, and its job could not be read: {exc}", job_id=job_id)
            return
        if status != "SUCCESS":
            errors = [
                str(e.data["error"]) for e in job.events or [] if e.data and "error" in e.data
            ]
            self._fail(trial, status + (f": {errors[-1]}" if errors else ""), job_id=job_id)
            return
        value = self.sweep.objective(job)
        planned = trial.user_attrs.get("planned_steps")
        trial.set_user_attr("steps_run", planned or running.last_step)
        model = getattr(job, "fine_tuned_model", None) or getattr(job, "output_model", None)
        if model:
            trial.set_user_attr("model", model)
        if value is None:
            self._fail(trial, "the job ended with no checkpoint to read the objective from")
            return
        self.study.tell(trial, value)
        self._tell(trial, "complete", job_id=job_id, value=value)

    def _fail(self, trial: optuna.Trial, reason: str, *, job_id: str | None = None) -> None:
        trial.set_user_attr("reason", reason)
        self.study.tell(trial, state=TrialState.FAIL)
        self._tell(trial, "failed", job_id=job_id, reason=reason)

    def _tell(self, trial: optuna.Trial, state: str, **more: Any) -> None:
        self._on_update(TrialUpdate(trial.number, state, dict(trial.params), **more))


async def run_sweep(
    client: AsyncClient,
    sweep: Sweep,
    *,
    watch: WatchConfig | None = None,
    on_update: Callable[[TrialUpdate], None] | None = None,
) -> SweepResult:
    """Run ``sweep`` with ``client`` to its end (see :class:`SweepRunner`); its result."""
    return await SweepRunner(client, sweep, watch=watch, on_update=on_update).run()
