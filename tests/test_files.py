"""Files beyond upload: download (streamed, whole or nothing), signed URLs, the list's
filters, and the upload's expiry and visibility."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import aiohttp
import anyio
import pytest

from mistral_jobs_async import AsyncClient, BadRequestError, InvalidRequestError, NotFoundError
from mistral_jobs_async.emulator import Emulator, Fault

from .conftest import GOOD_JSONL, KEY_B

pytestmark = pytest.mark.anyio

BIG = GOOD_JSONL * 2000  # about 2 MB: many chunks


async def test_upload_takes_expiry_and_visibility_and_answers_the_new_fields(
    client: AsyncClient,
) -> None:
    """expiry (hours) gives expires_at; visibility is kept; signature is the content's
    SHA-256; a visibility the service does not know is a 400 naming it."""
    uploaded = await client.files.upload(
        io.BytesIO(GOOD_JSONL), filename="t.jsonl", expiry=48, visibility="user"
    )
    assert uploaded.visibility == "user"
    assert uploaded.created_at is not None
    assert uploaded.expires_at == uploaded.created_at + 48 * 3600
    assert uploaded.signature == hashlib.sha256(GOOD_JSONL).hexdigest()
    assert (await client.files.get(uploaded.id)).visibility == "user"
    plain = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="p.jsonl")
    assert (plain.visibility, plain.expires_at) == ("workspace", None)
    with pytest.raises(BadRequestError, match="visibility: 'everyone'"):
        await client.files.upload(io.BytesIO(GOOD_JSONL), filename="x.jsonl", visibility="everyone")
    with pytest.raises(InvalidRequestError, match="expiry"):
        await client.files.upload(io.BytesIO(GOOD_JSONL), filename="x.jsonl", expiry=0)


async def test_download_streams_to_a_path_or_a_stream(client: AsyncClient, tmp_path: Path) -> None:
    """The content comes back byte for byte, to a path (no .part left) or a binary stream."""
    uploaded = await client.files.upload(io.BytesIO(BIG), filename="big.jsonl")
    dest = tmp_path / "copy.jsonl"
    assert await client.files.download(uploaded.id, dest) == len(BIG)
    assert dest.read_bytes() == BIG
    assert [p async for p in anyio.Path(tmp_path).iterdir()] == [anyio.Path(dest)]
    sink = io.BytesIO(b"kept:")
    sink.seek(0, io.SEEK_END)
    assert await client.files.download(uploaded.id, sink) == len(BIG)
    assert sink.getvalue() == b"kept:" + BIG
    with pytest.raises(InvalidRequestError, match="binary stream"):
        await client.files.download(uploaded.id, io.StringIO())  # type: ignore[arg-type]


async def test_a_failed_download_leaves_nothing_and_a_retried_one_is_whole(
    emu: Emulator, client: AsyncClient, tmp_path: Path
) -> None:
    """A download cut mid-body is retried from the start (the file is whole, not doubled); an
    unknown file, or another key's, is a 404 that leaves no file and no .part behind."""
    uploaded = await client.files.upload(io.BytesIO(BIG), filename="big.jsonl")
    content = f"/v1/files/{uploaded.id}/content"
    emu.inject(Fault.http(503, path=content, times=1), Fault.drop(path=content, times=1))
    dest = tmp_path / "copy.jsonl"
    assert await client.files.download(uploaded.id, dest) == len(BIG)
    assert dest.read_bytes() == BIG
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(NotFoundError):
        await client.files.download("0b6c7a57-9fd5-4b25-9c4b-9a4b0f2c1d11", missing)
    async with AsyncClient(KEY_B, base_url=emu.url) as other:
        with pytest.raises(NotFoundError):
            await other.files.download(uploaded.id, missing)
    assert [p.name async for p in anyio.Path(tmp_path).iterdir()] == ["copy.jsonl"]


async def test_a_signed_url_fetches_without_a_key_until_it_expires(
    emu: Emulator, client: AsyncClient
) -> None:
    """The URL serves the file with no Authorization; a forged signature or an expired URL is
    a 403 with the Error body; expiry is checked (1 to 168 hours) before anything is sent."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
    url = await client.files.signed_url(uploaded.id, expiry=2)
    assert url.startswith(emu.url)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as answer:
            assert answer.status == 200
            assert await answer.read() == GOOD_JSONL
        async with session.get(url.replace("signature=", "signature=0")) as answer:
            assert answer.status == 403
            assert "not valid" in (await answer.json())["message"]
        emu.advance(2 * 3600 + 1)
        async with session.get(url) as answer:
            assert answer.status == 403
            assert "expired" in (await answer.json())["message"]
    for bad in (0, 169):
        with pytest.raises(InvalidRequestError, match="expiry"):
            await client.files.signed_url(uploaded.id, expiry=bad)


async def test_the_list_filters(client: AsyncClient) -> None:
    """purpose, sample_type and source (one value or several) and search (in the name)."""
    train = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="support-train.jsonl")
    other = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="eval.jsonl")

    async def ids(**filters: object) -> list[str]:
        return [f.id async for f in client.files.list(**filters)]  # type: ignore[arg-type]

    assert await ids() == [other.id, train.id]
    assert await ids(search="SUPPORT") == [train.id]
    assert await ids(purpose="fine-tune", sample_type=["instruct", "pretrain"]) == [
        other.id,
        train.id,
    ]
    assert await ids(sample_type="pretrain") == []
    assert await ids(source=["repository", "mistral"]) == []
    assert await ids(source="upload", search="eval") == [other.id]
    with pytest.raises(InvalidRequestError, match="sample_type"):
        await ids(sample_type=[1])


async def test_download_to_a_write_only_file(client: AsyncClient, tmp_path: Path) -> None:
    """A file opened "wb" (it cannot read) is a good destination; one opened "w" is not."""
    uploaded = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
    target = tmp_path / "out.jsonl"
    with target.open("wb") as sink:
        assert await client.files.download(uploaded.id, sink) == len(GOOD_JSONL)
    assert target.read_bytes() == GOOD_JSONL
    text = (tmp_path / "text.jsonl").open("w")
    with text, pytest.raises(InvalidRequestError, match="binary stream"):
        await client.files.download(uploaded.id, text)  # type: ignore[arg-type]
