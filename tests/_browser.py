"""The docs' FastAPI example in headless Chromium: what tests/test_browser.py and the docs'
screenshot hook (docs/hooks/screenshots.py) share."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests._uvicorn import serving

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "fastapi_app.py"
# CI installs Chromium from Debian's packages and sets this: there, a missing browser fails.
REQUIRED = os.environ.get("MISTRAL_JOBS_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
#: The statuses in the page's job table, as a JavaScript expression.
STATUSES_JS = "[...document.querySelectorAll('td.status')].map(td => td.textContent)"


def chromium() -> str | None:
    """Debian's Chromium (a test tool's own browser download is not possible here)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def serving_example() -> Iterator[str]:
    """The example app (with its embedded emulator) under uvicorn on loopback: its URL."""
    # With MISTRAL_BASE_URL set, the example would use that service instead of its emulator.
    base_url = os.environ.pop("MISTRAL_BASE_URL", None)
    try:
        spec = importlib.util.spec_from_file_location("fastapi_example", EXAMPLE)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with serving(module.app) as url:
            yield url
    finally:
        if base_url is not None:
            os.environ["MISTRAL_BASE_URL"] = base_url
