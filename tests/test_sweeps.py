"""Sweeps on the emulator: Optuna finds the landscape's good region, prunes hopeless jobs by
cancelling them, resumes after an interruption without launching a job twice, and tells each
kind of ending as the right trial state."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any

import anyio
import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.emulator._landscape import FLOOR, START, valid_loss
from mistral_jobs_async.sweeps import Sweep, SweepRunner, TrialUpdate, run_sweep
from mistral_jobs_async.watcher import WatchConfig

from .conftest import BAD_JSONL, GOOD_JSONL

pytestmark = [pytest.mark.anyio, pytest.mark.mistral_emulator(speed=400.0, seed=3)]

#: Fast cadence for a sped-up emulator; the request rate is the watcher's budget under test.
WATCH = WatchConfig(fast_interval=0.05, base_interval=0.1, max_interval=0.5,
                    requests_per_second=60, max_in_flight=8)  # fmt: skip
SPACE = {
    "learning_rate": FloatDistribution(1e-6, 1e-2, log=True),
    "training_steps": IntDistribution(100, 500, step=100),
}


def _optimum() -> float:
    """The landscape's best objective over SPACE: the best learning rate at 500 steps."""
    return valid_loss(FLOOR + (START - FLOOR) * math.exp(-500 / 100))


class CountingBudget:
    """A client budget that counts what passes it (every attempt of every request)."""

    def __init__(self) -> None:
        self.acquired = 0
        self.limited = 0

    async def acquire(self) -> None:
        self.acquired += 1

    async def rate_limited(self, retry_after: float | None) -> None:
        self.limited += 1


async def _file(client: AsyncClient, content: bytes = GOOD_JSONL) -> str:
    return (await client.files.upload(io.BytesIO(content), filename="train.jsonl")).id


def _sweep(file_id: str, **more: Any) -> Sweep:
    fields: dict[str, Any] = {
        "base": {"model": "open-mistral-7b", "training_files": [file_id]},
        "space": SPACE,
        "trials": 24,
        "parallel": 4,
        "sampler": optuna.samplers.TPESampler(seed=7),
        "pruner": optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=30),
        **more,
    }
    return Sweep(**fields)


#: The updates that end a trial.
ENDINGS = ("complete", "pruned", "failed")
#: The trials whose file fails validation in the endings test.
BAD_TRIALS = (1, 4)


def _creates(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path == "/v1/fine_tuning/jobs")


async def test_a_sweep_finds_the_good_region_and_prunes_the_hopeless(emu: Emulator) -> None:
    """24 trials, 4 at a time, over learning rate and steps: the best is within 0.15 of the
    landscape's optimum; at least a third are pruned (their jobs cancelled); each trial made
    one job and every request went through the client's budget, the polls within the
    watcher's rate."""
    budget = CountingBudget()
    async with AsyncClient("key", base_url=emu.url, budget=budget) as client:
        file_id = await _file(client)
        started = time.monotonic()
        result = await run_sweep(client, _sweep(file_id), watch=WATCH)
        elapsed = time.monotonic() - started
        jobs = [job async for job in client.fine_tuning.jobs.list()]
    counts = result.counts()
    assert sum(counts.values()) == 24
    assert counts.get("pruned", 0) >= 8, counts
    best = result.best
    assert best is not None
    assert best.value is not None
    assert best.value <= _optimum() + 0.15, (best, _optimum())
    assert result.steps_saved > 0
    assert result.steps_saved < result.steps_planned
    job_ids = [r.job_id for r in result.rows]
    assert len(set(job_ids)) == 24
    assert _creates(emu) == 24 == len(jobs)
    pruned = {r.job_id or "" for r in result.rows if r.state == "pruned"}
    statuses = {job.id: job.status for job in jobs}
    assert all(statuses[j] in ("CANCELLED", "CANCELLATION_REQUESTED", "SUCCESS") for j in pruned)
    assert sum(statuses[j] != "SUCCESS" for j in pruned) >= len(pruned) // 2
    assert budget.acquired == len(emu.requests)
    polls = sum(1 for r in emu.requests if r.method == "GET" and "/jobs" in r.path)
    assert polls <= WATCH.requests_per_second * (elapsed + 1)


async def test_an_interrupted_sweep_resumes_without_a_second_job(
    emu: Emulator, client: AsyncClient, tmp_path: Path
) -> None:
    """Cancelled halfway (Ctrl-C), then run again on the same SQLite storage: the study ends
    with its 24 trials, the jobs left running are followed to their end, none made twice."""
    storage = f"sqlite:///{tmp_path / 'sweep.db'}"
    file_id = await _file(client)
    seen: list[TrialUpdate] = []

    with anyio.move_on_after(60) as scope:

        def stop_halfway(update: TrialUpdate) -> None:
            seen.append(update)
            if sum(u.state in ENDINGS for u in seen) >= 10:
                scope.cancel()

        await run_sweep(client, _sweep(file_id, storage=storage), watch=WATCH,
                        on_update=stop_halfway)  # fmt: skip
    assert scope.cancel_called
    left_running = {u.job_id for u in seen if u.state == "running"} - {
        u.job_id for u in seen if u.state in ENDINGS
    }
    assert left_running
    runner = SweepRunner(client, _sweep(file_id, storage=storage), watch=WATCH)
    assert len(runner.study.trials) < 24
    result = await runner.run()
    assert sum(result.counts().values()) == 24
    assert "running" not in result.counts()
    job_ids = [r.job_id for r in result.rows]
    assert len(set(job_ids)) == 24
    assert _creates(emu) == 24
    finished = {r.job_id for r in result.rows if r.state in ("complete", "pruned")}
    assert left_running <= finished | {r.job_id for r in result.rows if r.state == "failed"}


@pytest.mark.mistral_emulator(speed=400.0, seed=5)
async def test_each_kind_of_ending_is_the_right_trial_state(
    emu: Emulator, client: AsyncClient
) -> None:
    """A trial on a file that fails validation and a job cancelled by someone else end as
    failed trials with the reason; a 429 storm on the polls only slows the sweep down."""
    good, bad = await _file(client), await _file(client, BAD_JSONL)

    calls: list[int] = []

    def request(api: str, base: Any, params: Any) -> dict[str, Any]:
        calls.append(len(calls))  # trials are asked one at a time: call n is trial n
        files = [bad] if len(calls) - 1 in BAD_TRIALS else [good]
        return {"model": "open-mistral-7b", "training_files": files,
                "hyperparameters": dict(params)}  # fmt: skip

    cancelled: list[str] = []
    launched = anyio.Event()

    def on_update(update: TrialUpdate) -> None:
        if update.state == "running" and update.number == 2 and update.job_id:
            cancelled.append(update.job_id)
            launched.set()

    sweep = _sweep(good, trials=8, parallel=4, request=request,
                   pruner=optuna.pruners.NopPruner(),
                   sampler=optuna.samplers.RandomSampler(seed=1))  # fmt: skip
    emu.inject(Fault.http(429, method="GET", times=6, retry_after=0.2))
    runner = SweepRunner(client, sweep, watch=WATCH, on_update=on_update)

    async def cancel_one() -> None:
        await launched.wait()
        await client.fine_tuning.jobs.cancel(cancelled[0])

    async with anyio.create_task_group() as group:
        group.start_soon(cancel_one)
        result = await runner.run()
        group.cancel_scope.cancel()  # if trial 2 never ran, the asserts below say so
    rows = {r.number: r for r in result.rows}
    assert rows[2].state == "failed"
    assert rows[2].reason is not None
    assert rows[2].reason.startswith("CANCELLED")
    for row in (rows[n] for n in BAD_TRIALS):
        assert row.state == "failed"
        assert row.reason is not None
        assert row.reason.startswith("FAILED_VALIDATION: train.jsonl: line 1")
    assert sum(1 for r in emu.requests if r.status == 429) == 6
    others = [r for r in result.rows if r.number not in (2, *BAD_TRIALS)]
    assert {r.state for r in others} == {"complete"}
    assert sum(result.counts().values()) == 8


def test_results_and_plots(tmp_path: Path) -> None:
    """A finished study's rows, best trial, steps saved and plots, without any service."""
    from mistral_jobs_async.sweeps._result import result_of

    study = optuna.create_study()
    for number, (rate, value, state) in enumerate(
        [(1e-4, 0.7, "complete"), (1e-2, None, "pruned"), (1e-5, 1.2, "complete")]
    ):
        trial = study.ask({"learning_rate": FloatDistribution(1e-6, 1e-2, log=True)})
        assert trial.number == number
        trial.set_user_attr("job_id", f"job-{number}")
        trial.set_user_attr("planned_steps", 300)
        for step in (30, 60):
            trial.report(2.0 - step / 100 - (rate == 1e-4), step)
        trial.set_user_attr("steps_run", 60 if state == "pruned" else 300)
        if state == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
    result = result_of(study)
    assert result.best is not None
    assert result.best.value == 0.7
    assert (result.steps_planned, result.steps_saved) == (900, 240)
    assert json.loads(json.dumps(result.rows[0].record()))["job_id"] == "job-0"
    written = result.save_plots(tmp_path / "plots")
    assert [p.name for p in written] == ["objective.png", "loss_curves.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written)


CONFIG = """
trials = 6
parallel = 3
seed = 3
[base]
model = "open-mistral-7b"
training_files = ["{file_id}"]
[space]
learning_rate = {{ type = "float", low = 1e-6, high = 1e-2, log = true }}
training_steps = {{ type = "int", low = 100, high = 300, step = 100 }}
[pruner]
type = "median"
n_startup_trials = 2
"""


@pytest.fixture
def cli_file(mistral_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A training file uploaded through the CLI (whose key the environment holds)."""
    from .test_cli_watch import KEY, cli

    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    source = tmp_path / "train.jsonl"
    source.write_bytes(GOOD_JSONL)
    uploaded = cli(mistral_emulator, "files", "upload", str(source), "--json")
    file_id: str = uploaded.json_lines()[0]["id"]
    return file_id


def test_cli_sweep_runs_a_config_and_resumes_it(
    mistral_emulator: Emulator, tmp_path: Path, cli_file: str
) -> None:
    """mistral-jobs sweep CONFIG.toml: a JSON line per trial update, a row per trial, a
    summary; plots on request; run again, the finished study launches nothing more. A config
    with a typo is exit 2 naming it."""
    from .test_cli_watch import cli

    emu, file_id = mistral_emulator, cli_file
    config = tmp_path / "lr.toml"
    config.write_text(CONFIG.format(file_id=file_id), encoding="utf-8")
    done = cli(emu, "sweep", str(config), "--json", "--plots", str(tmp_path / "plots"))
    assert done.code == 0, done.err
    records = done.json_lines()
    rows = [r for r in records if r["event"] == "row"]
    (summary,) = [r for r in records if r["event"] == "summary"]
    assert len(rows) == 6
    assert {"learning_rate", "training_steps", "objective", "job_id"} <= set(rows[0])
    assert summary["best"]["objective"] == min(r["objective"] for r in rows if r["objective"])
    assert (tmp_path / "lr.db").exists()
    assert (tmp_path / "plots" / "loss_curves.png").exists()
    again = cli(emu, "sweep", str(config))
    assert again.code == 0, again.err
    assert "best: trial" in again.out
    assert _creates(emu) == 6
    config.write_text("trails = 3\n" + CONFIG.format(file_id=file_id), encoding="utf-8")
    typo = cli(emu, "sweep", str(config))
    assert typo.code == 2
    assert "unknown key(s) trails" in typo.err


def test_cli_sweep_draws_a_live_table_on_a_terminal(
    mistral_emulator: Emulator, tmp_path: Path, cli_file: str
) -> None:
    """On a terminal the sweep is a live table of its trials (state, values, step, loss),
    then the same summary as in a pipe."""
    from .test_cli_watch import FakeTTY, cli

    config = tmp_path / "live.toml"
    config.write_text(CONFIG.format(file_id=cli_file).replace("trials = 6", "trials = 3"),
                      encoding="utf-8")  # fmt: skip
    done = cli(mistral_emulator, "sweep", str(config), stdout=FakeTTY())
    assert done.code == 0, done.err
    text = done.out
    for column in ("trial", "state", "learning_rate", "training_steps", "step", "loss"):
        assert column in text
    assert "3/3 trials ended" in text
    assert "best: trial" in text


async def test_a_forge_sweep_searches_batch_size_too(emu: Emulator, client: AsyncClient) -> None:
    """Forge trials: learning rate and batch size go into the Forge hyperparameters; the
    jobs' output models are recorded; the best batch size found is the landscape's."""
    sweep = Sweep(
        api="forge",
        base={"job_type": "supervised_fine_tuning",
              "model_config": {"base_model": "mistral-small-latest"},
              "hyperparameters": {"training_steps": 300}},
        space={"batch_size": optuna.distributions.CategoricalDistribution([8, 32, 128]),
               "learning_rate": FloatDistribution(1e-4, 1e-3, log=True)},
        trials=8, parallel=4, sampler=optuna.samplers.TPESampler(seed=2),
        pruner=optuna.pruners.NopPruner(),
    )  # fmt: skip
    result = await run_sweep(client, sweep, watch=WATCH)
    assert result.counts() == {"complete": 8}
    assert all(r.model and r.model.startswith("forge:") for r in result.rows)
    assert all(r.planned_steps == 300 for r in result.rows)
    best = result.best
    assert best is not None
    assert best.params["batch_size"] == 32
    forge_jobs = [job async for job in client.forge.jobs.list()]
    assert {job.hyperparameters.batch_size for job in forge_jobs if job.hyperparameters} <= {
        8,
        32,
        128,
    }


def test_a_sweep_is_checked_before_it_spends_anything(tmp_path: Path) -> None:
    """A searched name that is no parameter, an unknown direction, a storage that cannot be
    opened: ConfigurationError before any job. Its repr shows no secret, and a Hyperparameters
    struct in the base is merged like a mapping."""
    from mistral_jobs_async import ConfigurationError
    from mistral_jobs_async.models import Hyperparameters
    from mistral_jobs_async.sweeps import default_request
    from mistral_jobs_async.sweeps._result import TrialRow

    lr = {"learning_rate": FloatDistribution(1e-5, 1e-3, log=True)}
    base = {"model": "m", "training_files": ["f"],
            "integrations": [{"project": "p", "api_key": "wandb-secret-key"}]}  # fmt: skip
    with pytest.raises(ConfigurationError, match="batch_size is neither a fine_tuning"):
        Sweep(base=base, space={"batch_size": IntDistribution(8, 64)})
    with pytest.raises(ConfigurationError, match="direction"):
        Sweep(base=base, space=lr, direction="up")  # type: ignore[arg-type]
    sweep = Sweep(base=base, space=lr, storage="postgresql://user:db-password@127.0.0.1:1/x")
    assert "wandb-secret-key" not in repr(sweep)
    assert "db-password" not in repr(sweep)
    with pytest.raises(ConfigurationError, match="storage cannot be opened") as caught:
        SweepRunner(AsyncClient("k", base_url="http://127.0.0.1:9"), sweep)
    assert "db-password" not in str(caught.value)
    merged = default_request(
        "fine_tuning", {"hyperparameters": Hyperparameters(training_steps=100)},
        {"learning_rate": 1e-4, "suffix": "s"},
    )  # fmt: skip
    assert merged == {"hyperparameters": {"training_steps": 100, "learning_rate": 1e-4},
                      "suffix": "s"}  # fmt: skip
    row = TrialRow(0, "complete", {"model": "a"}, 1.0, 10, 10, "j", "ft:a", None)
    assert row.record()["params.model"] == "a"
    assert row.record()["model"] == "ft:a"
    update = TrialUpdate(0, "running", {"step": 3})
    assert (update.record()["params.step"], update.record()["step"]) == (3, None)


def test_plots_of_a_value_every_trial_took_alike(tmp_path: Path) -> None:
    """A searched value that came out the same in every trial still plots, without a warning.

    (Its slice plot's axis is a single point; matplotlib widens it with a UserWarning, which
    made the CLI's --plots fail under warnings-as-errors whenever the sampler repeated itself.)
    """
    from optuna.distributions import CategoricalDistribution

    from mistral_jobs_async.sweeps._result import result_of

    study = optuna.create_study()
    space = {
        "training_steps": CategoricalDistribution([100]),
        "learning_rate": FloatDistribution(1e-5, 1e-3, log=True),
    }
    for loss in (1.0, 2.0):
        trial = study.ask(space)
        trial.report(loss, 1)
        study.tell(trial, loss)
    written = result_of(study).save_plots(tmp_path)
    assert [path.name for path in written] == ["objective.png", "loss_curves.png"]
    assert all(path.stat().st_size > 1000 for path in written)
