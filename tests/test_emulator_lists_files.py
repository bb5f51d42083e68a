"""Lists (pagination, filters, scale) and the files API."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import aiohttp
import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import GOOD_JSONL, Api

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_pagination_newest_first_covers_every_job(emu: Emulator, api: Api) -> None:
    """Pages of a list partition the jobs, newest first, with the right total."""
    uploaded = await api.upload(GOOD_JSONL)
    ids = []
    for _ in range(25):
        ids.append((await api.create_ft(uploaded["id"]))["id"])
        emu.advance(1)
    seen: list[str] = []
    for page in range(4):
        status, body = await api.call("GET", f"{FT}?page={page}&page_size=10")
        assert status == 200
        assert body["object"] == "list"
        assert body["total"] == 25
        seen.extend(job["id"] for job in body["data"])
    assert seen == ids[::-1]
    _, default = await api.call("GET", FT)
    assert len(default["data"]) == 20


async def test_fine_tuning_filters(emu: Emulator, api: Api) -> None:
    """model, status, created_after/before, suffix and wandb filters are honoured."""
    uploaded = await api.upload(GOOD_JSONL)
    first = await api.create_ft(uploaded["id"], suffix="alpha", auto_start=True)
    emu.advance(100)
    second = await api.create_ft(
        uploaded["id"],
        model="mistral-small-latest",
        suffix="beta",
        integrations=[
            {"type": "wandb", "project": "proj", "name": "run-1", "api_key": "wandb-secret"}
        ],
    )

    async def ids(query: str) -> list[str]:
        status, body = await api.call("GET", f"{FT}?{query}")
        assert status == 200, body
        assert body["total"] == len(body["data"])
        return [job["id"] for job in body["data"]]

    assert await ids("model=mistral-small-latest") == [second["id"]]
    assert await ids("status=SUCCESS") == [first["id"]]
    assert await ids("status=QUEUED") == [second["id"]]
    assert await ids(f"created_after={iso(second['created_at'])}") == [second["id"]]
    assert await ids(f"created_before={iso(first['created_at'])}") == [first["id"]]
    assert await ids(
        f"created_after={iso(first['created_at'])}&created_before={iso(second['created_at'])}"
    ) == [second["id"], first["id"]]
    assert await ids("suffix=alpha") == [first["id"]]
    assert await ids("wandb_project=proj") == [second["id"]]
    assert await ids("wandb_name=run-1") == [second["id"]]
    assert await ids("wandb_name=other") == []
    assert await ids("created_by_me=true") == [second["id"], first["id"]]
    assert await ids("status=SUCCESS&model=mistral-small-latest") == []
    # The integration's secret is never echoed back.
    _, job = await api.call("GET", f"{FT}/{second['id']}")
    assert job["integrations"] == [{"type": "wandb", "project": "proj", "name": "run-1"}]
    assert "wandb-secret" not in str(job)


async def test_forge_list_paginates(emu: Emulator, api: Api) -> None:
    """Forge lists page like fine-tuning ones."""
    for _ in range(3):
        await api.create_forge()
    _, body = await api.call("GET", "/forge/training/jobs?page=1&page_size=2")
    assert body["total"] == 3
    assert len(body["data"]) == 1
    _, beyond = await api.call("GET", "/forge/training/jobs?page=9&page_size=2")
    assert beyond == {"object": "list", "data": [], "total": 3}


async def test_ten_thousand_jobs_per_key(emu: Emulator, api: Api, api_b: Api) -> None:
    """A key holds 10,000 jobs; pages and filters still answer over them."""
    uploaded = await api.upload(GOOD_JSONL)
    body = {"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]}
    for _ in range(10_000):
        status, _ = await api.call("POST", FT, json=body)
        assert status == 200
    _, page = await api.call("GET", f"{FT}?page=99&page_size=100")
    assert page["total"] == 10_000
    assert len(page["data"]) == 100
    _, queued = await api.call("GET", f"{FT}?status=QUEUED&page_size=100")
    assert queued["total"] == 10_000
    _, other = await api.call("GET", FT)
    _, other_b = await api_b.call("GET", FT)
    assert other["total"] == 10_000
    assert other_b["total"] == 0


async def test_file_upload_list_get_delete(emu: Emulator, api: Api) -> None:
    """Upload (multipart), list, get (deleted: false) and delete a file."""
    uploaded = await api.upload(GOOD_JSONL, filename="train.jsonl")
    assert uploaded["object"] == "file"
    assert uploaded["bytes"] == len(GOOD_JSONL)
    assert uploaded["filename"] == "train.jsonl"
    assert uploaded["purpose"] == "fine-tune"
    assert uploaded["num_lines"] == 20
    status, listing = await api.call("GET", "/v1/files")
    assert (status, listing["total"], listing["object"]) == (200, 1, "list")
    status, one = await api.call("GET", f"/v1/files/{uploaded['id']}")
    assert status == 200
    assert one["deleted"] is False
    status, gone = await api.call("DELETE", f"/v1/files/{uploaded['id']}")
    assert (status, gone) == (200, {"id": uploaded["id"], "object": "file", "deleted": True})
    status, _ = await api.call("GET", f"/v1/files/{uploaded['id']}")
    assert status == 404


async def test_upload_streams_a_large_file(emu: Emulator, api: Api) -> None:
    """A multi-megabyte upload sent from a file object is measured, not refused."""
    line = GOOD_JSONL.splitlines(keepends=True)[0]
    content = line * 60_000
    form = aiohttp.FormData()
    form.add_field("purpose", "fine-tune")
    form.add_field("file", io.BytesIO(content), filename="big.jsonl")
    status, body = await api.call("POST", "/v1/files", data=form)
    assert status == 200, body
    assert body["bytes"] == len(content)
    assert body["num_lines"] == 60_000


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"purpose": "batch", "file": b"{}"}, "purpose"),
        ({"purpose": "fine-tune"}, "file"),
    ],
)
async def test_upload_rejects_bad_parts(api: Api, fields: dict[str, object], needle: str) -> None:
    """A wrong purpose or a missing file part is a 400 naming it."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(name, value, filename="x.jsonl")
        else:
            form.add_field(name, str(value))
    status, body = await api.call("POST", "/v1/files", data=form)
    assert status == 400
    assert needle in body["message"]


async def test_upload_needs_multipart(api: Api) -> None:
    """A JSON body to the upload route is a 400."""
    status, body = await api.call("POST", "/v1/files", json={"file": "x"})
    assert status == 400
    assert "multipart" in body["message"]


@pytest.mark.mistral_emulator(seed=1, speed=0.0, max_upload_bytes=1000)
async def test_upload_size_limit(api: Api) -> None:
    """A file over the configured size is refused with 413."""
    status, body = await api.call(
        "POST", "/v1/files", data={"purpose": "fine-tune", "file": io.BytesIO(b"x" * 5000)}
    )
    assert status == 413
    assert "file" in body["message"]
