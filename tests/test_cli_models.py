"""``models`` commands in process, against an emulator: every action, tables and JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import GOOD_JSONL
from .test_cli_watch import KEY, cli

__all__ = ["KEY"]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)


@pytest.fixture
def trained(mistral_emulator: Emulator, tmp_path: Path) -> Callable[[], tuple[str, str]]:
    """A job run to SUCCESS through the CLI: its id and its model's."""
    path = tmp_path / "train.jsonl"
    path.write_bytes(GOOD_JSONL)
    emu = mistral_emulator

    def make() -> tuple[str, str]:
        file_id = cli(emu, "files", "upload", str(path), "--json").json_lines()[0]["id"]
        created = cli(emu, "jobs", "create", "--model", "open-mistral-7b", "--file", file_id,
                      "--auto-start", "--json")  # fmt: skip
        job_id = created.json_lines()[0]["id"]
        emu.advance(600)
        job = cli(emu, "jobs", "get", job_id, "--json").json_lines()[0]
        return job_id, job["fine_tuned_model"]

    return make


def test_models_commands_manage_a_fine_tuned_model(
    mistral_emulator: Emulator, trained: Callable[[], tuple[str, str]]
) -> None:
    """list (--fine-tuned), get, update, archive, unarchive, delete; then get is exit 3 (not
    found) with the service's message."""
    emu = mistral_emulator
    job_id, model_id = trained()
    listed = cli(emu, "models", "list", "--fine-tuned", "--json").json_lines()
    assert [(m["id"], m["job"], m["root"]) for m in listed] == [
        (model_id, job_id, "open-mistral-7b")
    ]
    table = cli(emu, "models", "list")
    assert table.code == 0
    assert table.out.splitlines()[0].split() == [
        "ID",
        "TYPE",
        "ROOT",
        "JOB",
        "ARCHIVED",
        "NAME",
        "CREATED",
    ]
    assert "open-mistral-7b" in table.out
    updated = cli(emu, "models", "update", model_id, "--name", "bot", "--json").json_lines()
    assert updated[0]["name"] == "bot"
    archived = cli(emu, "models", "archive", model_id, "--json").json_lines()
    assert archived[0]["archived"] is True
    assert cli(emu, "models", "get", model_id, "--json").json_lines()[0]["archived"] is True
    assert cli(emu, "models", "unarchive", model_id, "--json").json_lines()[0]["archived"] is False
    deleted = cli(emu, "models", "delete", model_id)
    assert deleted.code == 0
    assert "True" in deleted.out
    gone = cli(emu, "models", "get", model_id)
    assert gone.code != 0
    assert f"Model {model_id} not found" in gone.err


def test_models_update_needs_a_change(mistral_emulator: Emulator) -> None:
    """update without --name or --description is refused before anything is sent."""
    result = cli(mistral_emulator, "models", "update", "some-model")
    assert result.code == 2
    assert "give a name, a description, or both" in result.err


def test_files_download_writes_the_content_and_never_overwrites_by_accident(
    mistral_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """files download: to --output, or to the file's own name; an existing file is refused
    (exit 2) unless --force."""
    emu = mistral_emulator
    source = tmp_path / "train.jsonl"
    source.write_bytes(GOOD_JSONL)
    file_id = cli(emu, "files", "upload", str(source), "--json").json_lines()[0]["id"]
    target = tmp_path / "copy.jsonl"
    done = cli(emu, "files", "download", file_id, "-o", str(target), "--json").json_lines()
    assert done == [{"id": file_id, "path": str(target), "bytes": len(GOOD_JSONL)}]
    assert target.read_bytes() == GOOD_JSONL
    again = cli(emu, "files", "download", file_id, "-o", str(target))
    assert again.code == 2
    assert "--force" in again.err
    assert cli(emu, "files", "download", file_id, "-o", str(target), "--force").code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli(emu, "files", "download", file_id).code == 0
    assert (elsewhere / "train.jsonl").read_bytes() == GOOD_JSONL


@pytest.mark.mistral_emulator(speed=300.0)
def test_jobs_estimate_shows_the_cost_and_parks_the_job(
    mistral_emulator: Emulator, tmp_path: Path
) -> None:
    """jobs estimate: cost, tokens and duration from the service; the job waits with the
    command that starts it (or is cancelled with --cancel); a bad file exits 1 with why."""
    emu = mistral_emulator
    source = tmp_path / "train.jsonl"
    source.write_bytes(GOOD_JSONL)
    file_id = cli(emu, "files", "upload", str(source), "--json").json_lines()[0]["id"]
    shown = cli(emu, "jobs", "estimate", "--model", "open-mistral-7b", "--file", file_id,
                "--timeout", "30")  # fmt: skip
    assert shown.code == 0, shown.err
    assert shown.out.splitlines()[0].split()[:4] == ["ID", "STATUS", "COST", "CURRENCY"]
    assert "VALIDATED" in shown.out
    assert "mistral-jobs jobs start" in shown.err
    record = cli(emu, "jobs", "estimate", "--model", "open-mistral-7b", "--file", file_id,
                 "--cancel", "--json", "--timeout", "30").json_lines()[0]  # fmt: skip
    assert record["cancelled"] is True
    assert record["cost"] > 0
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"messages": []}\n')
    bad_id = cli(emu, "files", "upload", str(bad), "--json").json_lines()[0]["id"]
    failed = cli(emu, "jobs", "estimate", "--model", "open-mistral-7b", "--file", bad_id,
                 "--timeout", "30")  # fmt: skip
    assert failed.code == 1, failed.err
    assert "FAILED_VALIDATION" in failed.err
