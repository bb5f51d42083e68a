"""A real Redis (Debian's ``redis-server``) on a free loopback port, for the sharing tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

#: CI sets this: there, a missing redis-server fails the tests instead of skipping them.
REQUIRED = os.environ.get("MISTRAL_JOBS_REQUIRE_REDIS") == "1"


class RedisServer:
    """``redis-server`` on a free port, started and stopped at will (on the same port).

    Without ``persist`` it keeps nothing on disk; with it, an append-only file in
    ``directory`` lets the server started again pick up where the last one stopped.
    """

    def __init__(self, directory: Path, *, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if REQUIRED:
                pytest.fail("redis-server is required (MISTRAL_JOBS_REQUIRE_REDIS=1) but missing")
            pytest.skip("no redis-server on this machine (CI installs it)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes" if persist else "no", "--appendfsync", "always",
            "--dir", str(directory), "--protected-mode", "yes",
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start it and wait until it answers PING."""
        process = subprocess.Popen(
            self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._process = process
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        """Whether it has been started and not stopped."""
        return self._process is not None

    def stop(self) -> None:
        """Stop it (SIGTERM: with ``persist``, what it held is on disk)."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
