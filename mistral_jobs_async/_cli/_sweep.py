"""``sweep CONFIG.toml``: a hyperparameter sweep (the ``sweep`` extra), line by line or JSON."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE, CliError
from mistral_jobs_async._cli._output import Output, cell

if TYPE_CHECKING:
    from mistral_jobs_async.sweeps import SweepResult, TrialUpdate

__all__ = ["add_sweep_command", "run_sweep_command"]

_EXAMPLES = """\
examples:
  mistral-jobs sweep lr.toml                      # resumes the study if lr.db already has it
  mistral-jobs sweep lr.toml --plots plots/ --json
the config (TOML):
  api = "fine_tuning"
  trials = 24
  parallel = 4
  [base]
  model = "open-mistral-7b"
  training_files = ["FILE_ID"]
  [space]
  learning_rate = { type = "float", low = 1e-6, high = 1e-2, log = true }
  training_steps = { type = "int", low = 100, high = 500, step = 100 }
  [pruner]
  type = "median"
"""


def add_sweep_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``sweep`` command."""
    sweep = commands.add_parser(
        "sweep",
        help="a hyperparameter sweep: a job per trial, the hopeless ones cancelled early",
        description="Run the Optuna study CONFIG.toml describes: each trial a training job, "
        "PARALLEL at a time, each checkpoint reported to the pruner, whose rejects are "
        "cancelled. The study lives in a SQLite file (or --storage): run the same command "
        "again to continue an interrupted sweep; its running jobs are followed again, none "
        "is launched twice. Needs the sweep extra.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("config", metavar="CONFIG.toml")
    sweep.add_argument("--storage", metavar="URL", help="an Optuna storage URL (default: the "
                       "config's storage, else a SQLite file beside it)")  # fmt: skip
    sweep.add_argument("--plots", metavar="DIR", help="write objective.png and loss_curves.png")
    sweep.add_argument("--json", action="store_true", help="one JSON object per line")


async def run_sweep_command(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Run the sweep; exit 1 if no trial completed."""
    try:
        from mistral_jobs_async.sweeps import load_sweep, run_sweep  # noqa: PLC0415 (extra)
    except ModuleNotFoundError as missing:  # the package's message names the extra
        raise CliError(str(missing), code=EXIT_USAGE) from None
    sweep = load_sweep(args.config, storage=args.storage)
    console = out.console()
    if console is None:

        def show(update: TrialUpdate) -> None:
            if out.json:
                out.emit({"event": "trial", **update.record()})
            elif update.state != "reported":
                out.line(_update_line(update))

        result = await run_sweep(client, sweep, on_update=show)
    else:
        from mistral_jobs_async._live import WatchView  # noqa: PLC0415 (rich: the cli extra)

        board = _Board(list(sweep.space))
        columns = ("trial", "state", *sweep.space, "step", "loss", "job")
        with WatchView(console, f"sweep {sweep.study_name}", columns) as view:

            def draw(update: TrialUpdate) -> None:
                board.apply(update)
                view.show(board.rows(), board.footer(sweep.trials))

            result = await run_sweep(client, sweep, on_update=draw)
    _summary(result, out)
    if args.plots:
        written = result.save_plots(args.plots)
        out.note("plots: " + ", ".join(str(p) for p in written))
    return EXIT_OK if result.best is not None else EXIT_JOB_FAILED


class _Board:
    """The live view's rows: each trial's latest state, values, step and loss."""

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._trials: dict[int, TrialUpdate] = {}
        self._last: dict[int, tuple[int | None, float | None]] = {}

    def apply(self, update: TrialUpdate) -> None:
        self._trials[update.number] = update
        if update.step is not None or update.value is not None:
            self._last[update.number] = (update.step, update.value)

    def rows(self) -> list[list[str]]:
        rows = []
        for number, update in sorted(self._trials.items()):
            step, value = self._last.get(number, (None, None))
            state = "running" if update.state == "reported" else update.state
            values = [cell(update.params.get(name)) for name in self._names]
            rows.append([str(number), state, *values, str(step or "-"), cell(value),
                         update.reason or update.job_id or ""])  # fmt: skip
        return rows

    def footer(self, planned: int) -> str:
        states = [u.state for u in self._trials.values()]
        ended = sum(1 for s in states if s in ("complete", "pruned", "failed"))
        return f"{ended}/{planned} trials ended, {states.count('pruned')} pruned"


def _update_line(update: TrialUpdate) -> str:
    params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in update.params.items())  # fmt: skip
    line = f"trial {update.number:>3}  {update.state:<8}  {params}"
    if update.state == "pruned":
        line += f"  at step {update.step} (loss {update.value:.4g}): job cancelled"
    elif update.state == "complete":
        line += f"  objective {update.value:.4g}"
    elif update.state == "failed":
        line += f"  ({update.reason})"
    return line + (f"  job {update.job_id}" if update.job_id else "")


def _summary(result: SweepResult, out: Output) -> None:
    best = result.best
    counts = result.counts()
    if out.json:
        for row in result.rows:
            out.emit({"event": "row", **row.record()})
        out.emit({
            "event": "summary", "trials": counts, "best": best.record() if best else None,
            "steps_planned": result.steps_planned, "steps_saved": result.steps_saved,
        })  # fmt: skip
        return
    rows = [row.record() for row in result.rows]
    names = list(result.rows[0].params) if result.rows else []
    out.table(rows, ("trial", "state", *names, "objective", "steps", "job_id", "model"))
    out.line(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if best is not None:
        out.line(f"best: trial {best.number}, objective {best.value:.4g}, {best.params}")
    if result.steps_planned:
        share = 100 * result.steps_saved / result.steps_planned
        out.line(
            f"early stopping saved {result.steps_saved} of {result.steps_planned} training "
            f"steps ({share:.0f}%)"
        )
