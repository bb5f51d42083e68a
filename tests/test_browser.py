"""The FastAPI example page in a real headless Chromium: a job's status changes live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._browser import CHROMIUM_ARGS, REQUIRED, STATUSES_JS, chromium, serving_example

pytestmark = pytest.mark.anyio


@pytest.fixture
def example_url() -> Iterator[str]:
    """The docs' example app (with its embedded emulator) under uvicorn on loopback."""
    with serving_example() as url:
        yield url


async def test_page_shows_a_job_status_changing_live(example_url: str, tmp_path: Path) -> None:
    """Click 'Launch a job' and watch its status go through RUNNING to SUCCESS on the page."""
    browser_path = chromium()
    if browser_path is None:
        if REQUIRED:
            pytest.fail("Chromium is required here (MISTRAL_JOBS_REQUIRE_BROWSER=1) but missing")
        pytest.skip("no Chromium on this machine (CI installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=browser_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(example_url)
            await page.click("#launch")
            await page.wait_for_function(f"{STATUSES_JS}.includes('RUNNING')", timeout=30_000)
            await page.wait_for_function(f"{STATUSES_JS}.includes('SUCCESS')", timeout=30_000)
            await page.screenshot(path=str(tmp_path / "page.png"))
            statuses = await page.evaluate(STATUSES_JS)
        finally:
            await browser.close()
    assert statuses == ["SUCCESS"]
