"""pytest plugin (registered by entry point): fixtures that serve a fresh emulator per test.

The emulator runs in a background thread, so the fixtures are plain (synchronous) fixtures:
they work in sync tests and in async tests under any plugin (anyio, pytest-asyncio), whatever
the event loop's scope. Configure one test's emulator with a marker::

    @pytest.mark.mistral_emulator(speed=50, seed=1, rate_limit=5)
    async def test_my_pipeline(mistral_emulator): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from mistral_jobs_async.emulator._server import Emulator

__all__ = ["mistral_emulator", "mistral_emulator_factory", "mistral_env"]

MARKER = "mistral_emulator"
TEST_API_KEY = "test-key"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the test's emulator (speed, seed, rate_limit, ...)",
    )


@pytest.fixture
def mistral_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with any ``Emulator`` options; each stops when the test ends."""
    with ExitStack() as stack:

        def start(**options: Any) -> Emulator:
            return stack.enter_context(Emulator(**options))

        yield start


@pytest.fixture
def mistral_emulator(
    request: pytest.FixtureRequest, mistral_emulator_factory: Callable[..., Emulator]
) -> Emulator:
    """A running emulator on 127.0.0.1 (options from the ``mistral_emulator`` marker)."""
    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return mistral_emulator_factory(**options)


@pytest.fixture
def mistral_env(mistral_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator, with ``MISTRAL_BASE_URL`` and ``MISTRAL_API_KEY`` pointing at it."""
    monkeypatch.setenv("MISTRAL_BASE_URL", mistral_emulator.url)
    monkeypatch.setenv("MISTRAL_API_KEY", TEST_API_KEY)
    return mistral_emulator
