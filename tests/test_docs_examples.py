"""Every Python example in the README and in docs/ runs as written, and so do docs/examples/.

A ```python block is a script: it runs in a fresh interpreter with ``MISTRAL_API_KEY`` and
``MISTRAL_BASE_URL`` pointing at an emulator and a ``train.jsonl`` in its folder, as a reader
who followed the README would have them. A block preceded by ``<!-- example: pytest -->`` is
a test file and runs under pytest; ``<!-- example: fastapi -->`` is an app, served by uvicorn
and asked for its routes' answers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import GOOD_JSONL

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(?:<!-- example: (?P<kind>\w+) -->\n)?```python\n(?P<code>.*?)```", re.S)
#: Scripts served forever by their own nox session rather than run to an end here.
_SERVED = {"fastapi_app.py"}


@dataclass(frozen=True)
class Example:
    where: str
    kind: str
    code: str


def _examples() -> list[Example]:
    found: list[Example] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text[: match.start("code")].count("\n") + 1
            kind = match.group("kind") or "script"
            found.append(Example(f"{doc.relative_to(ROOT)}:{line}", kind, match.group("code")))
    for script in sorted((ROOT / "docs" / "examples").glob("*.py")):
        if script.name in _SERVED:
            continue
        kind = "pytest" if script.name.startswith("test_") else "script"
        found.append(Example(str(script.relative_to(ROOT)), kind, script.read_text("utf-8")))
    return found


EXAMPLES = _examples()


def test_every_doc_has_its_examples_found() -> None:
    """The collector sees the README's examples and the example scripts (a broken regex would
    silently test nothing)."""
    wheres = {example.where.split(":")[0] for example in EXAMPLES}
    assert {"README.md", "docs/client.md", "docs/watcher.md"} <= wheres
    assert "docs/examples/client_basics.py" in wheres
    assert len(EXAMPLES) >= 10


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_runs(example: Example, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The example runs to its end against a local emulator (and Redis, if it uses one)."""
    (tmp_path / "train.jsonl").write_bytes(GOOD_JSONL)
    script = tmp_path / ("test_example.py" if example.kind == "pytest" else "example.py")
    script.write_text(textwrap.dedent(example.code), encoding="utf-8")
    with Emulator(seed=1, speed=100.0) as emu:
        env = {
            **os.environ,
            "MISTRAL_API_KEY": "docs-example-key",
            "MISTRAL_BASE_URL": emu.url,
            "PYTHONPATH": str(ROOT),
        }
        if "REDIS_URL" in example.code:
            env["REDIS_URL"] = request.getfixturevalue("redis_url")
        if example.kind == "pytest":
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
        elif example.kind == "fastapi":
            command = [sys.executable, "-c", _SERVE_APP, str(script)]
        else:
            command = [sys.executable, str(script)]
        done = subprocess.run(
            command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=100,
        )  # fmt: skip
    assert done.returncode == 0, f"{example.where}\n{done.stdout}\n{done.stderr}"
    assert "docs-example-key" not in done.stdout + done.stderr


# Serve the app module given in argv[1] on a free port and call each GET route without
# parameters: the app must start, answer, and shut down cleanly.
_SERVE_APP = """
import importlib.util, socket, sys, threading, time, urllib.request
import uvicorn
spec = importlib.util.spec_from_file_location("example_app", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
config = uvicorn.Config(module.app, host="127.0.0.1", port=port, log_level="warning")
server = uvicorn.Server(config)
thread = threading.Thread(target=server.run); thread.start()
while not server.started:
    time.sleep(0.05)
try:
    for route in module.app.routes:
        path = getattr(route, "path", "")
        if "GET" in getattr(route, "methods", ()) and "{" not in path and path.startswith("/"):
            if path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
                continue
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                assert answer.status == 200, (path, answer.status)
finally:
    server.should_exit = True
    thread.join(10)
"""
