"""Model cards: the base models offered for fine-tuning, and the fine-tuned ones.

An organisation gets a fine-tuned card when its job reaches SUCCESS; the card's id is the
job's ``fine_tuned_model``.

The endpoints and fields are the official SDK's (see the project's spec notes). What no public
fact says, the emulator decides, and ``docs/emulator.md`` lists it: base cards are seen by
every key and cannot be changed or deleted (400); ``provider`` filters by ``owned_by``;
``model`` by the card's id or its root.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec

from msgspec import UNSET, Struct, UnsetType

from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._schemas import encoder

__all__ = ["FINE_TUNABLE_MODELS", "ModelCards", "ModelUpdateIn"]

#: The base models the emulator offers for fine-tuning, after Mistral's fine-tuning docs, with
#: their context lengths. A dated version of a ``-latest`` name (``mistral-small-2409``) is
#: accepted too. ``Emulator(fine_tunable_models=...)`` replaces the table.
FINE_TUNABLE_MODELS: dict[str, int] = {
    "open-mistral-7b": 32_768,
    "open-mistral-nemo": 131_072,
    "mistral-small-latest": 131_072,
    "mistral-large-latest": 131_072,
    "codestral-latest": 32_768,
    "ministral-8b-latest": 131_072,
    "ministral-3b-latest": 131_072,
    "pixtral-12b-latest": 131_072,
}


class ModelUpdateIn(Struct):
    """Body of ``PATCH /v1/fine_tuning/models/{id}``."""

    name: str | None = None
    description: str | None = None


class _Capabilities(Struct):
    completion_chat: bool = True
    function_calling: bool = True
    completion_fim: bool = False
    fine_tuning: bool = False
    vision: bool = False
    classification: bool = False


class ModelCardOut(Struct, omit_defaults=True):
    """A model card; ``job``, ``root`` and ``archived`` only on fine-tuned ones."""

    id: str
    object: str
    created: int
    owned_by: str
    type: str
    capabilities: _Capabilities
    max_context_length: int
    name: str | None = None
    description: str | None = None
    aliases: list[str] = []
    job: str | UnsetType = UNSET
    root: str | UnsetType = UNSET
    archived: bool | UnsetType = UNSET


@dataclass
class _FineTuned:
    id: str
    key: str
    job: str
    root: str
    created: int
    owner: str
    classifier: bool
    context: int
    name: str | None = None
    description: str | None = None
    archived: bool = False
    aliases: list[str] = field(default_factory=list)

    def render(self) -> ModelCardOut:
        return ModelCardOut(
            id=self.id, object="model", created=self.created, owned_by=self.owner,
            type="fine-tuned", max_context_length=self.context, name=self.name,
            description=self.description, job=self.job, root=self.root, archived=self.archived,
            capabilities=_Capabilities(classification=self.classifier,
                                       completion_chat=not self.classifier),
        )  # fmt: skip


_P = ParamSpec("_P")


def _answering(
    method: Callable[Concatenate[ModelCards, _P], bytes],
) -> Callable[Concatenate[ModelCards, _P], bytes]:
    """An answer of the API: under the emulator's lock, after the due lifecycle steps."""

    def answer(self: ModelCards, /, *args: _P.args, **kwargs: _P.kwargs) -> bytes:
        with self._lock:
            self._sync()
            return method(self, *args, **kwargs)

    answer.__doc__ = method.__doc__
    return answer


class ModelCards:
    """The base cards and every organisation's fine-tuned ones.

    The answering methods take the emulator's lock and first apply the lifecycle steps that
    are due (``sync``): a job that has just succeeded has its card. ``add`` and ``remove`` are
    called by the store, under the lock.
    """

    def __init__(
        self,
        lock: threading.RLock,
        sync: Callable[[], None],
        fine_tunable: dict[str, int] | None = None,
    ) -> None:
        self._lock = lock
        self._sync = sync
        self.fine_tunable = dict(FINE_TUNABLE_MODELS if fine_tunable is None else fine_tunable)
        self._fine_tuned: dict[str, _FineTuned] = {}

    def reset(self) -> None:
        """Forget every fine-tuned model."""
        self._fine_tuned.clear()

    def base_of(self, model: str) -> str | None:
        """The offered base model ``model`` names (itself, or a dated ``-latest``), or None."""
        if model in self.fine_tunable:
            return model
        for name in self.fine_tunable:
            stem = name.removesuffix("-latest")
            if name.endswith("-latest") and model.startswith(stem + "-"):
                return name
        return None

    def check_fine_tunable(self, model: str) -> None:
        """A 400 naming ``model`` unless it is offered for fine-tuning."""
        if self.base_of(model) is None:
            offered = ", ".join(sorted(self.fine_tunable))
            raise ApiError(
                400, f"model: {model!r} is not available for fine-tuning (offered: {offered})"
            )

    def add(self, *, model_id: str, key: str, job: str, root: str, created: int,
            owner: str, classifier: bool) -> None:  # fmt: skip
        """The card of a job that reached SUCCESS."""
        base = self.base_of(root)
        context = self.fine_tunable.get(base, 32_768) if base else 32_768
        self._fine_tuned[model_id] = _FineTuned(
            model_id, key, job, root, created, owner, classifier, context
        )

    def remove(self, model_id: str) -> None:
        """Drop a card (its job was moved out of SUCCESS)."""
        self._fine_tuned.pop(model_id, None)

    @_answering
    def listing(self, key: str, *, provider: str | None, model: str | None) -> bytes:
        """``GET /v1/models``: base cards, then ``key``'s fine-tuned ones, newest first."""
        cards = [self._base(name) for name in self.fine_tunable]
        mine = [m for m in self._fine_tuned.values() if m.key == key]
        cards += [m.render() for m in sorted(mine, key=lambda m: -m.created)]
        if provider is not None:
            cards = [c for c in cards if c.owned_by == provider]
        if model is not None:
            cards = [c for c in cards if model in (c.id, c.root)]
        return encoder.encode({"object": "list", "data": cards})

    @_answering
    def get(self, key: str, model_id: str) -> bytes:
        """One card: a base one, or one of ``key``'s fine-tuned ones (404 otherwise)."""
        if model_id in self.fine_tunable:
            return encoder.encode(self._base(model_id))
        return encoder.encode(self._mine(key, model_id).render())

    @_answering
    def update(self, key: str, model_id: str, change: ModelUpdateIn) -> bytes:
        """Set a fine-tuned model's name and description (those given)."""
        card = self._changeable(key, model_id, "updated")
        if change.name is not None:
            card.name = change.name
        if change.description is not None:
            card.description = change.description
        return encoder.encode(card.render())

    @_answering
    def archive(self, key: str, model_id: str, *, archived: bool) -> bytes:
        """Archive or unarchive a fine-tuned model."""
        card = self._changeable(key, model_id, "archived" if archived else "unarchived")
        card.archived = archived
        return encoder.encode({"id": card.id, "object": "model", "archived": archived})

    @_answering
    def delete(self, key: str, model_id: str) -> bytes:
        """Delete a fine-tuned model (its job stays, naming it)."""
        card = self._changeable(key, model_id, "deleted")
        del self._fine_tuned[card.id]
        return encoder.encode({"id": card.id, "object": "model", "deleted": True})

    def _mine(self, key: str, model_id: str) -> _FineTuned:
        card = self._fine_tuned.get(model_id)
        if card is None or card.key != key:
            raise ApiError(404, f"Model {model_id} not found")
        return card

    def _changeable(self, key: str, model_id: str, what: str) -> _FineTuned:
        if model_id in self.fine_tunable:
            raise ApiError(400, f"{model_id} is a base model: only fine-tuned models are {what}")
        return self._mine(key, model_id)

    def _base(self, name: str) -> ModelCardOut:
        return ModelCardOut(
            id=name, object="model", created=1_700_000_000, owned_by="mistralai", type="base",
            max_context_length=self.fine_tunable[name],
            capabilities=_Capabilities(
                fine_tuning=True, completion_fim=name.startswith("codestral"),
                vision=name.startswith("pixtral"),
            ),
        )  # fmt: skip
