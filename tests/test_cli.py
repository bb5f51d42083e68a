"""The real ``mistral-jobs`` console script, in a subprocess, against an emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import BAD_JSONL, GOOD_JSONL

KEY = "sk-cli-test-secret-987654"


def run(
    emu: Emulator | None, *args: str, key: str | None = KEY, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mistral_jobs_async", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(emu, key),
        check=False,
    )
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_env(emu: Emulator | None, key: str | None = KEY) -> dict[str, str]:
    """This process's environment without MISTRAL_*, then the key and the emulator's URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISTRAL_")}
    if key is not None:
        env["MISTRAL_API_KEY"] = key
    if emu is not None:
        env["MISTRAL_BASE_URL"] = emu.url
    return env


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "train.jsonl", tmp_path / "broken.jsonl"
    good.write_bytes(GOOD_JSONL)
    bad.write_bytes(BAD_JSONL)
    return good, bad


def test_files_commands(mistral_emulator: Emulator, files: tuple[Path, Path]) -> None:
    """files upload, list, get and delete, as JSON lines and as a table."""
    uploaded = lines(run(mistral_emulator, "files", "upload", str(files[0]), "--json"))
    assert uploaded[0]["filename"] == "train.jsonl"
    file_id = uploaded[0]["id"]
    table = run(mistral_emulator, "files", "list")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:2] == ["ID", "FILENAME"]
    assert file_id in table.stdout
    assert lines(run(mistral_emulator, "files", "get", file_id, "--json"))[0]["deleted"] is False
    assert lines(run(mistral_emulator, "files", "delete", file_id, "--json"))[0]["deleted"] is True
    missing = run(mistral_emulator, "files", "get", file_id)
    assert missing.returncode == 4
    assert missing.stderr.count("\n") == 1


@pytest.mark.mistral_emulator(speed=0, seed=2)
def test_jobs_commands(mistral_emulator: Emulator, files: tuple[Path, Path]) -> None:
    """jobs create, list, get, start and cancel, with --json parsed."""
    file_id = lines(run(mistral_emulator, "files", "upload", str(files[0]), "--json"))[0]["id"]
    created = lines(
        run(
            mistral_emulator,
            "jobs",
            "create",
            "--model",
            "open-mistral-7b",
            "--file",
            file_id,
            "--training-steps",
            "20",
            "--suffix",
            "cli",
            "--no-auto-start",
            "--json",
        )
    )
    job_id = created[0]["id"]
    assert created[0]["status"] == "QUEUED"
    assert created[0]["auto_start"] is False
    listed = lines(run(mistral_emulator, "jobs", "list", "--status", "QUEUED", "--json"))
    assert [j["id"] for j in listed] == [job_id]
    human = run(mistral_emulator, "jobs", "list")
    assert "1 of 1 jobs" in human.stdout
    mistral_emulator.advance(60)
    detail = lines(run(mistral_emulator, "jobs", "get", job_id, "--json"))[0]
    assert detail["status"] == "VALIDATED"
    assert detail["events"]
    started = lines(run(mistral_emulator, "jobs", "start", job_id, "--json"))[0]
    assert started["status"] == "STARTED"
    cancelled = lines(run(mistral_emulator, "jobs", "cancel", job_id, "--json"))[0]
    assert cancelled["status"] == "CANCELLATION_REQUESTED"
    assert "status" in run(mistral_emulator, "jobs", "get", job_id).stdout


@pytest.mark.mistral_emulator(speed=0, seed=2)
def test_forge_commands(mistral_emulator: Emulator) -> None:
    """forge create, list, get and cancel."""
    created = lines(
        run(
            mistral_emulator,
            "forge",
            "create",
            "--job-type",
            "dpo",
            "--base-model",
            "m",
            "--auto-start",
            "--json",
        )
    )[0]
    assert created["job_type"] == "dpo"
    assert [j["id"] for j in lines(run(mistral_emulator, "forge", "list", "--json"))] == [
        created["id"]
    ]
    assert (
        lines(run(mistral_emulator, "forge", "get", created["id"], "--json"))[0]["id"]
        == created["id"]
    )
    assert (
        lines(run(mistral_emulator, "forge", "cancel", created["id"], "--json"))[0]["status"]
        == "CANCELLED"
    )


@pytest.mark.mistral_emulator(speed=50, seed=3)
def test_watch_and_wait_exit_codes(mistral_emulator: Emulator, files: tuple[Path, Path]) -> None:
    """watch/wait take many ids and exit 1 when any job ends failed; 0 when all succeed."""
    good = lines(run(mistral_emulator, "files", "upload", str(files[0]), "--json"))[0]["id"]
    bad = lines(run(mistral_emulator, "files", "upload", str(files[1]), "--json"))[0]["id"]

    def create(file_id: str) -> str:
        return str(
            lines(
                run(
                    mistral_emulator,
                    "jobs",
                    "create",
                    "--model",
                    "open-mistral-7b",
                    "--file",
                    file_id,
                    "--training-steps",
                    "10",
                    "--auto-start",
                    "--json",
                )
            )[0]["id"]
        )

    ok_a, ok_b, failing = create(good), create(good), create(bad)
    watched = run(mistral_emulator, "jobs", "watch", ok_a, ok_b, "--json")
    assert watched.returncode == 0
    events = lines(watched)
    transitions = [e for e in events if e["event"] == "transition"]
    assert [e for e in transitions if e["job_id"] == ok_a][-1]["status"] == "SUCCESS"
    assert [e for e in transitions if e["job_id"] == ok_b][-1]["status"] == "SUCCESS"
    assert events[-1] == {
        "event": "summary",
        "jobs": 2,
        "counts": {"SUCCESS": 2},
        "statuses": {ok_a: "SUCCESS", ok_b: "SUCCESS"},
    }
    mixed = run(mistral_emulator, "jobs", "watch", ok_a, failing)
    assert mixed.returncode == 1
    assert "FAILED_VALIDATION" in mixed.stdout
    waited = run(mistral_emulator, "jobs", "wait", ok_a, ok_b, "--json")
    assert waited.returncode == 0
    assert {j["status"] for j in lines(waited)} == {"SUCCESS"}
    assert run(mistral_emulator, "jobs", "wait", failing).returncode == 1


@pytest.mark.mistral_emulator(speed=0, seed=4)
def test_wait_timeout_exit_code(mistral_emulator: Emulator, files: tuple[Path, Path]) -> None:
    """wait --timeout exits 124 with one line saying the job keeps running."""
    good = lines(run(mistral_emulator, "files", "upload", str(files[0]), "--json"))[0]["id"]
    job = lines(
        run(
            mistral_emulator,
            "jobs",
            "create",
            "--model",
            "open-mistral-7b",
            "--file",
            good,
            "--json",
        )
    )[0]
    result = run(mistral_emulator, "jobs", "wait", job["id"], "--timeout", "1")
    assert result.returncode == 124
    assert "keeps running" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("jobs", "get", "0b9f8c1e-0000-4000-8000-000000000000"), 4, "not found"),
        (("jobs", "get", "../x"), 2, "job_id"),
        (
            ("jobs", "create", "--model", "open-mistral-7b", "--file", "f", "--suffix", "x" * 30),
            2,
            "suffix",
        ),
        (("jobs", "list", "--page-size", "500"), 2, "page_size"),
        (("jobs", "frobnicate"), 2, "invalid choice"),
    ],
)
def test_error_lines_and_exit_codes(
    mistral_emulator: Emulator, args: tuple[str, ...], code: int, needle: str
) -> None:
    """Errors are one clear line with a distinct exit code."""
    result = run(mistral_emulator, *args)
    assert result.returncode == code, result.stderr
    assert needle in result.stderr
    assert result.stdout == ""


def test_auth_and_network_errors(mistral_emulator_factory: Any) -> None:
    """A refused key exits 3, no key exits 3, an unreachable server exits 5: one line each."""
    strict = mistral_emulator_factory(api_keys=["the-only-key"])
    refused = run(strict, "jobs", "list")
    assert refused.returncode == 3
    assert "MISTRAL_API_KEY" in refused.stderr
    missing = run(strict, "jobs", "list", key=None)
    assert missing.returncode == 3
    unreachable = run(
        None, "--base-url", "http://127.0.0.1:9", "--request-timeout", "2", "jobs", "list"
    )
    assert unreachable.returncode == 5
    assert len(unreachable.stderr.strip().splitlines()) == 1


@pytest.mark.mistral_emulator(speed=0, seed=5)
def test_ctrl_c_while_watching_says_jobs_keep_running(
    mistral_emulator: Emulator, files: tuple[Path, Path]
) -> None:
    """Ctrl-C stops the watch, says the remote jobs keep running, exits 130; no job is cancelled."""
    good = lines(run(mistral_emulator, "files", "upload", str(files[0]), "--json"))[0]["id"]
    job = lines(
        run(
            mistral_emulator,
            "jobs",
            "create",
            "--model",
            "open-mistral-7b",
            "--file",
            good,
            "--auto-start",
            "--json",
        )
    )[0]
    env = cli_env(mistral_emulator)
    process = subprocess.Popen(
        [sys.executable, "-m", "mistral_jobs_async", "jobs", "watch", job["id"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    assert "QUEUED" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "keep running" in err
    assert "Traceback" not in err
    assert mistral_emulator.job(job["id"])["status"] == "QUEUED"


def test_demo_runs_to_a_summary() -> None:
    """demo with a few jobs at high speed ends by itself with a summary (plain and JSON)."""
    started = time.monotonic()
    result = run(None, "demo", "--jobs", "8", "--speed", "60", "--json", key=None, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = lines(result)[-1]
    assert summary["event"] == "summary"
    assert summary["jobs"] == 8
    assert summary["succeeded"] + summary["failed"] + summary["cancelled"] == 8
    assert summary["cancelled"] >= 1
    assert summary["watcher_requests"] > 0
    plain = run(None, "demo", "--jobs", "6", "--speed", "60", key=None, timeout=120)
    assert plain.returncode == 0
    assert "the watcher spent" in plain.stdout
    assert "succeeded" in plain.stdout
    assert time.monotonic() - started < 110


def test_help_everywhere_has_examples() -> None:
    """--help works for every command and shows examples."""
    for args in (
        ("--help",),
        ("demo", "--help"),
        ("jobs", "--help"),
        ("jobs", "watch", "--help"),
        ("forge", "create", "--help"),
        ("files", "upload", "--help"),
    ):
        result = run(None, *args, key=None)
        assert result.returncode == 0
        assert "usage:" in result.stdout
    assert "examples" in run(None, "jobs", "--help", key=None).stdout
