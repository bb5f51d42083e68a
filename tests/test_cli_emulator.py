"""``mistral-jobs emulator`` as a user runs it: a real process, real requests, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

SECRET = "cli-secret-key-123456"
Running = tuple[subprocess.Popen[str], str]


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mistral_jobs_async", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
    assert match, first
    return process, match.group(1)


def _get(url: str, key: str | None = SECRET) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def cli_emulator() -> Iterator[Running]:
    process, url = _start("--seed", "3", "--speed", "10")
    yield process, url
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_emulator_command_serves_logs_and_stops_on_ctrl_c(cli_emulator: Running) -> None:
    """It serves both APIs, logs one line per request without the key, and exits 0 on SIGINT."""
    process, url = cli_emulator
    assert _get(url + "/v1/fine_tuning/jobs")[0] == 200
    assert _get(url + "/forge/training/jobs?page_size=5")[0] == 200
    assert _get(url + "/v1/files", key=None)[0] == 401
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Emulator stopped." in out
    lines = [line for line in err.splitlines() if '"GET ' in line]
    assert len(lines) == 3, err
    assert "/forge/training/jobs?page_size=5" in lines[1]
    assert " 401 " in lines[2]
    assert SECRET not in out + err
    assert "Traceback" not in err


def test_emulator_command_sigterm(cli_emulator: Running) -> None:
    """SIGTERM stops it cleanly too."""
    process, _ = cli_emulator
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=10)
    assert process.returncode == 0


def test_emulator_options_are_applied() -> None:
    """--api-key and --rate-limit reach the server."""
    process, url = _start("--api-key", "only-me", "--rate-limit", "1", "--quiet")
    try:
        assert _get(url + "/v1/files", key="someone-else")[0] == 401
        assert _get(url + "/v1/files", key="only-me")[0] == 200
        assert _get(url + "/v1/files", key="only-me")[0] == 429
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert '"GET' not in err  # --quiet


def test_help_shows_examples() -> None:
    """--help explains the options and gives examples."""
    result = subprocess.run(
        [sys.executable, "-m", "mistral_jobs_async", "emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--speed" in result.stdout
    assert "examples:" in result.stdout


def test_port_in_use_is_one_clear_line() -> None:
    """A busy port is reported in one line, without a traceback."""
    process, url = _start("--quiet")
    port = url.rsplit(":", 1)[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mistral_jobs_async", "emulator", "--port", port],
            check=False,
            capture_output=True,
            text=True,
            timeout=20,
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
