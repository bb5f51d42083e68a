"""Slips a new user makes: each gets a clear package error or does what was meant."""

from __future__ import annotations

import asyncio
import io

import pytest

from mistral_jobs_async import AsyncClient, ConfigurationError, InvalidRequestError
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.watcher import Transition, WatchConfig

from .conftest import GOOD_JSONL, KEY_A

FAST = WatchConfig(fast_interval=0.05, base_interval=0.05, max_interval=0.1, coalesce=0.01)


def test_a_client_reused_across_asyncio_runs_says_why() -> None:
    """A client used in a second event loop is a ConfigurationError, not aiohttp's RuntimeError."""
    with Emulator(seed=1, speed=0) as emu:
        client = AsyncClient(KEY_A, base_url=emu.url)

        async def total() -> int:
            return (await client.fine_tuning.jobs.list()).total

        first = asyncio.new_event_loop()
        try:
            assert first.run_until_complete(total()) == 0
            with pytest.raises(ConfigurationError, match="another event loop") as caught:
                asyncio.run(total())
            assert "asyncio.run()" in str(caught.value)
        finally:
            first.run_until_complete(client.aclose())
            first.close()


def test_closing_from_another_loop_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    """aclose() from a later asyncio.run() drops the old loop's session instead of crashing."""
    with Emulator(seed=1, speed=0) as emu:
        client = AsyncClient(KEY_A, base_url=emu.url)
        first = asyncio.new_event_loop()
        first.run_until_complete(client.fine_tuning.jobs.list())
        session = client._http._session  # kept only to tidy up after the test
        asyncio.run(client.aclose())
        assert client.closed
        assert "another event loop" in caplog.text
        assert session is not None
        first.run_until_complete(session.close())
        first.close()


@pytest.mark.anyio
async def test_watch_takes_one_id_as_a_string(emu: Emulator) -> None:
    """``watch("id")`` follows that job, not each of its characters."""
    async with AsyncClient(KEY_A, base_url=emu.url) as client:
        file = await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")
        job = await client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=[file.id], auto_start=True
        )
        emu.set_status(job.id, "SUCCESS")
        async with client.fine_tuning.jobs.watch(job.id, config=FAST) as events:
            seen = [event async for event in events]
        assert [e.job_id for e in seen] == [job.id]
        assert isinstance(seen[0], Transition)
        assert seen[0].status == "SUCCESS"


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["a/b", "", "..", 7])
async def test_watch_refuses_a_malformed_id_at_once(emu: Emulator, bad: object) -> None:
    """A malformed id is an InvalidRequestError when watching starts, not a poll failing forever."""
    async with AsyncClient(KEY_A, base_url=emu.url) as client:
        with pytest.raises(InvalidRequestError):
            client.fine_tuning.jobs.watch([bad])  # type: ignore[list-item]
    assert emu.request_count() == 0
