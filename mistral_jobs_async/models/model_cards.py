"""Models of the Models API: base and fine-tuned model cards (``/v1/models``)."""

from __future__ import annotations

import msgspec

__all__ = ["ArchivedModel", "DeletedModel", "ModelCapabilities", "ModelCard", "ModelCardList"]


class ModelCapabilities(msgspec.Struct, kw_only=True):
    """What a model can do; a capability the service adds later is ignored, not an error."""

    completion_chat: bool = False
    function_calling: bool = False
    completion_fim: bool = False
    fine_tuning: bool = False
    vision: bool = False
    classification: bool = False


class ModelCard(msgspec.Struct, kw_only=True):
    """A model card: ``type`` is ``"base"`` or ``"fine-tuned"`` (an open set).

    A fine-tuned card also has ``job`` (the job that made it), ``root`` (its base model) and
    ``archived``.
    """

    id: str
    type: str | None = None
    object: str | None = None
    created: int | None = None
    owned_by: str | None = None
    capabilities: ModelCapabilities = msgspec.field(default_factory=ModelCapabilities)
    name: str | None = None
    description: str | None = None
    max_context_length: int | None = None
    aliases: list[str] = msgspec.field(default_factory=list)
    deprecation: str | None = None
    default_model_temperature: float | None = None
    job: str | None = None
    root: str | None = None
    archived: bool | None = None

    @property
    def fine_tuned(self) -> bool:
        """Whether this is a fine-tuned model (a job made it)."""
        return self.type == "fine-tuned"


class ModelCardList(msgspec.Struct, kw_only=True):
    """The answer of ``GET /v1/models`` (one page: the endpoint does not paginate)."""

    data: list[ModelCard] = msgspec.field(default_factory=list)
    object: str | None = None


class DeletedModel(msgspec.Struct, kw_only=True):
    """The answer of ``DELETE /v1/models/{id}``."""

    id: str
    deleted: bool = True
    object: str | None = None


class ArchivedModel(msgspec.Struct, kw_only=True):
    """The answer of archive and unarchive: the model's id and whether it is archived now."""

    id: str
    archived: bool
    object: str | None = None
