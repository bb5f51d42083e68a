"""The client's request models and the emulator's own strict copies agree on their fields
and bounds, except for the differences listed here (each with its reason).

The emulator keeps its copies on purpose: an independent check of what the client sends. A
field added to one side only, or a bound changed on one side only, fails this test until it
is made on both or listed below.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mistral_jobs_async.emulator import _schemas as emulator
from mistral_jobs_async.models import (
    ClassifierTarget,
    CreateFineTuningJobRequest,
    CreateForgeJobRequest,
    ForgeHyperparameters,
    ForgeModelConfig,
    GithubRepository,
    Hyperparameters,
    TrainingFile,
    WandbIntegration,
)

PAIRS: list[tuple[type[Any], type[Any]]] = [
    (TrainingFile, emulator.TrainingFileIn),
    (Hyperparameters, emulator.HyperparametersIn),
    (WandbIntegration, emulator.IntegrationIn),
    (GithubRepository, emulator.RepositoryIn),
    (ClassifierTarget, emulator.ClassifierTargetIn),
    (CreateFineTuningJobRequest, emulator.FineTuningJobIn),
    (ForgeModelConfig, emulator.ModelConfigIn),
    (ForgeHyperparameters, emulator.ForgeHyperparametersIn),
    (CreateForgeJobRequest, emulator.TrainingJobIn),
]

#: (client model, field): why the two sides differ there.
DIFFERENCES = {
    ("GithubRepository", "commit_id"): "answer-only: the client model also decodes jobs, "
    "and refuses it in a request",
    ("GithubRepository", "token"): "answers have none: the client requires it in a request "
    "(models.requests), not in the model",
    ("Hyperparameters", "training_steps"): "the emulator refuses over a million steps (its "
    "own limit; the spec sets none)",
    ("ForgeHyperparameters", "training_steps"): "the same limit of the emulator's",
}

_BOUNDS = ("ge", "gt", "le", "lt", "min_length", "max_length")


def _bounds(info: msgspec.inspect.Type) -> dict[str, Any]:
    """The bounds of a field's type, looking through Optional and into list items."""
    if isinstance(info, msgspec.inspect.UnionType):
        found: dict[str, Any] = {}
        for member in info.types:
            found.update(_bounds(member))
        return found
    if isinstance(info, msgspec.inspect.ListType):
        own = {k: getattr(info, k) for k in ("min_length", "max_length") if getattr(info, k)}
        return own | {f"item.{k}": v for k, v in _bounds(info.item_type).items()}
    return {k: getattr(info, k) for k in _BOUNDS if getattr(info, k, None) is not None}


def _shape(model: type[Any]) -> dict[str, dict[str, Any]]:
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: _bounds(f.type) for f in info.fields}


@pytest.mark.parametrize(("client", "server"), PAIRS, ids=[c.__name__ for c, _ in PAIRS])
def test_the_client_and_the_emulator_agree_on_fields_and_bounds(
    client: type[Any], server: type[Any]
) -> None:
    mine, theirs = _shape(client), _shape(server)
    for field in sorted(set(mine) | set(theirs)):
        if (client.__name__, field) in DIFFERENCES:
            assert mine.get(field) != theirs.get(field), f"{field}: no longer differs: unlist it"
            continue
        assert field in mine, f"{client.__name__} lacks {field}"
        assert field in theirs, f"the emulator's {server.__name__} lacks {field}"
        assert mine[field] == theirs[field], f"{client.__name__}.{field}"
