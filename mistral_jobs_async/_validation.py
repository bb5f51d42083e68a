"""Request bodies with the spec's bounds, checked before any I/O.

The public models accept whatever the service sends back (forward compatibility); these
private mirrors carry the spec's constraints so that a bad parameter fails at once, with an
:class:`~mistral_jobs_async.InvalidRequestError` that names the field, instead of costing a
request (or a rate-limit token) to learn the same from a 400.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from mistral_jobs_async._exceptions import InvalidRequestError

__all__ = [
    "CreateFineTuningJob",
    "CreateTrainingJob",
    "check",
    "check_id",
    "check_list",
    "check_page",
    "check_text",
    "item_path",
    "to_payload",
]

T = TypeVar("T")

NonEmpty = Annotated[str, Meta(min_length=1)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
Positive = Annotated[int, Meta(ge=1)]


class _TrainingFile(Struct, omit_defaults=True, forbid_unknown_fields=True):
    file_id: NonEmpty
    weight: NonNegative = 1.0


class _Hyperparameters(Struct, omit_defaults=True, forbid_unknown_fields=True):
    training_steps: Positive | None = None
    learning_rate: NonNegative | None = None
    weight_decay: NonNegative | None = None
    warmup_fraction: Fraction | None = None
    epochs: NonNegative | None = None
    seq_len: Positive | None = None
    fim_ratio: Fraction | None = None


class _Integration(Struct, omit_defaults=True, forbid_unknown_fields=True):
    type: Literal["wandb"]
    project: str | None = None
    name: str | None = None
    api_key: str | None = None
    run_name: str | None = None
    url: str | None = None


class CreateFineTuningJob(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Body of a fine-tuning create, bounded as in the spec."""

    model: NonEmpty
    training_files: Annotated[list[_TrainingFile], Meta(min_length=1)]
    validation_files: list[NonEmpty] | None = None
    hyperparameters: _Hyperparameters | None = None
    suffix: Annotated[str, Meta(max_length=18)] | None = None
    auto_start: bool | None = None
    integrations: list[_Integration] | None = None
    job_type: str | None = None


class _ModelConfig(Struct, omit_defaults=True, forbid_unknown_fields=True):
    architecture: Literal["dense", "mixture_of_experts"] | None = None
    base_model: NonEmpty | None = None
    num_experts: Positive | None = None
    active_experts: Positive | None = None


class _ForgeHyperparameters(Struct, omit_defaults=True, forbid_unknown_fields=True):
    learning_rate: NonNegative | None = None
    training_steps: Positive | None = None
    batch_size: Positive | None = None
    weight_decay: NonNegative | None = None
    warmup_steps: Annotated[int, Meta(ge=0)] | None = None


class CreateTrainingJob(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Body of a Forge create, bounded as in the spec (plus the rules its text states)."""

    job_type: Literal[
        "pre_training", "supervised_fine_tuning", "dpo", "odpo", "reinforcement_learning"
    ]
    model_config: _ModelConfig
    dataset_ids: list[NonEmpty] | None = None
    hyperparameters: _ForgeHyperparameters | None = None
    auto_start: bool | None = None

    def __post_init__(self) -> None:
        config = self.model_config
        if self.job_type != "pre_training" and not config.base_model:
            raise InvalidRequestError(
                "model_config.base_model", f"is required for job_type {self.job_type!r}"
            )
        moe = config.architecture == "mixture_of_experts"
        for name in ("num_experts", "active_experts"):
            if getattr(config, name) is not None and not moe:
                raise InvalidRequestError(
                    f"model_config.{name}", "needs architecture='mixture_of_experts'"
                )
        if config.active_experts is not None and (
            config.num_experts is None or config.active_experts > config.num_experts
        ):
            raise InvalidRequestError(
                "model_config.active_experts",
                f"({config.active_experts}) cannot exceed num_experts ({config.num_experts})",
            )


_PATH = re.compile(r"at `\$\.?([^`]*)`")


def check(payload: dict[str, Any], model: type[T]) -> T:
    """Convert ``payload`` to ``model``, or raise InvalidRequestError naming the field."""
    try:
        return msgspec.convert(payload, model)
    except msgspec.ValidationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, InvalidRequestError):
            raise cause from None
        text = str(exc)
        match = _PATH.search(text)
        field = match.group(1) if match else "body"
        message = _PATH.sub("", text).rstrip(" -")
        raise InvalidRequestError(field or "body", message) from None


def item_path(collection: str, name: str, value: object) -> str:
    """``collection/<id>`` for a job or file id (see :func:`check_id`)."""
    return f"{collection}/{check_id(name, value)}"


def check_id(name: str, value: object) -> str:
    """A job or file id: a non-empty string that cannot change the URL's path."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(name, f"must be a non-empty string, not {value!r}")
    if not _ID.fullmatch(value):
        raise InvalidRequestError(name, f"{value!r} is not an id")
    return value


# Ids are UUIDs today; letters, digits, '-', '_' and inner '.' or ':' stay possible, but nothing
# that could change the URL's path ('/', '.', '..', '?', '#', '%').
_ID = re.compile(r"[A-Za-z0-9_-]+(?:[.:][A-Za-z0-9_-]+)*")


def check_text(name: str, value: object) -> str | None:
    """An optional string parameter (a list filter, a form field)."""
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(name, f"must be a string, not {type(value).__name__}")
    return value


def check_list(name: str, value: object) -> list[Any] | None:
    """An optional list parameter: a list or tuple (a lone string is a common slip)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidRequestError(name, f"must be a list, not {type(value).__name__}")
    return list(value)


def to_payload(value: object) -> Any:
    """A model given as a parameter, as plain JSON-ready values (mappings pass through)."""
    return msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value


def check_page(page: int, page_size: int) -> None:
    """Page bounds of the list endpoints: page >= 0, page_size in 1..100."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise InvalidRequestError("page", f"must be an integer >= 0, not {page!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise InvalidRequestError("page_size", f"must be an integer in 1..100, not {page_size!r}")
