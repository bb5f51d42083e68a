"""Hyperparameter sweeps whose trials are training jobs, on Optuna (the ``sweep`` extra).

``run_sweep(client, Sweep(base=..., space=...))`` asks Optuna for trials as slots free,
launches a job per trial, follows them all with one watcher (one request budget), reports
each checkpoint to Optuna as an intermediate value and cancels the jobs its pruner gives up
on. With a ``storage`` the sweep is resumable: a run interrupted (Ctrl-C, a crash) is
continued by the next, its running jobs re-attached by id, none launched twice.

Modules: ``_config`` (``Sweep``: the space, the base job, the defaults), ``_runner`` (the
loop), ``_result`` (rows, best trial, steps saved, plots), ``_toml`` (``load_sweep``: a sweep
from the CLI's TOML file).
"""

from __future__ import annotations

from mistral_jobs_async._extras import missing_extra

try:
    import optuna  # noqa: F401 (the extra's presence)
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the install
    raise missing_extra("sweeps", "Optuna", "sweep", missing) from None

from mistral_jobs_async.sweeps._config import Sweep, default_objective, default_request
from mistral_jobs_async.sweeps._result import SweepResult, TrialRow
from mistral_jobs_async.sweeps._runner import SweepRunner, TrialUpdate, run_sweep
from mistral_jobs_async.sweeps._toml import load_sweep

__all__ = [
    "Sweep",
    "SweepResult",
    "SweepRunner",
    "TrialRow",
    "TrialUpdate",
    "default_objective",
    "default_request",
    "load_sweep",
    "run_sweep",
]
