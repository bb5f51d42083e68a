"""The FastAPI example page in a real headless Chromium: a job's status changes live."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "fastapi_app.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium from Debian's packages and sets this: there, a missing browser fails.
REQUIRED = os.environ.get("MISTRAL_JOBS_REQUIRE_BROWSER") == "1"


@pytest.fixture
def example_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The docs' example app (with its embedded emulator) under uvicorn on loopback."""
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)
    spec = importlib.util.spec_from_file_location("fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(module.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


async def test_page_shows_a_job_status_changing_live(example_url: str, tmp_path: Path) -> None:
    """Click 'Launch a job' and watch its status go through RUNNING to SUCCESS on the page."""
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("Chromium is required here (MISTRAL_JOBS_REQUIRE_BROWSER=1) but missing")
        pytest.skip("no Chromium on this machine (CI installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        try:
            page = await browser.new_page()
            await page.goto(example_url)
            await page.click("#launch")
            seen = "() => [...document.querySelectorAll('td.status')].map(td => td.textContent)"
            await page.wait_for_function(f"({seen})().includes('RUNNING')", timeout=30_000)
            await page.wait_for_function(f"({seen})().includes('SUCCESS')", timeout=30_000)
            await page.screenshot(path=str(tmp_path / "page.png"))
            statuses = await page.evaluate(seen)
        finally:
            await browser.close()
    assert statuses == ["SUCCESS"]
