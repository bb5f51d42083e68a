"""Fine-tuned models: a job that succeeds makes a model card; list, get, update, archive,
unarchive and delete it; tenancy, base models and the model names the service offers."""

from __future__ import annotations

import io

import pytest

from mistral_jobs_async import (
    AsyncClient,
    BadRequestError,
    InvalidRequestError,
    JobEndedError,
    NotFoundError,
)
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.models import FineTuningJob

from .conftest import GOOD_JSONL, KEY_B

pytestmark = pytest.mark.anyio


async def _trained(emu: Emulator, client: AsyncClient, **create: object) -> FineTuningJob:
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")
    fields: dict[str, object] = {"model": "open-mistral-7b", "auto_start": True, **create}
    job = await client.fine_tuning.jobs.create(training_files=[uploaded.id], **fields)  # type: ignore[arg-type]
    emu.advance(600)
    done = await client.fine_tuning.jobs.get(job.id)
    assert done.status == "SUCCESS"
    assert done.fine_tuned_model
    return done


async def test_a_successful_job_makes_a_model_card_that_can_be_managed(
    emu: Emulator, client: AsyncClient
) -> None:
    """The card's id is the job's fine_tuned_model; it names its job and root; update sets
    the name and description; archive and unarchive flip it; delete removes it (404 after)."""
    job = await _trained(emu, client, suffix="cards")
    model_id = job.fine_tuned_model
    assert model_id is not None
    card = await client.models.get(model_id)
    assert card.fine_tuned
    assert (card.id, card.job, card.root, card.archived) == (
        model_id,
        job.id,
        "open-mistral-7b",
        False,
    )
    assert card.capabilities.completion_chat
    listed = await client.models.list()
    assert [c.id for c in listed if c.fine_tuned] == [model_id]
    assert any(not c.fine_tuned and c.id == "open-mistral-7b" for c in listed)

    named = await client.models.update(model_id, name="support bot", description="v1")
    assert (named.name, named.description) == ("support bot", "v1")
    renamed = await client.models.update(model_id, description="v2")
    assert (renamed.name, renamed.description) == ("support bot", "v2")
    assert (await client.models.archive(model_id)).archived is True
    assert (await client.models.get(model_id)).archived is True
    assert (await client.models.unarchive(model_id)).archived is False

    deleted = await client.models.delete(model_id)
    assert (deleted.id, deleted.deleted) == (model_id, True)
    with pytest.raises(NotFoundError, match=model_id):
        await client.models.get(model_id)
    assert (await client.fine_tuning.jobs.get(job.id)).fine_tuned_model == model_id


async def test_models_of_another_key_are_not_found(emu: Emulator, client: AsyncClient) -> None:
    """Another organisation sees the base models but none of this one's fine-tuned models:
    each operation on them is a 404, not a 403 that would confirm they exist."""
    model_id = (await _trained(emu, client)).fine_tuned_model
    assert model_id is not None
    async with AsyncClient(KEY_B, base_url=emu.url) as other:
        assert not [c for c in await other.models.list() if c.fine_tuned]
        for operation in (
            other.models.get(model_id),
            other.models.update(model_id, name="x"),
            other.models.archive(model_id),
            other.models.unarchive(model_id),
            other.models.delete(model_id),
        ):
            with pytest.raises(NotFoundError):
                await operation
    assert (await client.models.get(model_id)).archived is False


async def test_base_models_are_listed_filtered_and_cannot_be_changed(
    emu: Emulator, client: AsyncClient
) -> None:
    """Base cards: listed with fine_tuning capability; the list filters by provider and
    model; updating, archiving or deleting one is a 400 naming it."""
    base = await client.models.get("mistral-small-latest")
    assert (base.type, base.job, base.root) == ("base", None, None)
    assert base.capabilities.fine_tuning
    only = await client.models.list(model="open-mistral-nemo")
    assert [c.id for c in only] == ["open-mistral-nemo"]
    assert await client.models.list(provider="nobody") == []
    with pytest.raises(BadRequestError, match="mistral-small-latest is a base model"):
        await client.models.update("mistral-small-latest", name="mine")
    with pytest.raises(BadRequestError, match="base model"):
        await client.models.delete("open-mistral-7b")
    with pytest.raises(InvalidRequestError, match="name"):
        await client.models.update("mistral-small-latest")
    with pytest.raises(InvalidRequestError, match="model_id"):
        await client.models.get("../files")


async def test_a_model_not_offered_for_fine_tuning_is_refused_by_name(
    client: AsyncClient,
) -> None:
    """Creating a job on a model the service does not fine-tune is a 400 naming it; dated
    versions of a -latest model are accepted."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")
    with pytest.raises(BadRequestError, match="'gpt-4' is not available for fine-tuning"):
        await client.fine_tuning.jobs.create(model="gpt-4", training_files=[uploaded.id])
    dated = await client.fine_tuning.jobs.create(
        model="mistral-small-2409", training_files=[uploaded.id]
    )
    assert dated.model == "mistral-small-2409"


@pytest.mark.mistral_emulator(fine_tunable_models={"my-own-base": 8192})
async def test_the_offered_models_table_can_be_replaced(emu: Emulator, client: AsyncClient) -> None:
    """Emulator(fine_tunable_models=...) replaces the table: its models train, others don't."""
    job = await _trained(emu, client, model="my-own-base")
    card = await client.models.get(job.fine_tuned_model or "")
    assert (card.root, card.max_context_length) == ("my-own-base", 8192)
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
    with pytest.raises(BadRequestError, match="open-mistral-7b"):
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[uploaded.id])


@pytest.mark.mistral_emulator(speed=200.0)
async def test_wait_for_model_goes_from_a_job_to_its_card_in_one_call(
    emu: Emulator, client: AsyncClient
) -> None:
    """wait_for_model waits for SUCCESS and returns the card; a job that ends otherwise
    raises JobEndedError with the job."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[uploaded.id], auto_start=True
    )
    card = await client.fine_tuning.jobs.wait_for_model(job.id, timeout=30)
    assert (card.job, card.fine_tuned) == (job.id, True)
    doomed = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[uploaded.id], auto_start=True
    )
    await client.fine_tuning.jobs.cancel(doomed.id)
    with pytest.raises(JobEndedError) as ended:
        await client.fine_tuning.jobs.wait_for_model(doomed.id, timeout=30)
    assert ended.value.status == "CANCELLED"
