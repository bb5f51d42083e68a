"""A sweep from a TOML file: what ``mistral-jobs sweep CONFIG.toml`` reads.

api = "fine_tuning"          # or "forge"
study = "lr-and-steps"       # the Optuna study's name
trials = 24
parallel = 4
direction = "minimize"
seed = 7                     # the sampler's (TPE) seed
storage = "sqlite:///lr.db"  # default: a SQLite file beside the config, <stem>.db

[base]                       # create's parameters, shared by every trial
model = "open-mistral-7b"
training_files = ["FILE_ID"]

[space]                      # float, int (with step, log) or categorical
learning_rate = { type = "float", low = 1e-6, high = 1e-2, log = true }
training_steps = { type = "int", low = 100, high = 500, step = 100 }

[pruner]                     # median (default), percentile, hyperband or none
type = "median"
n_startup_trials = 4
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async.sweeps._config import Sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the sweep extra brings tomli there
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = ["load_sweep"]

_KEYS = {"api", "study", "trials", "parallel", "direction", "seed", "storage", "base", "space",
         "pruner"}  # fmt: skip
_PRUNERS = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "none": optuna.pruners.NopPruner,
}


def load_sweep(path: str | Path, *, storage: str | None = None) -> Sweep:
    """The sweep a TOML file describes; ``ConfigurationError`` naming the file and the key."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{source}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not TOML: {exc}") from None
    where = str(source)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}")
    base = _table(data, "base", where)
    space = {name: _distribution(spec, f"{where}: space.{name}")
             for name, spec in _table(data, "space", where).items()}  # fmt: skip
    if not space:
        raise ConfigurationError(f"{where}: [space] names no hyperparameter to search")
    pruner = _pruner(_table(data, "pruner", where), where)
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigurationError(f"{where}: seed must be a whole number, not {seed!r}")
    sampler = optuna.samplers.TPESampler(seed=seed)
    try:
        return Sweep(
            base=base,
            space=space,
            api=data.get("api", "fine_tuning"),
            trials=int(data.get("trials", 20)),
            parallel=int(data.get("parallel", 4)),
            direction=data.get("direction", "minimize"),
            pruner=pruner,
            sampler=sampler,
            storage=storage or data.get("storage") or f"sqlite:///{source.with_suffix('.db')}",
            study_name=str(data.get("study", source.stem)),
        )
    except (ConfigurationError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: [{name}] must be a table")
    return table


def _distribution(spec: object, where: str) -> BaseDistribution:
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigurationError(f"{where}: give a table with a type (float, int, categorical)")
    kind = spec["type"]
    rest = {k: v for k, v in spec.items() if k != "type"}
    makers: dict[str, Any] = {
        "float": FloatDistribution,
        "int": IntDistribution,
        "categorical": CategoricalDistribution,
    }
    if kind not in makers:
        raise ConfigurationError(f"{where}: type must be float, int or categorical, not {kind!r}")
    try:
        distribution: BaseDistribution = makers[kind](**rest)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return distribution


def _pruner(spec: dict[str, Any], where: str) -> optuna.pruners.BasePruner:
    options = {k: v for k, v in spec.items() if k != "type"}
    kind = spec.get("type", "median")
    if kind not in _PRUNERS:
        names = ", ".join(_PRUNERS)
        raise ConfigurationError(f"{where}: pruner.type must be one of {names}, not {kind!r}")
    try:
        pruner: optuna.pruners.BasePruner = _PRUNERS[kind](**options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: pruner: {exc}") from None
    return pruner
