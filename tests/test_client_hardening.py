"""Misuse and misbehaving servers: the client fails clearly, and never leaks or loops."""

from __future__ import annotations

import gzip
import io
import socket
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from mistral_jobs_async import (
    AsyncClient,
    AsyncPager,
    ConfigurationError,
    ConnectError,
    InvalidRequestError,
    NotFoundError,
    Page,
    PaginationError,
    RetryPolicy,
    ServerError,
)
from mistral_jobs_async._retry import parse_retry_after
from mistral_jobs_async.emulator import Emulator, Fault

from .conftest import GOOD_JSONL, KEY_A, SleepRecorder

pytestmark = pytest.mark.anyio


class Item:
    def __init__(self, ident: str, created_at: int | None = None) -> None:
        self.id = ident
        self.created_at = created_at


def pager(pages: Any, page_size: int = 2) -> tuple[AsyncPager[Item], list[int]]:
    """A pager over a scripted server: ``pages(number)`` gives (ids, total)."""
    calls: list[int] = []

    async def fetch(number: int, size: int) -> Page[Item]:
        calls.append(number)
        ids, total = pages(number)
        return Page(data=[Item(i) for i in ids], total=total, page=number, page_size=size)

    return AsyncPager(fetch, 0, page_size), calls


@pytest.mark.parametrize(
    ("name", "pages", "expected", "fails"),
    [
        ("honest", lambda n: ([f"{n}a", f"{n}b"][: 5 - 2 * n] if n < 3 else [], 5), 5, False),
        ("ignores page", lambda n: (["a", "b"], 10), 2, True),
        ("total keeps growing", lambda n: ([f"{n}a", f"{n}b"], 4 + 2 * n), None, True),
        ("short pages, huge total", lambda n: ([f"{n}a"], 10**9), 1, False),
        ("empty page", lambda n: ([], 6), 0, False),
    ],
)
async def test_pager_always_ends(name: str, pages: Any, expected: int | None, fails: bool) -> None:
    """Whatever a server says about totals and pages, iteration ends, without duplicates."""
    walk, calls = pager(pages)
    items: list[str] = []
    with anyio.fail_after(5):
        try:
            async for item in walk:
                items.append(item.id)  # noqa: PERF401 (keep the items before an error)
        except PaginationError:
            assert fails, name
        else:
            assert not fails, name
    assert len(items) == len(set(items))
    if expected is not None:
        assert len(items) == expected
    assert len(calls) <= 12, name


@pytest.mark.parametrize("job_id", [".", "..", "a/b", "%2e%2e", "x?y", "a..b", " "])
async def test_ids_cannot_change_the_path(emu: Emulator, client: AsyncClient, job_id: str) -> None:
    """Ids that could move the request elsewhere are refused before any I/O."""
    for call in (
        client.fine_tuning.jobs.get,
        client.fine_tuning.jobs.cancel,
        client.forge.jobs.get,
        client.files.delete,
    ):
        with pytest.raises(InvalidRequestError):
            await call(job_id)
    assert emu.requests == []


@pytest.mark.parametrize(
    "make",
    [
        lambda c: c.fine_tuning.jobs.create(model="open-mistral-7b", training_files=5),
        lambda c: c.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=["f"], validation_files=5
        ),
        lambda c: c.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=["f"], integrations=["x"]
        ),
        lambda c: c.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[5]),
        lambda c: c.forge.jobs.create(
            job_type="dpo", model_config={"base_model": "m"}, dataset_ids=5
        ),
        lambda c: c.forge.jobs.create(job_type="dpo", model_config="m"),
        lambda c: c.fine_tuning.jobs.list(status=True),
        lambda c: c.fine_tuning.jobs.list(created_by_me="yes"),
        lambda c: c.files.upload(io.BytesIO(b"x"), purpose=5),
        lambda c: c.files.upload(io.BytesIO(b"x"), filename=5),
        lambda c: c.files.upload(b"raw bytes"),
    ],
)
async def test_wrong_types_are_invalid_requests(
    emu: Emulator, client: AsyncClient, make: Any
) -> None:
    """Wrong types raise InvalidRequestError, never a TypeError from a library inside."""

    async def attempt() -> None:
        result = make(client)
        if hasattr(result, "__await__"):
            await result

    with pytest.raises(InvalidRequestError):
        await attempt()
    assert emu.requests == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_retries": "3"}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"base_url": 123}, "base_url"),
        ({"api_key": "sk-abc\ndef"}, "non-printable"),
        ({"api_key": "sk abc"}, "spaces"),
    ],
)
def test_configuration_types(kwargs: dict[str, Any], needle: str) -> None:
    """Bad configuration values are ConfigurationError at construction (the key never shown)."""
    options = {"api_key": "k", **kwargs}
    with pytest.raises(ConfigurationError, match=needle) as caught:
        AsyncClient(**options)
    assert "abc" not in str(caught.value)


async def test_no_secret_in_chained_exceptions_or_frame_locals(
    emu: Emulator, sleeps: SleepRecorder
) -> None:
    """Neither the exception chain nor any traceback frame's locals show the key."""
    secret = "sk-never-show-me-0123456789"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(sleep=sleeps, max_retries=0)

    async def listing(c: AsyncClient) -> object:
        return await c.fine_tuning.jobs.list()

    async def missing(c: AsyncClient) -> object:
        return await c.fine_tuning.jobs.get("0b9f8c1e-0000-4000-8000-000000000000")

    cases: list[tuple[str, Callable[[AsyncClient], Awaitable[object]]]] = [
        (f"http://127.0.0.1:{port}", listing),
        (emu.url, missing),
    ]
    for base, call in cases:
        async with AsyncClient(secret, base_url=base, retry=policy) as client:
            with pytest.raises((ConnectError, NotFoundError)) as caught:
                await call(client)
        error = caught.value
        assert error.__context__ is None or secret not in repr(vars(error.__context__))
        assert error.__cause__ is None
        for frame, _ in traceback.walk_tb(error.__traceback__):
            if "mistral_jobs_async" not in frame.f_code.co_filename:
                continue  # this test's own frame holds the key, of course
            for name, value in frame.f_locals.items():
                assert secret not in repr(value), f"{frame.f_code.co_name}.{name}"


async def test_caller_session_with_raise_for_status(emu: Emulator) -> None:
    """A caller's session set to raise_for_status still gives the client's own errors."""
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        client = AsyncClient(KEY_A, base_url=emu.url, session=session)
        with pytest.raises(NotFoundError):
            await client.fine_tuning.jobs.get("0b9f8c1e-0000-4000-8000-000000000000")
    assert emu.request_count() == 1


async def test_closing_during_a_retry_wait(emu: Emulator) -> None:
    """A client closed while a request waits to retry ends that request with ConfigurationError."""
    emu.inject(Fault.http(503, times=1))
    gate = anyio.Event()

    async def slow_sleep(seconds: float) -> None:
        gate.set()
        await anyio.sleep(0.2)

    client = AsyncClient(KEY_A, base_url=emu.url, retry=RetryPolicy(sleep=slow_sleep))
    outcome: list[BaseException] = []

    async def run() -> None:
        try:
            await client.fine_tuning.jobs.list()
        except ConfigurationError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await gate.wait()
        await client.aclose()
    assert len(outcome) == 1
    assert "closed" in str(outcome[0])


@pytest.mark.parametrize("status", [408, 504])
async def test_get_retries_408_and_504(emu: Emulator, client: AsyncClient, status: int) -> None:
    """408 and 504 are retried on GET too."""
    emu.inject(Fault.http(status, times=1))
    assert (await client.forge.jobs.list()).total == 0
    assert emu.request_count("GET") == 2


async def test_retry_after_over_the_cap_raises_at_once(emu: Emulator, client: AsyncClient) -> None:
    """A 503 asking for more than retry_after_max is raised at once, with its hint."""
    emu.inject(Fault.http(503, retry_after=3600, times=1))
    with pytest.raises(ServerError) as caught:
        await client.fine_tuning.jobs.list()
    assert caught.value.retry_after == 3600
    assert emu.request_count() == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("1_000", None),
        ("1e999", None),
        ("-1", None),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP date; anything else is no hint."""
    assert parse_retry_after(value) == expected


async def test_binary_streams_without_b_in_mode_upload(tmp_path: Path, client: AsyncClient) -> None:
    """A gzip stream (mode is an int) uploads: binary is judged by what read() returns."""
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(GOOD_JSONL))
    with gzip.open(path, "rb") as stream:
        uploaded = await client.files.upload(stream, filename="data.jsonl")
    assert uploaded.bytes == len(GOOD_JSONL)
