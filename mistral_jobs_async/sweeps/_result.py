"""What a sweep found: a row per trial, the best one, the steps early stopping saved, plots."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

__all__ = ["SweepResult", "TrialRow", "flat_record", "result_of"]

_STATES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


def flat_record(
    head: dict[str, Any], params: dict[str, Any], tail: dict[str, Any]
) -> dict[str, Any]:
    """A trial's record: ``head``, its searched values, then ``tail``.

    A value whose name the record uses for itself (a search over ``model``) is kept apart as
    ``params.<name>``.
    """
    taken = head.keys() | tail.keys()
    flat = {(f"params.{k}" if k in taken else k): v for k, v in params.items()}
    return {**head, **flat, **tail}


@dataclass(frozen=True)
class TrialRow:
    """One trial: its values, how it ended, its objective, its job and model."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    steps_run: int | None
    planned_steps: int | None
    job_id: str | None
    model: str | None
    reason: str | None

    def record(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (``params`` flattened into it)."""
        return flat_record(
            {"trial": self.number, "state": self.state}, self.params,
            {"objective": self.value, "steps": self.steps_run,
             "planned_steps": self.planned_steps, "job_id": self.job_id, "model": self.model,
             "reason": self.reason},
        )  # fmt: skip


@dataclass(frozen=True)
class SweepResult:
    """The study and its trials as rows, with the training steps early stopping saved."""

    study: optuna.Study
    rows: list[TrialRow]

    @property
    def best(self) -> TrialRow | None:
        """The complete trial with the best objective (None if none completed)."""
        complete = [r for r in self.rows if r.state == "complete" and r.value is not None]
        if not complete:
            return None
        pick = min if self.study.direction == optuna.study.StudyDirection.MINIMIZE else max
        return pick(complete, key=lambda r: r.value if r.value is not None else 0.0)

    @property
    def steps_planned(self) -> int:
        """Training steps every launched trial would have run to its end."""
        return sum(r.planned_steps or 0 for r in self.rows if r.job_id)

    @property
    def steps_saved(self) -> int:
        """Training steps not run because the pruner stopped their jobs early."""
        return sum(
            max(0, (r.planned_steps or 0) - (r.steps_run or 0))
            for r in self.rows
            if r.state == "pruned"
        )

    def counts(self) -> dict[str, int]:
        """Trials by how they ended."""
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.state] = found.get(row.state, 0) + 1
        return found

    def save_plots(self, directory: str | Path) -> list[Path]:
        """PNG plots in ``directory``: ``objective.png`` and ``loss_curves.png``.

        The objective against each searched value (Optuna's slice plot) and each trial's loss
        curve (its intermediate values).
        """
        # Whatever backend is in use draws to files too: none is forced on the process (a
        # notebook keeps its own); headless, matplotlib picks Agg by itself.
        from optuna.visualization import matplotlib as plots  # noqa: PLC0415 (the extra)

        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        drawn = (("objective.png", plots.plot_slice),
                 ("loss_curves.png", plots.plot_intermediate_values))  # fmt: skip
        # Optuna marks its matplotlib plots experimental: not the caller's to act on. A value
        # every trial took alike (a choice sampled the same each time) makes its slice plot's
        # axis a point, which matplotlib widens itself, with a warning of its own.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings(
                "ignore", "Attempting to set identical low and high xlims", UserWarning
            )
            return [self._plot(folder, name, draw) for name, draw in drawn]

    def _plot(self, folder: Path, name: str, draw: Any) -> Path:
        """One of Optuna's matplotlib plots of the study, as ``folder / name``."""
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415

        axes = draw(self.study)
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        assert isinstance(figure, Figure)
        figure.set_size_inches(max(10.0, figure.get_figwidth()), 5)
        figure.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(figure)
        return folder / name


def result_of(study: optuna.Study) -> SweepResult:
    """The rows of a study's trials, in order."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        rows.append(
            TrialRow(
                number=trial.number,
                state=_STATES.get(trial.state, trial.state.name.lower()),
                params=dict(trial.params),
                value=trial.value if trial.state == TrialState.COMPLETE else None,
                steps_run=attrs.get("steps_run"),
                planned_steps=attrs.get("planned_steps"),
                job_id=attrs.get("job_id"),
                model=attrs.get("model"),
                reason=attrs.get("reason"),
            )
        )
    return SweepResult(study, rows)
