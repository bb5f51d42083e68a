"""Errors, retries and redaction of AsyncClient, driven by the emulator's faults."""

from __future__ import annotations

import io
import logging
import socket
import time

import anyio
import msgspec
import pytest

from mistral_jobs_async import (
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    IncompleteResponseError,
    MistralJobsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
)
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.models import FineTuningJob, TrainingJob

from .conftest import GOOD_JSONL, KEY_A, SleepRecorder

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"


async def _file_id(client: AsyncClient) -> str:
    return (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="t.jsonl")).id


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, APIStatusError),
    ],
)
async def test_each_status_has_its_class(
    emu: Emulator, client: AsyncClient, status: int, cls: type[APIStatusError]
) -> None:
    """An error status raises its class with the body's message/type/code and the request id."""
    emu.inject(Fault.http(status))
    with pytest.raises(cls) as caught:
        await client.fine_tuning.jobs.list()
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == f"Injected fault: HTTP {status}"
    assert error.code == status
    assert error.type
    assert error.request_id
    assert error.method == "GET"
    assert str(status) in str(error)


async def test_real_server_errors(emu: Emulator, client: AsyncClient) -> None:
    """Errors the service itself gives: 400 with its message, 404, 409."""
    with pytest.raises(BadRequestError, match="does not exist") as bad:
        await client.fine_tuning.jobs.create(
            model="open-mistral-7b", training_files=["0b9f8c1e-0000-4000-8000-0000000000aa"]
        )
    assert bad.value.type == "invalid_request_error"
    with pytest.raises(NotFoundError):
        await client.forge.jobs.get("0b9f8c1e-0000-4000-8000-0000000000aa")
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[await _file_id(client)]
    )
    with pytest.raises(ConflictError, match="VALIDATED"):
        await client.fine_tuning.jobs.start(job.id)


@pytest.mark.mistral_emulator(seed=1, speed=0.0, api_keys=["only-this-one"])
async def test_unaccepted_key_is_authentication_error(emu: Emulator, client: AsyncClient) -> None:
    """A key the server does not accept raises AuthenticationError, not retried."""
    with pytest.raises(AuthenticationError) as caught:
        await client.fine_tuning.jobs.list()
    assert KEY_A not in str(caught.value)
    assert KEY_A not in repr(caught.value)
    assert emu.request_count() == 1


async def test_get_is_retried_until_success(
    emu: Emulator, client: AsyncClient, sleeps: SleepRecorder
) -> None:
    """GET retries 500/502/503/504/408 with capped exponential backoff, then succeeds."""
    emu.inject(Fault.http(500, times=1), Fault.http(503, times=1))
    page = await client.fine_tuning.jobs.list()
    assert page.total == 0
    assert emu.request_count("GET") == 3
    assert sleeps.delays == [0.5, 1.0]


async def test_retries_are_bounded(emu: Emulator, sleeps: SleepRecorder) -> None:
    """max_retries bounds the attempts; the last error is raised."""
    emu.inject(Fault.http(502))
    async with AsyncClient(
        KEY_A, base_url=emu.url, max_retries=4, retry=RetryPolicy(sleep=sleeps)
    ) as client:
        with pytest.raises(ServerError):
            await client.fine_tuning.jobs.list()
    assert emu.request_count() == 5
    assert len(sleeps.delays) == 4
    assert all(0 <= d <= 8.0 for d in sleeps.delays)


async def test_backoff_is_capped_and_jittered(emu: Emulator, sleeps: SleepRecorder) -> None:
    """Full jitter draws within [0, min(max, initial * 2**n)]."""
    draws: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        draws.append((low, high))
        return high / 2

    emu.inject(Fault.http(500))
    policy = RetryPolicy(
        max_retries=6, backoff_initial=1.0, backoff_max=5.0, sleep=sleeps, jitter=jitter
    )
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as client:
        with pytest.raises(ServerError):
            await client.files.list()
    # (tenacity also computes a wait after the last attempt, which is never slept)
    assert draws[:6] == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0), (0.0, 5.0)]
    assert sleeps.delays == [0.5, 1.0, 2.0, 2.5, 2.5, 2.5]


async def test_retry_after_seconds_is_honoured(
    emu: Emulator, client: AsyncClient, sleeps: SleepRecorder
) -> None:
    """A 429's Retry-After (seconds) sets the wait, on every response that carries it."""
    emu.inject(Fault.http(429, retry_after=3, times=1), Fault.http(503, retry_after=7, times=1))
    await client.fine_tuning.jobs.list()
    assert sleeps.delays == [3.0, 7.0]


async def test_retry_after_http_date_uses_the_injected_clock(
    emu: Emulator, sleeps: SleepRecorder
) -> None:
    """An HTTP-date Retry-After becomes seconds by the policy's clock; one over the cap raises."""
    emu.inject(Fault.http(429, retry_after=120, retry_after_http_date=True, times=1))
    frozen = time.time()
    policy = RetryPolicy(sleep=sleeps, clock=lambda: frozen, retry_after_max=60)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.fine_tuning.jobs.list()
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 121
    assert sleeps.delays == []
    assert emu.request_count() == 1
    emu.inject(Fault.http(429, retry_after=30, retry_after_http_date=True, times=1))
    policy = RetryPolicy(sleep=sleeps, clock=lambda: frozen)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as client:
        await client.fine_tuning.jobs.list()
    assert 28 <= sleeps.delays[-1] <= 31


async def test_rate_limit_error_after_retries_carries_retry_after(
    emu: Emulator, client: AsyncClient
) -> None:
    """When 429s outlast the retries, RateLimitError carries the last Retry-After."""
    emu.inject(Fault.http(429, retry_after=2))
    with pytest.raises(RateLimitError) as caught:
        await client.fine_tuning.jobs.list()
    assert caught.value.retry_after == 2.0
    assert emu.request_count() == 3


async def test_create_is_not_retried_when_it_may_have_been_handled(
    emu: Emulator, client: AsyncClient
) -> None:
    """A 502 after the job was stored is not sent again: the job it made is found and returned."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(502, times=1, after=True, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 1
    assert [j.id for j in (await client.fine_tuning.jobs.list()).data] == [job.id]


async def test_create_refused_with_502_is_retried_once_checked(
    emu: Emulator, client: AsyncClient
) -> None:
    """A 502 before handling made no job: the lookup finds none, so the create is sent again."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(502, times=1, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 2
    assert [j.id for j in (await client.fine_tuning.jobs.list()).data] == [job.id]


async def test_create_answered_504_is_not_retried(emu: Emulator, client: AsyncClient) -> None:
    """A 504 may mean the job is still being made: found nothing yet, so it is raised."""
    file_id = await _file_id(client)
    emu.inject(Fault.http(504, times=1, method="POST", path=FT))
    with pytest.raises(ServerError):
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 1


@pytest.mark.off_spec("a dropped connection has no answer to check")
async def test_create_is_not_retried_after_a_dropped_connection(
    emu: Emulator, client: AsyncClient
) -> None:
    """A connection lost after the POST was handled is not sent again: its job is returned."""
    file_id = await _file_id(client)
    emu.inject(Fault.drop(times=1, after=True, method="POST", path=FT))
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 1
    assert [j.id for j in (await client.fine_tuning.jobs.list()).data] == [job.id]


@pytest.mark.off_spec("a dropped connection has no answer to check")
async def test_create_dropped_before_handling_still_raises(
    emu: Emulator, client: AsyncClient
) -> None:
    """A connection lost before the POST was handled made no job: IncompleteResponseError."""
    file_id = await _file_id(client)
    emu.inject(Fault.drop(times=1, method="POST", path=FT))
    with pytest.raises(IncompleteResponseError):
        await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert (await client.fine_tuning.jobs.list()).total == 0


async def test_create_is_retried_when_refused_before_handling(
    emu: Emulator, client: AsyncClient, sleeps: SleepRecorder
) -> None:
    """429 and 503 with Retry-After mean 'not handled': the create is retried, one job made."""
    file_id = await _file_id(client)
    emu.inject(
        Fault.http(429, retry_after=1, times=1, method="POST", path=FT),
        Fault.http(503, retry_after=2, times=1, method="POST", path=FT),
    )
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    assert emu.request_count("POST", FT) == 3
    assert sleeps.delays == [1.0, 2.0]
    assert [j.id for j in (await client.fine_tuning.jobs.list()).data] == [job.id]


async def test_plain_503_on_create_is_retried_once_checked(
    emu: Emulator, client: AsyncClient
) -> None:
    """A 503 without Retry-After on a create is looked up first; nothing done, so retried."""
    emu.inject(Fault.http(503, times=1, method="POST"))
    job = await client.forge.jobs.create(job_type="dpo", model_config={"base_model": "m"})
    assert emu.request_count("POST") == 2
    assert emu.job_ids() == [job.id]


async def test_upload_from_a_path_is_retried_with_the_whole_file(
    emu: Emulator, client: AsyncClient, tmp_path: object
) -> None:
    """A refused upload is sent again in full (the path is reopened)."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "train.jsonl"
    path.write_bytes(GOOD_JSONL)
    emu.inject(Fault.http(429, retry_after=1, times=1, method="POST", path="/v1/files"))
    uploaded = await client.files.upload(path)
    assert uploaded.bytes == len(GOOD_JSONL)
    with path.open("rb") as stream:
        emu.inject(Fault.http(429, retry_after=1, times=1, method="POST", path="/v1/files"))
        again = await client.files.upload(stream)
    assert again.bytes == len(GOOD_JSONL)
    assert emu.request_count("POST", "/v1/files") == 4


async def test_connect_error_is_transport_not_http(sleeps: SleepRecorder) -> None:
    """A refused connection raises ConnectError (retried first), never an aiohttp error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AsyncClient(
        KEY_A, base_url=f"http://127.0.0.1:{port}", retry=RetryPolicy(sleep=sleeps)
    ) as client:
        with pytest.raises(ConnectError) as caught:
            await client.fine_tuning.jobs.list()
    assert len(sleeps.delays) == 2
    assert isinstance(caught.value, MistralJobsError)
    assert KEY_A not in str(caught.value)


async def test_timeout_is_its_own_error(emu: Emulator, sleeps: SleepRecorder) -> None:
    """An answer slower than the timeout raises RequestTimeoutError after the retries."""
    emu.inject(Fault.delay(1.0, times=3))
    async with AsyncClient(
        KEY_A, base_url=emu.url, timeout=0.2, retry=RetryPolicy(sleep=sleeps)
    ) as client:
        with pytest.raises(RequestTimeoutError):
            await client.fine_tuning.jobs.list()
        assert len(sleeps.delays) == 2
        assert (await client.fine_tuning.jobs.list()).total == 0  # still usable


async def test_truncated_body_is_incomplete_response(emu: Emulator, client: AsyncClient) -> None:
    """A body cut short is retried on GET, and raises IncompleteResponseError when it persists."""
    emu.inject(Fault.truncate(times=1))
    assert (await client.fine_tuning.jobs.list()).total == 0
    emu.inject(Fault.truncate())
    with pytest.raises(IncompleteResponseError):
        await client.fine_tuning.jobs.list()


async def test_corrupt_body_is_a_decode_error(emu: Emulator, client: AsyncClient) -> None:
    """A 200 that is not JSON raises ResponseDecodeError, never a msgspec error."""
    emu.inject(Fault.corrupt())
    with pytest.raises(ResponseDecodeError) as caught:
        await client.fine_tuning.jobs.list()
    assert caught.value.status_code == 200
    assert not isinstance(caught.value, msgspec.MsgspecError)


async def test_cancellation_is_never_swallowed_by_a_retry(emu: Emulator) -> None:
    """Cancelling a request while it waits to retry stops it at once; the client stays usable."""
    emu.inject(Fault.http(503, retry_after=30, times=1))
    async with AsyncClient(KEY_A, base_url=emu.url) as client:
        started = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            await client.fine_tuning.jobs.list()
        assert scope.cancelled_caught
        assert time.monotonic() - started < 5
        assert (await client.fine_tuning.jobs.list()).total == 0


async def test_concurrent_requests_keep_their_own_retry_state(
    emu: Emulator, client: AsyncClient
) -> None:
    """Fifty concurrent GETs through random 503s all succeed; no state is shared between them."""
    emu.inject(Fault.http(503, rate=0.3))
    results: list[int] = []

    async def one() -> None:
        results.append((await client.fine_tuning.jobs.list()).total)

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(one)
    assert results == [0] * 50


async def test_key_never_shows(
    emu: Emulator, caplog: pytest.LogCaptureFixture, sleeps: SleepRecorder
) -> None:
    """The key is absent from the client's repr, errors and retry logs."""
    secret = "sk-very-secret-1234567890"
    emu.inject(Fault.http(503, times=2))
    caplog.set_level(logging.DEBUG, logger="mistral_jobs_async")
    async with AsyncClient(secret, base_url=emu.url, retry=RetryPolicy(sleep=sleeps)) as client:
        assert secret not in repr(client)
        await client.fine_tuning.jobs.list()
        emu.inject(Fault.http(401))
        with pytest.raises(AuthenticationError) as caught:
            await client.fine_tuning.jobs.list()
    assert "retrying GET /v1/fine_tuning/jobs" in caplog.text
    assert secret not in caplog.text
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__dict__)


def test_forward_compatible_models() -> None:
    """Unknown fields are ignored, unknown statuses kept, nulls accepted."""
    raw = b"""{"id": "j1", "status": "PAUSED_FOR_REVIEW", "job_type": "reward_modelling",
        "new_field": {"x": 1}, "suffix": null, "fine_tuned_model": null, "trained_tokens": null,
        "metadata": null, "integrations": null, "validation_files": null,
        "hyperparameters": {"training_steps": 5, "future": true},
        "checkpoints": [{"metrics": {"train_loss": 1.0, "other": 2}, "step_number": 1,
                         "created_at": 1}]}"""
    job = msgspec.json.decode(raw, type=FineTuningJob)
    assert job.status == "PAUSED_FOR_REVIEW"
    assert not job.is_terminal
    assert job.job_type == "reward_modelling"
    assert job.hyperparameters is not None
    assert job.hyperparameters.training_steps == 5
    forge = msgspec.json.decode(
        b'{"id": "t", "status": "ARCHIVED", "model_config": null}', type=TrainingJob
    )
    assert forge.status == "ARCHIVED"
    assert not forge.is_terminal


@pytest.mark.off_spec("forces a status the spec's enum does not list")
async def test_unknown_status_from_the_server_decodes(emu: Emulator, client: AsyncClient) -> None:
    """A status the client does not know comes through as is, over the wire."""
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[await _file_id(client)]
    )
    emu.set_status(job.id, "PAUSED_FOR_REVIEW")
    got = await client.fine_tuning.jobs.get(job.id)
    assert got.status == "PAUSED_FOR_REVIEW"
    assert not got.is_terminal


async def test_retried_errors_have_short_tracebacks(emu: Emulator, client: AsyncClient) -> None:
    """After retries the raised error's traceback does not run through tenacity."""
    import traceback

    emu.inject(Fault.http(503))
    with pytest.raises(ServerError) as caught:
        await client.fine_tuning.jobs.list()
    frames = "".join(traceback.format_tb(caught.value.__traceback__))
    assert "tenacity" not in frames
