"""MkDocs hook: pictures of the real programs, made at build time (none is committed).

* ``img/fastapi-page.png``: ``docs/examples/fastapi_app.py`` (with its embedded emulator) under
  uvicorn on loopback, in headless Chromium driven by Playwright, after a click on "Launch a
  job", once the job's row says RUNNING or SUCCESS.
* ``img/demo-live.svg``: ``mistral-jobs demo`` run on a pseudo-terminal; the first frame of its
  live view with half the jobs ended, decoded from the terminal's bytes and drawn by rich.

Both are added to the site as generated files, so ``--strict`` checks the pages' links to them.
Without Chromium (or Playwright), the FastAPI page says so in place of its picture, unless
``MISTRAL_JOBS_REQUIRE_BROWSER=1`` (CI), where the build fails instead.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import select
import subprocess
import sys
import time
import tty
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

# The browser and example-serving parts are the browser test's (tests/_browser.py): one place.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests._browser import (
    CHROMIUM_ARGS,
    REQUIRED,
    STATUSES_JS,
    chromium,
    serving_example,
)

log = logging.getLogger("mkdocs.hooks.screenshots")

PAGE_IMAGE = "img/fastapi-page.png"
DEMO_IMAGE = "img/demo-live.svg"
# A short batch at a fast clock: half of it has ended three to five seconds in.
DEMO_COMMAND = ("mistral-jobs", "demo", "--jobs", "24", "--speed", "30")
DEMO_WIDTH = 90
# rich's Live moves back to the top of its view before each redraw: carriage return, then
# "erase line" and "cursor up" for every line of the previous frame.
REDRAW = re.compile(r"\r\x1b\[2K(?:\x1b\[1A\x1b\[2K)*")
ENDED = re.compile(r"(\d+)/(\d+) ended")

# Made once per process: `mkdocs serve` keeps this module across rebuilds and reuses them.
IMAGES: dict[str, bytes] = {}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add both pictures to the site (taking them on the first build)."""
    if not IMAGES:
        started = time.monotonic()
        missing = browser_missing()
        if missing is not None and REQUIRED:
            raise PluginError(f"screenshots: {missing}, and MISTRAL_JOBS_REQUIRE_BROWSER=1")
        if missing is not None:
            # Not a WARNING: under --strict that fails the build, and a machine without
            # Chromium should still build the site (CI, which has it, requires it).
            log.info("screenshots: %s; %s is left out (CI requires it)", missing, PAGE_IMAGE)
        images: dict[str, bytes] = {}
        # The demo runs (in its own process) while the browser takes the page: ~4 s saved.
        with ThreadPoolExecutor(1) as pool:
            demo = pool.submit(demo_svg)
            if missing is None:
                images[PAGE_IMAGE] = page_png()
            images[DEMO_IMAGE] = demo.result()
        IMAGES.update(images)
        log.info("screenshots: taken in %.1f s", time.monotonic() - started)
    for name, content in IMAGES.items():
        files.append(File.generated(config, name, content=content))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Without the page screenshot, a sentence saying why replaces its image."""
    if PAGE_IMAGE in IMAGES or PAGE_IMAGE not in markdown:
        return markdown
    image = re.compile(r"!\[[^\]]*\]\(" + re.escape(PAGE_IMAGE) + r"\)")
    note = f"*(No screenshot in this build: {browser_missing()}.)*"
    return image.sub(note, markdown)


# --- the FastAPI example page in Chromium ------------------------------------------------------


def browser_missing() -> str | None:
    """Why the page cannot be photographed here, or None if it can."""
    if chromium() is None:
        return "no Chromium was found on PATH"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (the docs extra brings it)"
    return None


def page_png() -> bytes:
    """The example page after a job was launched from it, as the browser shows it."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (Chromium may be missing)

    with serving_example() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 800, "height": 200})
            page.goto(url)
            page.click("#launch")
            page.wait_for_function(
                f"{STATUSES_JS}.some(s => s === 'RUNNING' || s === 'SUCCESS')", timeout=30_000
            )
            return page.screenshot(full_page=True)
        finally:
            browser.close()


# --- the demo's live view on a terminal --------------------------------------------------------


def demo_svg() -> bytes:
    """One frame of the demo's live view, drawn as a terminal by rich."""
    from rich.console import Console  # noqa: PLC0415 (the cli extra)
    from rich.text import Text  # noqa: PLC0415

    console = Console(record=True, width=DEMO_WIDTH, file=io.StringIO(), force_terminal=True)
    console.print(f"$ {' '.join(DEMO_COMMAND)}", style="bold", highlight=False)
    console.print(Text.from_ansi(demo_frame()))
    return console.export_svg(title=" ".join(DEMO_COMMAND)).encode()


def demo_frame() -> str:
    """Run the demo on a pseudo-terminal until a frame shows half the jobs ended; that frame."""
    from rich.text import Text  # noqa: PLC0415 (the cli extra)

    master, terminal = os.openpty()
    tty.setraw(terminal)  # the bytes as rich wrote them: no newline turned into "\r\n"
    env = {**os.environ, "COLUMNS": str(DEMO_WIDTH), "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    demo = subprocess.Popen(  # noqa: S603 (our own command)
        [sys.executable, "-m", "mistral_jobs_async", *DEMO_COMMAND[1:]],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(terminal)
    written = b""
    checked = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the demo ended and its terminal closed
                chunk = b""
            if not chunk:
                break
            written += chunk
            # The last piece may be a frame still being written: only whole ones count.
            frames = REDRAW.split(written.decode(errors="replace"))[:-1]
            for frame in frames[checked:]:
                ended = ENDED.search(Text.from_ansi(frame).plain)
                if ended and 2 * int(ended[1]) >= int(ended[2]) > 0:
                    return frame
            checked = len(frames)
    finally:
        demo.terminate()
        _, errors = demo.communicate(timeout=15)
        os.close(master)
    raise PluginError(
        f"screenshots: no frame of `{' '.join(DEMO_COMMAND)}` showed half its jobs ended "
        f"(exit {demo.returncode}): {errors.decode(errors='replace').strip()[-500:]}"
    )
