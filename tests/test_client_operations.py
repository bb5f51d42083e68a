"""AsyncClient against the emulator: every operation of both job APIs and files."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mistral_jobs_async import (
    FINE_TUNING_TERMINAL,
    AsyncClient,
    ConfigurationError,
    FineTuningStatus,
    InvalidRequestError,
    NotFoundError,
)
from mistral_jobs_async._validation import item_path
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.models import Hyperparameters, ModelConfig, TrainingFile, WandbIntegration

from .conftest import GOOD_JSONL, KEY_A

pytestmark = pytest.mark.anyio


async def _file_id(client: AsyncClient) -> str:
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")
    return uploaded.id


async def test_fine_tuning_create_get_start_cancel(emu: Emulator, client: AsyncClient) -> None:
    """create, get, start and cancel map to typed jobs with the real fields."""
    file_id = await _file_id(client)
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b",
        training_files=[TrainingFile(file_id=file_id, weight=2.0)],
        hyperparameters=Hyperparameters(training_steps=20, learning_rate=1e-4),
        suffix="demo",
        integrations=[WandbIntegration(project="p", name="run", api_key="wandb-secret")],
    )
    assert job.status == FineTuningStatus.QUEUED
    assert job.training_files == [file_id]
    assert job.hyperparameters is not None
    assert job.hyperparameters.training_steps == 20
    assert job.auto_start is False
    assert "wandb-secret" not in repr(job)
    emu.advance(60)
    job = await client.fine_tuning.jobs.get(job.id)
    assert job.status == "VALIDATED"
    assert job.events is not None
    assert [e.data["status"] for e in job.events if e.data] == [
        "QUEUED", "VALIDATING", "VALIDATED",
    ]  # fmt: skip
    started = await client.fine_tuning.jobs.start(job.id)
    assert started.status == "STARTED"
    cancelled = await client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "CANCELLATION_REQUESTED"
    emu.advance(60)
    final = await client.fine_tuning.jobs.get(job.id)
    assert final.status in FINE_TUNING_TERMINAL
    assert final.is_terminal


async def test_success_carries_model_and_checkpoints(emu: Emulator, client: AsyncClient) -> None:
    """A finished job has its fine-tuned model, tokens and the latest checkpoint."""
    file_id = await _file_id(client)
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[file_id], auto_start=True
    )
    emu.advance(3600)
    done = await client.fine_tuning.jobs.get(job.id)
    assert done.status == "SUCCESS"
    assert done.fine_tuned_model
    assert done.trained_tokens
    assert done.metadata is not None
    assert done.metadata.cost_currency == "USD"
    latest = done.latest_checkpoint
    assert latest is not None
    assert latest.metrics is not None
    assert latest.step_number == 100


async def test_list_page_and_filters(emu: Emulator, client: AsyncClient) -> None:
    """await list() gives one page with total; filters reach the server."""
    file_id = await _file_id(client)
    first = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[file_id], suffix="a"
    )
    emu.advance(10)
    second = await client.fine_tuning.jobs.create(
        model="mistral-small-latest", training_files=[file_id], suffix="b"
    )
    page = await client.fine_tuning.jobs.list(page=0, page_size=1)
    assert page.total == 2
    assert [j.id for j in page.data] == [second.id]
    assert page.has_more
    assert (await client.fine_tuning.jobs.list(model="open-mistral-7b")).data[0].id == first.id
    assert (await client.fine_tuning.jobs.list(suffix="b")).total == 1
    created = datetime.fromtimestamp(second.created_at or 0, tz=timezone.utc)
    after = await client.fine_tuning.jobs.list(created_after=created)
    assert [j.id for j in after.data] == [second.id]
    before = await client.fine_tuning.jobs.list(created_before=created - timedelta(seconds=5))
    assert [j.id for j in before.data] == [first.id]
    assert (await client.fine_tuning.jobs.list(created_by_me=True)).total == 2
    queued = await client.fine_tuning.jobs.list(status="QUEUED")
    assert [j.id for j in queued.data] == [second.id]  # the first one moved on meanwhile


async def test_async_for_walks_every_page(emu: Emulator, client: AsyncClient) -> None:
    """async for over list() yields every job once, across pages."""
    file_id = await _file_id(client)
    ids = [
        (await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])).id
        for _ in range(7)
    ]
    seen = [job.id async for job in client.fine_tuning.jobs.list(page_size=3)]
    assert seen == ids[::-1]
    assert emu.request_count("GET", "/v1/fine_tuning/jobs") == 3
    everything = await client.fine_tuning.jobs.list(page_size=2).all()
    assert len(everything) == 7


async def test_iteration_does_not_repeat_jobs_created_meanwhile(client: AsyncClient) -> None:
    """A job created during the walk shifts the pages; no job is yielded twice."""
    file_id = await _file_id(client)
    for _ in range(4):
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    seen: list[str] = []
    async for job in client.fine_tuning.jobs.list(page_size=2):
        seen.append(job.id)
        if len(seen) == 1:
            await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert len(seen) == len(set(seen))
    assert len(seen) >= 4


async def test_forge_create_list_get_cancel(emu: Emulator, client: AsyncClient) -> None:
    """Forge jobs: create with a model config, list, get, cancel."""
    job = await client.forge.jobs.create(
        job_type="dpo",
        model_config=ModelConfig(
            architecture="mixture_of_experts",
            base_model="open-mistral-7b",
            num_experts=8,
            active_experts=2,
        ),
        hyperparameters={"training_steps": 30, "batch_size": 8},
        dataset_ids=["0b9f8c1e-0000-4000-8000-000000000001"],
        auto_start=True,
    )
    assert job.status == "QUEUED"
    assert job.model_config is not None
    assert job.model_config.num_experts == 8
    page = await client.forge.jobs.list()
    assert [j.id for j in page.data] == [job.id]
    assert [j.id async for j in client.forge.jobs.list(page_size=1)] == [job.id]
    emu.advance(5)
    cancelled = await client.forge.jobs.cancel(job.id)
    assert cancelled.status == "CANCELLED"
    assert cancelled.is_terminal
    assert (await client.forge.jobs.get(job.id)).status == "CANCELLED"


async def test_files_upload_path_and_stream(tmp_path: Path, client: AsyncClient) -> None:
    """Upload from a path and from a file object; list, get and delete."""
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD_JSONL)
    from_path = await client.files.upload(path)
    assert from_path.filename == "data.jsonl"
    assert from_path.bytes == len(GOOD_JSONL)
    with path.open("rb") as stream:
        from_stream = await client.files.upload(stream)
        assert not stream.closed, "the caller's stream is the caller's to close"
    assert from_stream.filename == "data.jsonl"
    assert from_stream.bytes == len(GOOD_JSONL)
    listed = await client.files.list()
    assert {f.id for f in listed.data} == {from_path.id, from_stream.id}
    got = await client.files.get(from_path.id)
    assert got.deleted is False
    gone = await client.files.delete(from_path.id)
    assert gone.deleted is True
    with pytest.raises(NotFoundError):
        await client.files.get(from_path.id)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda c: c.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=["f"], suffix="x" * 19
            ),
            "suffix",
        ),
        (
            lambda c: c.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[]),
            "training_files",
        ),
        (
            lambda c: c.fine_tuning.jobs.create(model="open-mistral-7b", training_files="f"),
            "training_files",
        ),
        (lambda c: c.fine_tuning.jobs.create(model="", training_files=["f"]), "model"),
        (
            lambda c: c.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=["f"], hyperparameters={"learning_rate": -1}
            ),
            "hyperparameters.learning_rate",
        ),
        (
            lambda c: c.fine_tuning.jobs.create(
                model="open-mistral-7b",
                training_files=["f"],
                hyperparameters={"warmup_fraction": 2},
            ),
            "hyperparameters.warmup_fraction",
        ),
        (
            lambda c: c.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=["f"], hyperparameters={"learning_rat": 1}
            ),
            "hyperparameters.learning_rat",
        ),
        (lambda c: c.forge.jobs.create(job_type="distill", model_config={}), "job_type"),
        (lambda c: c.forge.jobs.create(job_type="dpo", model_config={}), "model_config.base_model"),
        (
            lambda c: c.forge.jobs.create(job_type="pre_training", model_config={"num_experts": 2}),
            "model_config.num_experts",
        ),
        (lambda c: c.fine_tuning.jobs.get(""), "job_id"),
        (lambda c: c.fine_tuning.jobs.get("../../v1/files"), "job_id"),
        (lambda c: c.files.get(None), "file_id"),
        (lambda c: c.files.upload("/no/such/file.jsonl"), "file"),
        (lambda c: c.fine_tuning.jobs.list(page_size=101), "page_size"),
        (lambda c: c.fine_tuning.jobs.list(page=-1), "page"),
        (lambda c: c.fine_tuning.jobs.list(created_after=12), "created_after"),
    ],
)
async def test_bad_parameters_fail_before_any_request(
    emu: Emulator, client: AsyncClient, call: object, field: str
) -> None:
    """Out-of-bounds parameters raise InvalidRequestError naming the field; nothing is sent."""

    async def attempt() -> None:
        result = call(client)  # type: ignore[operator]
        if hasattr(result, "__await__"):
            await result

    with pytest.raises(InvalidRequestError) as caught:
        await attempt()
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert emu.requests == []


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key anywhere: ConfigurationError at construction, before any request."""
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        AsyncClient()
    with pytest.raises(ConfigurationError, match="base_url"):
        AsyncClient("k", base_url="api.mistral.ai")
    for timeout in (0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ConfigurationError, match="timeout must be a finite number"):
            AsyncClient("k", timeout=timeout)


def test_an_id_that_does_not_hash_like_a_str_is_still_checked() -> None:
    """Checked id paths are cached; a str subclass without a hash is checked all the same."""

    class Odd(str):
        __hash__ = None  # type: ignore[assignment]

        def __eq__(self, other: object) -> bool:
            return str.__eq__(self, other)

    assert item_path("/v1/files", "file_id", Odd("file-1")) == "/v1/files/file-1"
    with pytest.raises(InvalidRequestError, match="is not an id"):
        item_path("/v1/files", "file_id", Odd("../x"))


async def test_env_configures_the_client(monkeypatch: pytest.MonkeyPatch, emu: Emulator) -> None:
    """MISTRAL_API_KEY and MISTRAL_BASE_URL are used when no argument is given."""
    monkeypatch.setenv("MISTRAL_API_KEY", KEY_A)
    monkeypatch.setenv("MISTRAL_BASE_URL", emu.url + "/")
    async with AsyncClient() as client:
        assert client.base_url == emu.url
        assert (await client.fine_tuning.jobs.list()).total == 0
    assert emu.requests[-1].key is not None


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MISTRAL_BASE_URL the client targets the real service (no request is made)."""
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)
    assert AsyncClient("k").base_url == "https://api.mistral.ai"


async def test_closed_client_refuses_work(emu: Emulator) -> None:
    """After aclose, calls raise ConfigurationError; a caller's session stays open."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        client = AsyncClient(KEY_A, base_url=emu.url, session=session)
        await client.fine_tuning.jobs.list()
        await client.aclose()
        assert client.closed
        assert not session.closed
        with pytest.raises(ConfigurationError, match="closed"):
            await client.fine_tuning.jobs.list()


async def test_text_mode_upload_is_refused(tmp_path: Path, client: AsyncClient) -> None:
    """A file opened in text mode is an InvalidRequestError, not a transport failure."""
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD_JSONL)
    with path.open() as text, pytest.raises(InvalidRequestError, match="binary"):
        await client.files.upload(text)  # type: ignore[arg-type]


def test_more_configuration_mistakes() -> None:
    """A non-string key and a base URL that already ends in /v1 are refused at once."""
    with pytest.raises(ConfigurationError, match="string"):
        AsyncClient(123)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="/v1"):
        AsyncClient("k", base_url="https://api.mistral.ai/v1/")


async def test_closed_client_cannot_be_reentered(emu: Emulator) -> None:
    """Entering a closed client fails at once."""
    client = AsyncClient(KEY_A, base_url=emu.url)
    await client.aclose()
    with pytest.raises(ConfigurationError, match="closed"):
        async with client:
            pass
