"""What a sweep is: the search space, the job every trial shares, how many, how many at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import optuna
from optuna.distributions import BaseDistribution

from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async._validation import to_payload
from mistral_jobs_async.models._common import JobBase
from mistral_jobs_async.models.fine_tuning import Hyperparameters
from mistral_jobs_async.models.forge import ForgeHyperparameters
from mistral_jobs_async.models.requests import CreateFineTuningJobRequest, CreateForgeJobRequest

__all__ = [
    "CREATE_PARAMETERS",
    "HYPERPARAMETERS",
    "Sweep",
    "default_objective",
    "default_request",
]

#: The hyperparameter names of each API: a searched name among them goes into the create
#: request's ``hyperparameters``; any other name is a create parameter of its own.
HYPERPARAMETERS = {
    "fine_tuning": frozenset(f.name for f in msgspec.structs.fields(Hyperparameters)),
    "forge": frozenset(f.name for f in msgspec.structs.fields(ForgeHyperparameters)),
}
#: The other create parameters a searched name may set (``default_request``).
CREATE_PARAMETERS = {
    "fine_tuning": frozenset(f.name for f in msgspec.structs.fields(CreateFineTuningJobRequest))
    - {"hyperparameters", "auto_start", "training_files"},
    "forge": frozenset(f.name for f in msgspec.structs.fields(CreateForgeJobRequest))
    - {"hyperparameters", "auto_start"},
}


def default_request(api: str, base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's create parameters: ``base`` with the trial's values.

    A searched hyperparameter goes into ``hyperparameters``; any other searched name is set as
    a create parameter of its own.
    """
    request = dict(base)
    hyper = dict(to_payload(request.get("hyperparameters")) or {})
    for name, value in params.items():
        if name in HYPERPARAMETERS[api]:
            hyper[name] = value
        else:
            request[name] = value
    if hyper:
        request["hyperparameters"] = hyper
    return request


def default_objective(job: JobBase) -> float | None:
    """The last checkpoint's ``valid_loss``, or its ``train_loss`` (None: no checkpoint)."""
    last = job.latest_checkpoint
    metrics = last.metrics if last is not None else None
    if metrics is None:
        return None
    return metrics.valid_loss if metrics.valid_loss is not None else metrics.train_loss


@dataclass
class Sweep:
    """A study whose trials are training jobs.

    ``space`` maps names to Optuna distributions; ``base`` holds the create parameters every
    trial shares (``model`` and ``training_files``, or Forge's ``job_type`` and
    ``model_config``). ``request(api, base, params)`` turns a trial's values into create
    parameters (default: ``default_request``); ``objective(job)`` reads the finished job
    (default: the last checkpoint's ``valid_loss``, else ``train_loss``). ``trials`` is the
    study's size (resumed trials count), ``parallel`` how many jobs run at once. ``storage``
    (an Optuna storage or its URL, e.g. ``sqlite:///sweep.db``) makes the sweep resumable.
    """

    #: Not in the repr: it may hold a W&B key or a GitHub token.
    base: Mapping[str, Any] = field(repr=False)
    space: Mapping[str, BaseDistribution]
    api: Literal["fine_tuning", "forge"] = "fine_tuning"
    trials: int = 20
    parallel: int = 4
    direction: Literal["minimize", "maximize"] = "minimize"
    request: Callable[[str, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]] = default_request
    objective: Callable[[Any], float | None] = default_objective
    pruner: optuna.pruners.BasePruner | None = None
    sampler: optuna.samplers.BaseSampler | None = None
    #: Not in the repr: a database URL may hold a password.
    storage: str | optuna.storages.BaseStorage | None = field(default=None, repr=False)
    study_name: str = "mistral-sweep"
    #: Passed to ``optuna.create_study``'s ``load_if_exists``: a study of the same name in
    #: ``storage`` is continued.
    resume: bool = True

    def __post_init__(self) -> None:
        if self.api not in HYPERPARAMETERS:
            raise ConfigurationError(f"api must be 'fine_tuning' or 'forge', not {self.api!r}")
        if self.trials < 1 or self.parallel < 1:
            raise ConfigurationError("trials and parallel must be at least 1")
        if self.direction not in ("minimize", "maximize"):
            raise ConfigurationError(
                f"direction must be 'minimize' or 'maximize', not {self.direction!r}"
            )
        for name, distribution in self.space.items():
            if not isinstance(distribution, BaseDistribution):
                raise ConfigurationError(
                    f"space[{name!r}] must be an Optuna distribution, not "
                    f"{type(distribution).__name__}"
                )
        if "auto_start" in self.base:
            raise ConfigurationError("base: a sweep starts its jobs itself (no auto_start)")
        if self.request is default_request:
            known = HYPERPARAMETERS[self.api] | CREATE_PARAMETERS[self.api]
            unknown = sorted(set(self.space) - known)
            if unknown:
                raise ConfigurationError(
                    f"space: {', '.join(unknown)} is neither a {self.api} hyperparameter nor a "
                    "create parameter (give request= to build the request yourself)"
                )
