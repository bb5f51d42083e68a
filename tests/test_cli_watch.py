"""``watch`` and ``wait`` in process, against an emulator: summary, parked jobs, the live view."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from mistral_jobs_async import ConnectError
from mistral_jobs_async._cli import main
from mistral_jobs_async._cli._watch import Board
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.models import FineTuningJob
from mistral_jobs_async.watcher import CheckpointReported, PollFailed, Transition

from .conftest import GOOD_JSONL
from .test_cli import cli_env

KEY = "sk-cli-inprocess-secret-24680"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class FakeTTY(io.StringIO):
    """A buffer that says it is a terminal, as a user's shell does."""

    def isatty(self) -> bool:
        return True


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def cli(emu: Emulator | None, *args: str, stdout: io.StringIO | None = None) -> Result:
    """``mistral-jobs [--base-url emu] args...`` in this process, its output captured."""
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    base = ["--base-url", emu.url] if emu is not None else []
    code = main([*base, *args], stdout=out, stderr=err)
    result = Result(code, out.getvalue(), err.getvalue())
    assert KEY not in result.out + result.err
    return result


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI finds a key in the environment, and no base URL but the one each test passes."""
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)


@pytest.fixture
def make_job(mistral_emulator: Emulator, tmp_path: Path) -> Callable[..., str]:
    """Create a fine-tuning job through the CLI; return its id."""
    path = tmp_path / "train.jsonl"
    path.write_bytes(GOOD_JSONL)
    file_id = cli(mistral_emulator, "files", "upload", str(path), "--json").json_lines()[0]["id"]

    def make(*options: str) -> str:
        created = cli(mistral_emulator, "jobs", "create", "--model", "open-mistral-7b",
                      "--file", file_id,
                      *options, "--json")  # fmt: skip
        assert created.code == 0, created.err
        return str(created.json_lines()[0]["id"])

    return make


def parked(emu: Emulator, make_job: Callable[..., str]) -> str:
    """A job created with --no-auto-start, moved on to VALIDATED, where it waits for start."""
    job_id = make_job("--no-auto-start")
    emu.advance(60)
    assert emu.job(job_id)["status"] == "VALIDATED"
    return job_id


@pytest.mark.mistral_emulator(speed=0, seed=11)
def test_watch_ends_with_a_summary_line(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """Plain watch ends with "N jobs ended: ..." naming the jobs that did not succeed; exit 1."""
    ok_a, ok_b, bad = make_job(), make_job(), make_job()
    for job_id, status in ((ok_a, "SUCCESS"), (ok_b, "SUCCESS"), (bad, "FAILED")):
        mistral_emulator.set_status(job_id, status)
    result = cli(mistral_emulator, "jobs", "watch", ok_a, ok_b, bad)
    assert result.code == 1
    lines = result.out.splitlines()
    assert f"{bad}  - -> FAILED" in result.out
    assert lines[-1] == f"3 jobs ended: 2 SUCCESS, 1 FAILED ({bad})"


@pytest.mark.mistral_emulator(speed=0, seed=12)
def test_watch_json_ends_with_a_summary_object(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """watch --json ends with one {"event": "summary"} object: counts and each job's end."""
    ok, cancelled = make_job(), make_job()
    mistral_emulator.set_status(ok, "SUCCESS")
    mistral_emulator.set_status(cancelled, "CANCELLED")
    result = cli(mistral_emulator, "jobs", "watch", ok, cancelled, "--json")
    assert result.code == 1
    events = result.json_lines()
    # Progress is on by default with ids: the jobs' estimates come as "metadata" events.
    assert {e["event"] for e in events[:-1]} <= {"transition", "metadata"}
    transitions = [e for e in events if e["event"] == "transition"]
    assert {e["job_id"] for e in transitions} == {ok, cancelled}
    assert not any(e["waiting_for_start"] for e in transitions)
    assert events[-1] == {
        "event": "summary",
        "jobs": 2,
        "counts": {"CANCELLED": 1, "SUCCESS": 1},
        "statuses": {ok: "SUCCESS", cancelled: "CANCELLED"},
    }


def spawn(emu: Emulator, *args: str) -> subprocess.Popen[str]:
    """``mistral-jobs args...`` as a process, for commands that wait on a parked job."""
    return subprocess.Popen(
        [sys.executable, "-m", "mistral_jobs_async", "--base-url", emu.url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(None, KEY),
    )


def first_line(stream: IO[str] | None, timeout: float = 15) -> str:
    """The next line a process writes, failing (not hanging) when none comes in time."""
    assert stream is not None
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert got, f"no line within {timeout}s"
    return got[0]


def interrupt(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C, as a user ends a watch of a job nobody starts; the rest of its output."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "keep running" in err
    assert KEY not in out + err
    return out, err


# A parked job is polled slowly (the watcher's max_interval): these tests stop the command
# with Ctrl-C once it has said what it sees, rather than wait for its next poll.


@pytest.mark.mistral_emulator(speed=0, seed=13)
def test_watch_shows_a_parked_job_with_the_command_that_starts_it(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """A job parked in VALIDATED reads "waiting for start; run: ..."; that command works."""
    job_id = parked(mistral_emulator, make_job)
    watching = spawn(mistral_emulator, "jobs", "watch", job_id)
    first = first_line(watching.stdout).rstrip("\n")
    hint = f"VALIDATED: waiting for start; run: mistral-jobs jobs start {job_id}"
    assert re.fullmatch(rf"\d\d:\d\d:\d\d  {job_id}  - -> {hint}", first), first
    command = first.split("run: mistral-jobs ", 1)[1].split()
    assert cli(mistral_emulator, *command).code == 0
    assert mistral_emulator.job(job_id)["status"] == "STARTED"
    interrupt(watching)


@pytest.mark.mistral_emulator(speed=0, seed=14)
def test_watch_json_marks_a_parked_job(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """In --json, the transition to a parked VALIDATED has "waiting_for_start": true."""
    job_id = parked(mistral_emulator, make_job)
    watching = spawn(mistral_emulator, "jobs", "watch", job_id, "--json")
    first = json.loads(first_line(watching.stdout))
    while first["event"] != "transition":  # the estimates come just before it
        first = json.loads(first_line(watching.stdout))
    assert (first["job_id"], first["status"]) == (job_id, "VALIDATED")
    assert first["waiting_for_start"] is True
    interrupt(watching)


@pytest.mark.mistral_emulator(speed=0, seed=15)
def test_wait_says_once_that_a_parked_job_needs_start(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """wait on a parked job tells stderr once how to start it, and goes on waiting."""
    job_id = parked(mistral_emulator, make_job)
    waiting = spawn(mistral_emulator, "jobs", "wait", job_id)
    assert first_line(waiting.stderr) == (
        f"mistral-jobs: job {job_id} is VALIDATED, waiting for start; "
        f"run: mistral-jobs jobs start {job_id}\n"
    )
    time.sleep(1)
    assert waiting.poll() is None
    out, err = interrupt(waiting)
    assert "jobs start" not in err
    assert out == ""


def test_watch_view_renders_jobs_and_the_parked_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live view's table: job, status, since (UTC), loss, and the parked job's command."""
    monkeypatch.setenv("COLUMNS", "200")
    from mistral_jobs_async._live import WatchView, terminal_console

    done, waiting, failing = "job-done", "job-parked", "job-poll"
    board = Board([done, waiting, failing])
    at = 1_700_000_000.0  # 22:13:20 UTC
    board.apply(CheckpointReported(done, 40, 1.23456, 1.3, 0.8, None, at))
    for job_id, status, auto_start in ((done, "SUCCESS", True), (waiting, "VALIDATED", False)):
        job = FineTuningJob(id=job_id, status=status, auto_start=auto_start)
        board.apply(Transition(job_id, None, status, job, at))
    board.apply(PollFailed(failing, ConnectError("refused", method="GET", url="u"), 1, at))
    screen = FakeTTY()
    with WatchView(terminal_console(screen), title="watching fine-tuning jobs") as view:
        view.show(board.rows(), board.progress())
    text = _ANSI.sub("", screen.getvalue())
    assert "watching fine-tuning jobs" in text
    assert re.search(r"job\s+┃\s+status\s+┃\s+since \(UTC\)\s+┃\s+loss\s+┃\s+note", text)
    assert re.search(rf"{done}\s+│\s+SUCCESS\s+│\s+22:13:20\s+│\s+step 40: 1\.235\s+│", text)
    hint = f"waiting for start; run: mistral-jobs jobs start {waiting}"
    assert re.search(rf"{waiting}\s+│\s+VALIDATED\s+│\s+22:13:20\s+│\s+-\s+│\s+{hint}", text)
    assert re.search(rf"{failing}\s+│\s+-\s+│\s+-\s+│\s+-\s+│\s+poll failed \(refused", text)
    assert "1/3 ended" in text


@pytest.mark.mistral_emulator(speed=0, seed=16)
def test_watch_on_a_terminal_draws_a_live_table(
    mistral_emulator: Emulator, make_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, watch draws the live table of its jobs, then the summary line."""
    monkeypatch.setenv("COLUMNS", "200")
    ok, bad = make_job(), make_job()
    mistral_emulator.set_status(ok, "SUCCESS")
    mistral_emulator.set_status(bad, "FAILED")
    screen = FakeTTY()
    result = cli(mistral_emulator, "jobs", "watch", ok, bad, stdout=screen)
    assert result.code == 1
    assert "\x1b[" in result.out  # drawn for a terminal
    text = _ANSI.sub("", result.out)
    assert "watching fine-tuning jobs" in text
    assert re.search(rf"{ok}\s+│\s+SUCCESS\s+│\s+\d\d:\d\d:\d\d", text)
    assert re.search(rf"{bad}\s+│\s+FAILED\s+│\s+\d\d:\d\d:\d\d", text)
    assert "2/2 ended" in text
    assert text.rstrip().splitlines()[-1] == f"2 jobs ended: 1 SUCCESS, 1 FAILED ({bad})"


@pytest.mark.mistral_emulator(speed=0, seed=17)
def test_watch_in_a_pipe_stays_plain(
    mistral_emulator: Emulator, make_job: Callable[..., str]
) -> None:
    """Into a pipe (not a terminal) watch prints plain lines, no terminal control codes."""
    job_id = make_job()
    mistral_emulator.set_status(job_id, "SUCCESS")
    result = cli(mistral_emulator, "jobs", "watch", job_id)
    assert "\x1b" not in result.out
    assert re.fullmatch(rf"\d\d:\d\d:\d\d  {job_id}  - -> SUCCESS", result.out.splitlines()[0])
