"""``client.models``: base and fine-tuned model cards; name, archive and delete fine-tuned ones."""

from __future__ import annotations

from typing import Any

import msgspec

from mistral_jobs_async._exceptions import InvalidRequestError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._validation import check_text, item_path
from mistral_jobs_async.models.model_cards import (
    ArchivedModel,
    DeletedModel,
    ModelCard,
    ModelCardList,
)

__all__ = ["Models"]

_PATH = "/v1/models"
_FINE_TUNED = "/v1/fine_tuning/models"
_card = msgspec.json.Decoder(ModelCard)
_cards = msgspec.json.Decoder(ModelCardList)
_deleted = msgspec.json.Decoder(DeletedModel)
_archived = msgspec.json.Decoder(ArchivedModel)
_encoder = msgspec.json.Encoder()


class Models:
    """The models the client's organisation sees: base models and its fine-tuned ones."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def list(
        self, *, provider: str | None = None, model: str | None = None
    ) -> list[ModelCard]:
        """Every model card, filtered as the service filters by ``provider`` and ``model``.

        Base and fine-tuned cards come together; ``card.fine_tuned`` tells them apart.
        """
        given = {"provider": check_text("provider", provider), "model": check_text("model", model)}
        params = {name: value for name, value in given.items() if value is not None}
        answer = await self._http.request("GET", _PATH, _cards, params=params or None)
        return answer.data

    async def get(self, model_id: str) -> ModelCard:
        """One model card (a fine-tuned model's id is its job's ``fine_tuned_model``)."""
        return await self._http.request("GET", item_path(_PATH, "model_id", model_id), _card)

    async def update(
        self, model_id: str, *, name: str | None = None, description: str | None = None
    ) -> ModelCard:
        """Set a fine-tuned model's name and description (those given; the rest stay)."""
        body: dict[str, Any] = {
            key: value
            for key, value in (("name", name), ("description", description))
            if check_text(key, value) is not None
        }
        if not body:
            raise InvalidRequestError("name", "give a name, a description, or both")
        path = item_path(_FINE_TUNED, "model_id", model_id)
        # PATCH with the same body twice leaves the same model: safe to retry.
        return await self._http.request(
            "PATCH", path, _card, json=_encoder.encode(body), idempotent=True
        )

    async def archive(self, model_id: str) -> ArchivedModel:
        """Archive a fine-tuned model (it stays, out of the way; :meth:`unarchive` undoes it)."""
        path = item_path(_FINE_TUNED, "model_id", model_id) + "/archive"
        return await self._http.request("POST", path, _archived, idempotent=True)

    async def unarchive(self, model_id: str) -> ArchivedModel:
        """Bring an archived fine-tuned model back."""
        path = item_path(_FINE_TUNED, "model_id", model_id) + "/archive"
        return await self._http.request("DELETE", path, _archived)

    async def delete(self, model_id: str) -> DeletedModel:
        """Delete a fine-tuned model for good (the job that made it stays)."""
        return await self._http.request("DELETE", item_path(_PATH, "model_id", model_id), _deleted)
