"""Hostile servers on loopback: endless, huge and bomb answers, slow bodies, redirects, lies.

Each server here is a real aiohttp server on 127.0.0.1 written to misbehave in one way; the
client must fail with one typed error, quickly, with memory flat, and send nothing elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from aiohttp import web

from mistral_jobs_async import (
    AsyncClient,
    ConfigurationError,
    PaginationError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
)

from .conftest import KEY_A, SleepRecorder

pytestmark = pytest.mark.anyio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JOB = {"id": "job-1", "status": "RUNNING", "created_at": 1_700_000_000, "model": "open-mistral-7b"}


class Hostile:
    """A loopback server whose routes the test writes; it counts the requests it gets."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.hits: list[str] = []
        self.url = ""

    def route(self, method: str, path: str, handler: Handler) -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits.append(f"{request.method} {request.path}")
            return await handler(request)

        self.app.router.add_route(method, path, counted)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Hostile], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(server: Hostile) -> str:
        runner = web.AppRunner(server.app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        server.url = f"http://127.0.0.1:{port}"
        return server.url

    yield start
    for runner in runners:
        await runner.cleanup()


def client_of(url: str, sleeps: SleepRecorder, **options: Any) -> AsyncClient:
    policy = RetryPolicy(sleep=sleeps, jitter=lambda low, high: high)
    return AsyncClient(KEY_A, base_url=url, retry=policy, **options)


async def write_until_hangup(
    response: web.StreamResponse, chunk: bytes, *, pause: float = 0.0
) -> None:
    """Write ``chunk`` again and again: only the client hanging up ends it."""

    async def forever() -> None:
        while True:
            await response.write(chunk)
            await anyio.sleep(pause)

    with pytest.raises((ConnectionError, asyncio.CancelledError)):
        await forever()


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await write_until_hangup(response, b" " * 65536)
    return response


async def test_endless_body_is_refused_with_memory_flat(serve: Any, sleeps: SleepRecorder) -> None:
    """A body that never ends stops at max_response_bytes: one typed error, no retry."""
    server = Hostile()
    server.route("GET", "/v1/fine_tuning/jobs/{id}", endless)
    url = await serve(server)
    limit = 2 * 2**20
    tracemalloc.start()
    try:
        async with client_of(url, sleeps, max_response_bytes=limit, timeout=20) as client:
            started = time.monotonic()
            with pytest.raises(ResponseTooLargeError) as caught:
                await client.fine_tuning.jobs.get("job-1")
            elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "as sent" in str(caught.value)
    assert caught.value.limit == limit
    assert peak < 3 * limit, peak
    assert elapsed < 10
    assert server.hits == ["GET /v1/fine_tuning/jobs/job-1"]  # a too-large answer is not retried


async def test_announced_huge_body_is_refused_before_reading(
    serve: Any, sleeps: SleepRecorder
) -> None:
    """A Content-Length past the limit is refused without reading the body."""

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 500 * 2**20
        await response.prepare(request)
        # Slowly, forever: only refusing it early ends the call.
        await write_until_hangup(response, b"1," * 500, pause=0.01)
        return response

    server = Hostile()
    server.route("GET", "/v1/files", huge)
    async with client_of(await serve(server), sleeps) as client:
        with anyio.fail_after(5), pytest.raises(ResponseTooLargeError):
            await client.files.list()


async def test_gzip_bomb_is_cut_off_within_the_timeout(serve: Any, sleeps: SleepRecorder) -> None:
    """A small gzip answer that unpacks to 1 GiB stops at the limit, within the timeout."""
    packer = zlib.compressobj(1, wbits=16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    bomb = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    assert len(bomb) < 8 * 2**20

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    server = Hostile()
    server.route("GET", "/v1/fine_tuning/jobs/{id}", handler)
    tracemalloc.start()
    try:
        async with client_of(await serve(server), sleeps, timeout=5) as client:
            started = time.monotonic()
            with pytest.raises(ResponseTooLargeError) as caught:
                await client.fine_tuning.jobs.get("job-1")
            elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "once unpacked" in str(caught.value)
    assert elapsed < 5
    assert peak < 3 * caught.value.limit, peak


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw deflate"])
async def test_compressed_answers_are_read(serve: Any, sleeps: SleepRecorder, coding: str) -> None:
    """gzip, zlib-wrapped deflate and raw deflate answers all decode."""
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw deflate": -15}[coding]
    packer = zlib.compressobj(6, wbits=wbits)
    body = packer.compress(json.dumps(JOB).encode()) + packer.flush()

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.headers["Accept-Encoding"] == "gzip, deflate"
        encoding = "gzip" if coding == "gzip" else "deflate"
        return web.Response(body=body, headers={"Content-Encoding": encoding})

    server = Hostile()
    server.route("GET", "/v1/fine_tuning/jobs/{id}", handler)
    async with client_of(await serve(server), sleeps) as client:
        job = await client.fine_tuning.jobs.get("job-1")
    assert job.id == "job-1"


async def test_unknown_or_broken_encoding_is_a_decode_error(
    serve: Any, sleeps: SleepRecorder
) -> None:
    """An encoding the client did not ask for, or broken gzip, is a ResponseDecodeError."""
    bodies = {"br": b"xx", "gzip": b"\x1f\x8bnot gzip at all"}

    async def handler(request: web.Request) -> web.StreamResponse:
        coding = request.match_info["id"]
        return web.Response(body=bodies[coding], headers={"Content-Encoding": coding})

    server = Hostile()
    server.route("GET", "/v1/files/{id}", handler)
    async with client_of(await serve(server), sleeps) as client:
        for coding, expected in (("br", "'br' was not asked for"), ("gzip", "broken gzip")):
            with pytest.raises(ResponseDecodeError, match=expected) as caught:
                await client.files.get(coding)
            assert caught.value.attempts == 3  # a GET is retried: it may be a passing fault


async def test_slow_body_cannot_overrun_the_timeout(serve: Any, sleeps: SleepRecorder) -> None:
    """A body trickled byte by byte ends at the timeout per attempt; the error counts them."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        # Each read is quick: only a whole-call bound helps.
        await write_until_hangup(response, b" ", pause=0.05)
        return response

    server = Hostile()
    server.route("GET", "/v1/fine_tuning/jobs/{id}", trickle)
    async with client_of(await serve(server), sleeps, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            await client.fine_tuning.jobs.get("job-1")
        elapsed = time.monotonic() - started
    assert caught.value.attempts == 3
    assert "after 3 attempts" in str(caught.value)
    assert "0.5s" in str(caught.value)
    assert 1.4 < elapsed < 4, elapsed
    assert len(server.hits) == 3


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3:8000", "http://api.example.com", "http://[2001:db8::1]"]
)
def test_plain_http_beyond_loopback_is_refused(url: str) -> None:
    """The key never goes out unencrypted unless the caller opts in by name."""
    with pytest.raises(ConfigurationError, match="allow_insecure_http=True") as caught:
        AsyncClient(KEY_A, base_url=url)
    assert KEY_A not in str(caught.value)
    assert AsyncClient(KEY_A, base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80", "http://127.9.9.9"]
)
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    """Loopback (the emulator) needs no opt-in."""
    assert AsyncClient(KEY_A, base_url=url).base_url == url


async def test_redirect_to_another_host_is_refused(serve: Any, sleeps: SleepRecorder) -> None:
    """A 307 from the API host never re-sends a create elsewhere, and says where it pointed."""
    elsewhere = Hostile()

    async def steal(request: web.Request) -> web.StreamResponse:
        return web.json_response(JOB)

    elsewhere.route("POST", "/v1/fine_tuning/jobs", steal)
    other = await serve(elsewhere)
    api = Hostile()

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(f"{other}/v1/fine_tuning/jobs?token=abc")

    api.route("POST", "/v1/fine_tuning/jobs", redirect)
    async with client_of(await serve(api), sleeps) as client:
        with pytest.raises(RedirectError) as caught:
            await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=["f"])
    assert caught.value.location == f"{other}/v1/fine_tuning/jobs"
    assert other in str(caught.value)
    assert "token" not in str(caught.value)
    assert elsewhere.hits == []


async def test_same_origin_redirects(serve: Any, sleeps: SleepRecorder) -> None:
    """A same-origin redirect of a GET is followed; one that would turn a POST into a GET is not."""
    server = Hostile()

    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/v1/fine_tuning/jobs/job-1/")

    async def found(request: web.Request) -> web.StreamResponse:
        return web.json_response(JOB)

    async def see_other(request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/v1/fine_tuning/jobs")

    server.route("GET", "/v1/fine_tuning/jobs/job-1", moved)
    server.route("GET", "/v1/fine_tuning/jobs/job-1/", found)
    server.route("POST", "/v1/fine_tuning/jobs/job-1/cancel", see_other)
    async with client_of(await serve(server), sleeps) as client:
        assert (await client.fine_tuning.jobs.get("job-1")).id == "job-1"
        with pytest.raises(RedirectError, match="not followed"):
            await client.fine_tuning.jobs.cancel("job-1")
    assert "GET /v1/fine_tuning/jobs" not in server.hits


async def test_redirect_loop_ends(serve: Any, sleeps: SleepRecorder) -> None:
    """A redirect that points at itself ends after a few hops with RedirectError."""
    server = Hostile()

    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("/v1/files/file-1")

    server.route("GET", "/v1/files/{id}", loop)
    async with client_of(await serve(server), sleeps) as client:
        with pytest.raises(RedirectError, match="more than 5 redirects"):
            await client.files.get("file-1")
    assert len(server.hits) == 6


async def test_a_billion_jobs_that_go_nowhere(serve: Any, sleeps: SleepRecorder) -> None:
    """A server claiming a billion jobs, all from one second, ends with PaginationError soon."""
    server = Hostile()

    async def pages(request: web.Request) -> web.StreamResponse:
        number = int(request.query["page"])
        data = [{**JOB, "id": f"job-{number}-{i}"} for i in range(100)]
        return web.json_response({"data": data, "total": 10**9, "object": "list"})

    server.route("GET", "/v1/fine_tuning/jobs", pages)
    async with client_of(await serve(server), sleeps) as client:
        seen = 0

        async def walk() -> None:
            nonlocal seen
            async for _ in client.fine_tuning.jobs.list():
                seen += 1

        with anyio.fail_after(10), pytest.raises(PaginationError, match="same second"):
            await walk()
    assert len(server.hits) <= 25
    assert seen == 100 * len(server.hits)


async def test_a_server_that_ignores_the_page(serve: Any, sleeps: SleepRecorder) -> None:
    """The same page again and again is a PaginationError after the items it did give."""
    server = Hostile()

    async def same(request: web.Request) -> web.StreamResponse:
        data = [{**JOB, "id": f"job-{i}", "created_at": 1_700_000_000 - i} for i in range(100)]
        return web.json_response({"data": data, "total": 500, "object": "list"})

    server.route("GET", "/v1/fine_tuning/jobs", same)
    async with client_of(await serve(server), sleeps) as client:
        items: list[str] = []

        async def walk() -> None:
            async for job in client.fine_tuning.jobs.list():
                items.append(job.id)  # noqa: PERF401 (keep the items before the error)

        with pytest.raises(PaginationError, match="nothing new"):
            await walk()
    assert len(items) == len(set(items)) == 100


async def test_a_cancel_that_lands_with_the_timeout_is_never_lost(serve: Any) -> None:
    """Cancelling a request as its attempt times out cancels it: it is not retried as a timeout.

    A server that never answers; many requests at once, each cancelled around its first
    attempt's deadline, so some cancels land in the same loop pass as the timeout. Every one
    must end cancelled (aiohttp's own total timeout, entered twice while waiting for headers,
    lost about one in six such cancels: the request went on retrying).
    """

    release = asyncio.Event()

    async def never(request: web.Request) -> web.StreamResponse:
        await release.wait()  # until the test ends (aiohttp waits for handlers at cleanup)
        return web.Response()

    server = Hostile()
    server.route("GET", "/v1/fine_tuning/jobs/{id}", never)
    policy = RetryPolicy(max_retries=5, backoff_initial=0.001)
    async with AsyncClient(KEY_A, base_url=await serve(server), timeout=0.05, retry=policy) as c:
        loop = asyncio.get_running_loop()
        tasks = []
        for n in range(120):
            task = asyncio.create_task(c.fine_tuning.jobs.get("job-1"))
            loop.call_later(0.045 + (n % 40) * 0.00025, task.cancel)
            tasks.append(task)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        release.set()
    kinds = {type(outcome).__name__ for outcome in outcomes}
    assert kinds == {"CancelledError"}, kinds
