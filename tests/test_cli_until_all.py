"""``watch``/``wait --until``, ``watch --all`` and training progress, against an emulator."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import BAD_JSONL, GOOD_JSONL
from .test_cli_watch import _ANSI, KEY, FakeTTY, cli, first_line, interrupt, spawn

MakeJob = Callable[..., str]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI finds a key in the environment, and no base URL but the one each test passes."""
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)


@pytest.fixture
def make_job(mistral_emulator: Emulator, tmp_path: Path) -> MakeJob:
    """Create a fine-tuning job through the CLI (``bad=True``: its file fails validation)."""
    ids = {}
    for name, content in (("good", GOOD_JSONL), ("bad", BAD_JSONL)):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(content)
        uploaded = cli(mistral_emulator, "files", "upload", str(path), "--json")
        ids[name] = uploaded.json_lines()[0]["id"]

    def make(*options: str, bad: bool = False) -> str:
        file_id = ids["bad" if bad else "good"]
        created = cli(mistral_emulator, "jobs", "create", "--model", "open-mistral-7b",
                      "--file", file_id,
                      *options, "--json")  # fmt: skip
        assert created.code == 0, created.err
        return str(created.json_lines()[0]["id"])

    return make


def read_until(
    process: subprocess.Popen[str], wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """JSON lines a running ``watch --json`` prints, up to the first one ``wanted`` accepts."""
    seen: list[dict[str, Any]] = []
    while not seen or not wanted(seen[-1]):
        seen.append(json.loads(first_line(process.stdout, timeout=30)))
    return seen


def running_midway(emu: Emulator, make_job: MakeJob) -> str:
    """A 100-step job RUNNING with some checkpoints done; the clock then runs 20x fast."""
    job_id = make_job("--auto-start", "--training-steps", "100")
    emu.advance(30)  # queued, validating and starting take 17 s at most; training takes 50 s
    assert emu.job(job_id)["status"] == "RUNNING"
    emu.speed = 20.0
    return job_id


# --- wait --until ----------------------------------------------------------------------------


@pytest.mark.mistral_emulator(speed=0, seed=21)
@pytest.mark.timeout(60)
def test_wait_until_validated_returns_a_job_parked_there(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """wait --until VALIDATED follows a --no-auto-start job from QUEUED; prints it; exit 0."""
    job_id = make_job("--no-auto-start")
    mistral_emulator.speed = 20.0
    result = cli(mistral_emulator, "jobs", "wait", job_id, "--until", "VALIDATED", "--json")
    assert (result.code, result.err) == (0, "")
    [row] = result.json_lines()
    assert (row["id"], row["status"]) == (job_id, "VALIDATED")
    assert mistral_emulator.job(job_id)["status"] == "VALIDATED"


@pytest.mark.mistral_emulator(speed=0, seed=22)
@pytest.mark.timeout(60)
def test_wait_until_running_fails_when_validation_fails(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """wait --until RUNNING on a job whose file is bad: one stderr line names it and
    FAILED_VALIDATION; its row shows FAILED_VALIDATION; exit 1."""
    job_id = make_job("--auto-start", bad=True)
    mistral_emulator.speed = 20.0
    result = cli(mistral_emulator, "jobs", "wait", job_id, "--until", "RUNNING")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"mistral-jobs: error: job {job_id} ")
    assert "FAILED_VALIDATION" in result.err
    assert "without reaching RUNNING" in result.err
    assert re.search(rf"^{job_id}\s+FAILED_VALIDATION\s", result.out, re.MULTILINE)


@pytest.mark.mistral_emulator(speed=0, seed=23)
@pytest.mark.timeout(60)
def test_wait_until_waits_for_every_job_and_reports_each_failure(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """wait A B --until VALIDATED: A parked there is done, B already failed validation is one
    stderr line saying it had ended when first seen; both rows are printed; exit 1."""
    parked, failed = make_job("--no-auto-start"), make_job("--auto-start", bad=True)
    mistral_emulator.advance(60)
    result = cli(mistral_emulator, "jobs", "wait", parked, failed, "--until", "VALIDATED")
    assert result.code == 1
    assert result.err == (
        f"mistral-jobs: error: job {failed} had already ended FAILED_VALIDATION when first "
        "seen, without reaching VALIDATED while watched\n"
    )
    assert re.search(rf"^{parked}\s+VALIDATED\s", result.out, re.MULTILINE)
    assert re.search(rf"^{failed}\s+FAILED_VALIDATION\s", result.out, re.MULTILINE)


@pytest.mark.mistral_emulator(speed=0, seed=24)
def test_until_takes_commas_and_repeats_and_warns_on_unknown_statuses(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """--until A,B --until C is one set; an unknown status is warned about with a guess, not
    refused; a job in any of the set is done (exit 0)."""
    job_id = make_job("--no-auto-start")
    mistral_emulator.advance(60)
    result = cli(mistral_emulator, "jobs", "wait", job_id,
                 "--until", "SUCCESS,validated", "--until", "VALIDATED,", "--json")  # fmt: skip
    assert result.code == 0, result.err
    assert result.err.count("\n") == 1
    assert result.err.startswith(
        "mistral-jobs: warning: the fine-tuning API defines no status 'validated'; "
        "did you mean VALIDATED?"
    )
    assert result.json_lines()[0]["status"] == "VALIDATED"


def test_until_without_a_status_is_a_usage_error(mistral_emulator: Emulator) -> None:
    """--until with only commas is refused in one line (exit 2) before any request."""
    result = cli(mistral_emulator, "jobs", "wait", "some-job", "--until", ",")
    assert result.code == 2
    assert result.err == (
        "mistral-jobs: error: --until needs statuses, e.g. --until VALIDATED or "
        "--until RUNNING,SUCCESS\n"
    )
    assert mistral_emulator.request_count() == 0


@pytest.mark.mistral_emulator(speed=0, seed=25)
@pytest.mark.timeout(60)
def test_forge_wait_until_running_returns_the_running_job(
    mistral_emulator: Emulator,
) -> None:
    """forge wait --until RUNNING returns once the Forge job trains (exit 0), long before
    it ends."""
    created = cli(mistral_emulator, "forge", "create", "--job-type", "supervised_fine_tuning",
                  "--base-model", "mistral-small-latest", "--auto-start", "--json")  # fmt: skip
    job_id = created.json_lines()[0]["id"]
    mistral_emulator.speed = 20.0
    result = cli(mistral_emulator, "forge", "wait", job_id, "--until", "RUNNING", "--json")
    assert (result.code, result.err) == (0, "")
    assert result.json_lines()[0]["status"] == "RUNNING"
    assert mistral_emulator.job(job_id)["status"] == "RUNNING"  # 200 steps: 100 s to train


# --- watch --until ---------------------------------------------------------------------------


@pytest.mark.mistral_emulator(speed=0, seed=26)
@pytest.mark.timeout(60)
def test_watch_until_validated_ends_with_a_done_summary(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --until VALIDATED stops following parked jobs (it would wait forever otherwise)
    and ends with "3 jobs done: 2 VALIDATED, 1 FAILED_VALIDATION (<id>)"; exit 1."""
    first, second = make_job("--no-auto-start"), make_job("--no-auto-start")
    failed = make_job("--auto-start", bad=True)
    mistral_emulator.advance(60)
    result = cli(mistral_emulator, "jobs", "watch", first, failed, second, "--until", "VALIDATED")
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert lines[-1] == f"3 jobs done: 2 VALIDATED, 1 FAILED_VALIDATION ({failed})"
    assert f"{failed}  - -> FAILED_VALIDATION" in result.out


@pytest.mark.mistral_emulator(speed=0, seed=27)
@pytest.mark.timeout(60)
def test_watch_until_a_status_passed_through_is_done_and_exits_0(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """A job that goes through VALIDATED on its way (auto-start) is done for --until
    VALIDATED; the JSON summary names the --until set; exit 0."""
    job_id = make_job("--auto-start")
    mistral_emulator.speed = 20.0
    result = cli(mistral_emulator, "jobs", "watch", job_id, "--until", "VALIDATED", "--json")
    assert result.code == 0, result.err
    events = result.json_lines()
    statuses = [e["status"] for e in events if e["event"] == "transition"]
    assert statuses[-1] == "VALIDATED"
    assert events[-1] == {
        "event": "summary",
        "jobs": 1,
        "counts": {"VALIDATED": 1},
        "statuses": {job_id: "VALIDATED"},
        "until": ["VALIDATED"],
    }


@pytest.mark.mistral_emulator(speed=0, seed=35)
@pytest.mark.timeout(60)
def test_watch_until_keeps_the_estimates_seen_with_the_status(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --until VALIDATED --json reports the estimates (cost) of the poll that saw
    VALIDATED, which the watcher sends just before the transition; nothing after it."""
    job_id = make_job("--no-auto-start")
    mistral_emulator.advance(60)
    result = cli(mistral_emulator, "jobs", "watch", job_id, "--until", "VALIDATED", "--json")
    assert result.code == 0, result.err
    events = result.json_lines()
    assert [e["event"] for e in events] == ["metadata", "transition", "summary"]
    assert events[1]["status"] == "VALIDATED"
    assert events[0]["metadata"]["cost"] > 0


# --- watch --all -----------------------------------------------------------------------------


@pytest.mark.mistral_emulator(speed=0, seed=28)
@pytest.mark.timeout(90)
def test_watch_all_reports_new_matching_jobs_and_stops_on_ctrl_c(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --all --json --suffix X reports a job with suffix X created after it started,
    not one with another suffix, no progress by default; Ctrl-C says the jobs keep running."""
    before = make_job("--suffix", "nightly")
    watching = spawn(mistral_emulator, "jobs", "watch", "--all", "--suffix", "nightly", "--json")
    assert first_line(watching.stderr) == (
        "mistral-jobs: watching every fine-tuning job with suffix nightly, new ones included; "
        "Ctrl-C stops watching (the jobs keep running)\n"
    )
    seen = read_until(watching, lambda e: e["job_id"] == before)
    later, other = make_job("--suffix", "nightly"), make_job("--suffix", "weekly")
    seen += read_until(watching, lambda e: e["job_id"] == later)
    out, err = interrupt(watching)
    seen += [json.loads(line) for line in out.splitlines()]
    assert "Traceback" not in err
    assert {e["job_id"] for e in seen} == {before, later}
    assert other not in out
    assert {(e["event"], e["status"]) for e in seen} == {("transition", "QUEUED")}


@pytest.mark.mistral_emulator(speed=0, seed=29)
@pytest.mark.timeout(90)
def test_watch_all_until_reports_a_done_job_once(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --all --until VALIDATED --progress: a job done for the watch (its transition, its
    estimates) is not reported again when a later walk of the list finds it again."""
    parked = make_job("--no-auto-start", "--suffix", "once")
    mistral_emulator.advance(60)
    watching = spawn(mistral_emulator, "jobs", "watch", "--all", "--suffix", "once",
                     "--until", "VALIDATED", "--progress", "--json")  # fmt: skip
    seen = read_until(watching, lambda e: e["job_id"] == parked)
    later = make_job("--suffix", "once")  # seen by the next walk, which finds `parked` again
    seen += read_until(watching, lambda e: e["job_id"] == later)
    out, _ = interrupt(watching)
    seen += [json.loads(line) for line in out.splitlines()]
    about_parked = [(e["event"], e.get("status")) for e in seen if e["job_id"] == parked]
    assert about_parked == [("metadata", None), ("transition", "VALIDATED")]


@pytest.mark.mistral_emulator(speed=0, seed=30)
@pytest.mark.timeout(60)
def test_forge_watch_all_include_ended_reports_an_ended_job(
    mistral_emulator: Emulator,
) -> None:
    """forge watch --all --include-ended reports a Forge job that had already ended."""
    created = cli(mistral_emulator, "forge", "create", "--job-type", "supervised_fine_tuning",
                  "--base-model", "mistral-small-latest", "--json")  # fmt: skip
    job_id = created.json_lines()[0]["id"]
    mistral_emulator.set_status(job_id, "SUCCESS")
    watching = spawn(mistral_emulator, "forge", "watch", "--all", "--include-ended", "--json")
    [event] = read_until(watching, lambda e: True)
    assert (event["event"], event["job_id"], event["status"]) == ("transition", job_id, "SUCCESS")
    interrupt(watching)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the JOB_IDs to watch, or --all to watch every job"),
        (["job-1", "--all"], "give JOB_IDs or --all, not both"),
        (
            ["job-1", "--suffix", "x"],
            "--suffix goes only with --all (to choose the jobs it follows)",
        ),
        (
            ["job-1", "--status", "RUNNING", "--include-ended"],
            "--status, --include-ended go only with --all (to choose the jobs it follows)",
        ),
    ],
)
def test_watch_ids_and_all_misuse_is_one_line(
    mistral_emulator: Emulator, args: list[str], message: str
) -> None:
    """JOB_IDs and --all together, neither, or --all's filters without it: one line, exit 2,
    no request."""
    result = cli(mistral_emulator, "jobs", "watch", *args)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"mistral-jobs: error: {message}\n"
    assert mistral_emulator.request_count() == 0


# --- progress --------------------------------------------------------------------------------


@pytest.mark.mistral_emulator(speed=0, seed=31)
@pytest.mark.timeout(60)
def test_watch_json_reports_each_checkpoint_and_the_estimates(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --json (progress on by default with ids): every checkpoint once, in step order,
    before the job's end, with its losses; and the estimates as a "metadata" event."""
    job_id = running_midway(mistral_emulator, make_job)
    result = cli(mistral_emulator, "jobs", "watch", job_id, "--json")
    assert result.code == 0, result.err
    events = result.json_lines()
    checkpoints = [e for e in events if e["event"] == "checkpoint"]
    assert [e["step"] for e in checkpoints] == list(range(10, 101, 10))
    assert set(checkpoints[0]) == {
        "event", "job_id", "step", "train_loss", "valid_loss", "valid_mean_token_accuracy",
        "created_at",
    }  # fmt: skip
    losses = [e["train_loss"] for e in checkpoints]
    assert losses == sorted(losses, reverse=True)
    end = next(i for i, e in enumerate(events) if e.get("status") == "SUCCESS")
    assert events.index(checkpoints[-1]) < end
    [metadata] = [e for e in events if e["event"] == "metadata"]
    assert metadata["job_id"] == job_id
    assert metadata["metadata"]["cost_currency"] == "USD"


@pytest.mark.mistral_emulator(speed=0, seed=32)
@pytest.mark.timeout(60)
def test_watch_no_progress_reports_no_checkpoints(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """watch --no-progress --json: transitions and the summary only."""
    job_id = running_midway(mistral_emulator, make_job)
    result = cli(mistral_emulator, "jobs", "watch", job_id, "--no-progress", "--json")
    assert result.code == 0, result.err
    events = result.json_lines()
    assert {e["event"] for e in events} == {"transition", "summary"}
    assert events[-2]["status"] == "SUCCESS"


@pytest.mark.mistral_emulator(speed=0, seed=33)
@pytest.mark.timeout(60)
def test_watch_in_a_pipe_prints_a_line_per_checkpoint(
    mistral_emulator: Emulator, make_job: MakeJob
) -> None:
    """Plain watch prints "HH:MM:SS  ID  step N  train_loss X  valid_loss Y" per checkpoint."""
    job_id = running_midway(mistral_emulator, make_job)
    result = cli(mistral_emulator, "jobs", "watch", job_id)
    assert result.code == 0, result.err
    pattern = (
        rf"\d\d:\d\d:\d\d  {job_id}  step (\d+)  train_loss \d+\.\d{{3}}  valid_loss \d+\.\d{{3}}"
    )
    steps = [int(m.group(1)) for m in re.finditer(pattern, result.out)]
    assert steps == list(range(10, 101, 10))
    assert result.out.splitlines()[-1] == "1 job ended: 1 SUCCESS"


@pytest.mark.mistral_emulator(speed=0, seed=34)
@pytest.mark.timeout(60)
def test_watch_on_a_terminal_shows_the_latest_loss(
    mistral_emulator: Emulator, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live table has a loss column showing the last checkpoint: "step 100: 0.xxx"."""
    monkeypatch.setenv("COLUMNS", "200")
    job_id = running_midway(mistral_emulator, make_job)
    result = cli(mistral_emulator, "jobs", "watch", job_id, stdout=FakeTTY())
    assert result.code == 0, result.err
    text = _ANSI.sub("", result.out)
    assert re.search(r"since \(UTC\)\s+┃\s+loss\s+┃\s+note", text)
    assert re.search(
        rf"{job_id}\s+│\s+SUCCESS\s+│\s+\d\d:\d\d:\d\d\s+│\s+step 100: \d\.\d{{3}}", text
    )
