"""A real Redis (Debian's ``redis-server``) on a free loopback port, for the sharing tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: CI sets this: there, a missing redis-server fails the tests instead of skipping them.
REQUIRED = os.environ.get("MISTRAL_JOBS_REQUIRE_REDIS") == "1"


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Start ``redis-server`` (no persistence) on a free port; its URL; stopped after."""
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRED:
            pytest.fail("redis-server is required here (MISTRAL_JOBS_REQUIRE_REDIS=1) but missing")
        pytest.skip("no redis-server on this machine (CI installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
