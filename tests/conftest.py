"""Shared fixtures: an emulator per test whose every answer is checked against the OpenAPI files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS31Validator

from mistral_jobs_async import AsyncClient, RetryPolicy
from mistral_jobs_async.emulator import Emulator, Exchange

KEY_A = "key-a-secret-0001"
KEY_B = "key-b-secret-0002"
HOST = "https://api.mistral.ai"

_SPEC_DIR = Path(str(resources.files("mistral_jobs_async.emulator") / "openapi"))
# The first prefix that matches decides (fine-tuned models live under /v1/fine_tuning/).
_MODELS_SPEC = OpenAPI.from_file_path(str(_SPEC_DIR / "models.openapi.yml"))
_SPECS = {
    "/v1/fine_tuning/models/": _MODELS_SPEC,
    "/v1/models": _MODELS_SPEC,
    "/v1/fine_tuning/": OpenAPI.from_file_path(str(_SPEC_DIR / "fine-tuning.openapi.yml")),
    "/forge/": OpenAPI.from_file_path(str(_SPEC_DIR / "forge.openapi.yml")),
    "/v1/files": OpenAPI.from_file_path(str(_SPEC_DIR / "files.openapi.yml")),
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "type", "code"],
    "properties": {
        "message": {"type": "string"},
        "type": {"type": "string"},
        "code": {"type": "integer"},
    },
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "off_spec(reason): the test makes the emulator answer outside the spec"
    )


class SpecChecker:
    """Validates every answer of an emulator against the OpenAPI file of its API."""

    def __init__(self) -> None:
        self.checked = 0
        self.failures: list[str] = []

    def __call__(self, exchange: Exchange) -> None:
        spec = next((s for prefix, s in _SPECS.items() if exchange.path.startswith(prefix)), None)
        if spec is None:
            if exchange.status < 400:
                self.failures.append(f"{exchange.method} {exchange.path}: no spec covers it")
            self._check_error(exchange)
            return
        self.checked += 1
        request = MockRequest(HOST, exchange.method, exchange.path, args=exchange.query)
        response = MockResponse(
            exchange.response_body,
            status_code=exchange.status,
            content_type=exchange.response_content_type,
        )
        try:
            spec.validate_response(request, response)
        except ResponseNotFound:
            # Statuses the spec does not list for this operation (429, 5xx, 409 ...) must
            # still carry the spec's Error body.
            self._check_error(exchange)
        except PathError:
            # A route or method the spec lacks: only an error answer is right.
            if exchange.status < 400:
                self.failures.append(f"{exchange.method} {exchange.path}: not in the spec")
            self._check_error(exchange)
        except Exception as exc:
            self.failures.append(
                f"{exchange.method} {exchange.path} -> {exchange.status}: {exc!r} "
                f"{exchange.response_body[:300]!r}"
            )

    def _check_error(self, exchange: Exchange) -> None:
        if exchange.status < 400:
            return
        try:
            body = json.loads(exchange.response_body)
            errors = list(OAS31Validator(_ERROR_SCHEMA).iter_errors(body))
        except ValueError as exc:
            errors = [exc]
        if errors or body.get("code") != exchange.status:
            self.failures.append(f"{exchange.method} {exchange.path}: bad error body {errors}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def spec_checker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SpecChecker]:
    """Every emulator built during a test reports its answers here; they must fit the spec."""
    checker = SpecChecker()
    original = Emulator.__init__

    def init(self: Emulator, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.add_observer(checker)

    monkeypatch.setattr(Emulator, "__init__", init)
    yield checker
    if request.node.get_closest_marker("off_spec") is None:
        assert checker.failures == [], "\n".join(checker.failures)


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """A started emulator, frozen clock and seed 1 unless the mistral_emulator marker says."""
    marker = request.node.get_closest_marker("mistral_emulator")
    options: dict[str, Any] = {"seed": 1, "speed": 0.0}
    options.update(marker.kwargs if marker else {})
    async with Emulator(**options) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """A tiny raw-HTTP helper for tests: one key, JSON in and out, no retries."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str | None) -> None:
        self.session = session
        self.base = base
        self.key = key

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        merged = {**self.headers(), **(headers or {})}
        async with self.session.request(
            method, self.base + path, headers=merged, **kwargs
        ) as response:
            body = await response.read()
            return response.status, (json.loads(body) if body else None)

    async def upload(self, content: bytes, filename: str = "train.jsonl") -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("purpose", "fine-tune")
        form.add_field("file", content, filename=filename)
        status, body = await self.call("POST", "/v1/files", data=form)
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    async def create_ft(self, file_id: str, **fields: Any) -> dict[str, Any]:
        payload = {"model": "open-mistral-7b", "training_files": [{"file_id": file_id}], **fields}
        status, body = await self.call("POST", "/v1/fine_tuning/jobs", json=payload)
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    async def create_forge(self, **fields: Any) -> dict[str, Any]:
        payload = {
            "job_type": "supervised_fine_tuning",
            "model_config": {"base_model": "mistral-small-latest"},
            **fields,
        }
        status, body = await self.call("POST", "/forge/training/jobs", json=payload)
        assert status == 200, body
        result: dict[str, Any] = body
        return result


GOOD_JSONL = b"".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ]
        }
    ).encode()
    + b"\n"
    for i in range(20)
)
BAD_JSONL = b'{"messages": [{"role": "user", "content": "no answer"}]}\nnot json\n'


@pytest.fixture
def api(emu: Emulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, emu.url, KEY_A)


@pytest.fixture
def api_b(emu: Emulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, emu.url, KEY_B)


MakeApi = Callable[[str | None], Api]


@pytest.fixture
def make_api(emu: Emulator, http: aiohttp.ClientSession) -> MakeApi:
    return lambda key: Api(http, emu.url, key)


class SleepRecorder:
    """A retry sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def client(emu: Emulator, sleeps: SleepRecorder) -> AsyncIterator[AsyncClient]:
    """A client of ``emu`` with key A whose retries wait no real time (full backoff, no jitter)."""
    policy = RetryPolicy(sleep=sleeps, jitter=lambda low, high: high)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy) as c:
        yield c


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Redis for the whole test session (tests use namespaces of their own)."""
    from ._redis import RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url
