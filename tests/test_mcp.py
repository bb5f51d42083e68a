"""The MCP server, driven by the MCP SDK's own client against the emulator: its tools, their
schemas and annotations, progress while waiting, and every guardrail."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mistral_jobs_async import AsyncClient
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.mcp import Guardrails, build_server

from .conftest import GOOD_JSONL

pytestmark = pytest.mark.anyio

MUTATING = {"estimate_job", "create_job", "start_job", "cancel_job", "run_sweep"}


async def _file(client: AsyncClient) -> str:
    return (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")).id


async def _call(mcp: Client, tool: str, **arguments: Any) -> Any:
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def _refused(mcp: Client, tool: str, **arguments: Any) -> str:
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def test_tools_have_schemas_and_safety_annotations(client: AsyncClient) -> None:
    """Every tool has an input and an output schema; reads are read-only and idempotent,
    cancel is destructive, creates are neither read-only nor idempotent."""
    async with Client(build_server(client)) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == {
        "list_jobs", "get_job", "list_models", "get_model", "list_files",
        "validate_training_file", "estimate_job", "create_job", "start_job", "cancel_job",
        "wait_for_job", "run_sweep",
    }  # fmt: skip
    for name, tool in tools.items():
        assert tool.output_schema is not None, name
        assert tool.annotations is not None, name
        assert tool.annotations.read_only_hint is (name not in MUTATING), name
    assert tools["cancel_job"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["create_job"].annotations.idempotent_hint is False  # type: ignore[union-attr]
    assert "job_id" in tools["get_job"].input_schema["properties"]
    assert "fine_tuned_model" in str(tools["get_job"].output_schema)


@pytest.mark.mistral_emulator(speed=300.0)
async def test_create_wait_with_progress_and_cancel(emu: Emulator, client: AsyncClient) -> None:
    """create_job starts a job; wait_for_job reports statuses and losses as progress and
    returns it ended; cancel_job cancels another; reads see both."""
    file_id = await _file(client)
    async with Client(build_server(client)) as mcp:
        job = await _call(mcp, "create_job", model="open-mistral-7b", training_files=[file_id])
        messages: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            messages.append(message or "")

        result = await mcp.call_tool(
            "wait_for_job", {"job_id": job["id"], "timeout_seconds": 60},
            progress_callback=on_progress,
        )  # fmt: skip
        assert not result.is_error, result.content
        ended = result.structured_content
        assert ended is not None
        assert ended["status"] == "SUCCESS"
        assert ended["fine_tuned_model"]
        assert "status RUNNING" in messages
        assert any(m.startswith("step ") and "loss" in m for m in messages)
        other = await _call(mcp, "create_job", model="open-mistral-7b", training_files=[file_id])
        cancelled = await _call(mcp, "cancel_job", job_id=other["id"])
        assert cancelled["status"] in ("CANCELLATION_REQUESTED", "CANCELLED")
        listed = await _call(mcp, "list_jobs")
        assert {j["id"] for j in listed["jobs"]} == {job["id"], other["id"]}
        models = await mcp.call_tool("list_models", {"fine_tuned_only": True})
        assert ended["fine_tuned_model"] in str(models.structured_content)


async def test_each_guardrail_refuses_and_creates_nothing(
    emu: Emulator, client: AsyncClient
) -> None:
    """Allowed models, jobs per session and jobs running at once each refuse with the limit
    and its option named, and a refused call creates no job (on a frozen clock: the first
    job stays running)."""
    file_id = await _file(client)
    create = {"model": "open-mistral-7b", "training_files": [file_id]}
    rails = Guardrails(allowed_models=frozenset({"mistral-small-latest"}))
    async with Client(build_server(client, rails)) as mcp:
        text = await _refused(mcp, "create_job", **create)
    assert "model 'open-mistral-7b' is not allowed" in text
    assert "--allow-model" in text
    assert (await client.fine_tuning.jobs.list()).total == 0

    async with Client(build_server(client, Guardrails(max_jobs_per_session=1))) as mcp:
        await _call(mcp, "create_job", **create)
        text = await _refused(mcp, "create_job", **create)
    assert "--max-jobs-per-session" in text
    assert (await client.fine_tuning.jobs.list()).total == 1

    async with Client(build_server(client, Guardrails(max_jobs_per_day=0,
                                                      max_running=None))) as mcp:  # fmt: skip
        text = await _refused(mcp, "create_job", **create)
    assert "--max-jobs-per-day" in text
    assert (await client.fine_tuning.jobs.list()).total == 1

    async with Client(build_server(client, Guardrails(max_running=1))) as mcp:
        text = await _refused(mcp, "create_job", **create)
    assert "1 jobs are running" in text
    assert "--max-running" in text
    assert (await client.fine_tuning.jobs.list()).total == 1


async def test_without_a_running_cap_a_create_counts_no_running_jobs(
    emu: Emulator, client: AsyncClient
) -> None:
    """The running count costs a list of each API; with ``max_running=None`` there is nothing
    to check it against, so create_job makes no list request (with the cap, it does)."""
    file_id = await _file(client)
    create = {"model": "open-mistral-7b", "training_files": [file_id]}
    lists = {"/v1/fine_tuning/jobs", "/forge/training/jobs"}

    def listed() -> int:
        return sum(emu.request_count("GET", route) for route in lists)

    async with Client(build_server(client, Guardrails(max_running=None))) as mcp:
        emu.clear_requests()
        await _call(mcp, "create_job", **create)
        assert emu.request_count("POST", "/v1/fine_tuning/jobs") == 1
        assert listed() == 0
    async with Client(build_server(client, Guardrails(max_running=5))) as mcp:
        emu.clear_requests()
        await _call(mcp, "create_job", **create)
        assert listed() == 2


@pytest.mark.mistral_emulator(speed=300.0)
async def test_the_cost_ceiling_reads_the_estimate_before_the_job_starts(
    client: AsyncClient,
) -> None:
    """With a cost ceiling the job is created parked, its estimate read at VALIDATED: over the
    ceiling it is cancelled and the call refused, naming the option; under it, it starts."""
    file_id = await _file(client)
    create = {"model": "open-mistral-7b", "training_files": [file_id]}
    async with Client(build_server(client, Guardrails(max_cost_per_job=0.0001))) as mcp:
        text = await _refused(mcp, "create_job", **create)
    assert "over the ceiling" in text
    assert "--max-cost" in text
    (refused,) = (await client.fine_tuning.jobs.list()).data
    assert refused.status in ("CANCELLED", "CANCELLATION_REQUESTED")
    async with Client(build_server(client, Guardrails(max_cost_per_job=1000.0))) as mcp:
        started = await _call(mcp, "create_job", **create)
    assert started["status"] not in ("VALIDATED", "CANCELLED")


async def test_read_only_refuses_every_mutating_tool(client: AsyncClient) -> None:
    """In read-only mode every tool that changes something is refused, naming the mode; the
    reads work."""
    async with Client(build_server(client, Guardrails(read_only=True))) as mcp:
        for tool, arguments in (
            ("create_job", {"model": "open-mistral-7b", "training_files": ["f"]}),
            ("estimate_job", {"model": "open-mistral-7b", "training_files": ["f"]}),
            ("start_job", {"job_id": "j"}),
            ("cancel_job", {"job_id": "j"}),
            ("run_sweep", {"model": "open-mistral-7b", "training_files": ["f"]}),
        ):
            assert "read-only" in await _refused(mcp, tool, **arguments), tool
        assert (await _call(mcp, "list_jobs"))["total"] == 0


def test_mistral_jobs_mcp_over_stdio(mistral_emulator: Emulator) -> None:
    """`mistral-jobs mcp --read-only` as a subprocess, driven over stdio by the SDK's client:
    its tools list, a read works, a mutating call is refused; the key shows nowhere."""
    import sys

    import anyio
    from mcp.client.stdio import StdioServerParameters

    from .test_cli import KEY, cli_env

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mistral_jobs_async", "mcp", "--read-only"],
        env=cli_env(mistral_emulator),
    )

    async def drive() -> None:
        async with Client(params) as mcp:
            names = {tool.name for tool in (await mcp.list_tools()).tools}
            assert {"create_job", "wait_for_job", "list_jobs"} <= names
            listed = await mcp.call_tool("list_jobs", {})
            assert not listed.is_error
            assert KEY not in str(listed)
            refused = await mcp.call_tool("cancel_job", {"job_id": "j"})
            assert refused.is_error
            assert "read-only" in str(refused.content)

    anyio.run(drive)


@pytest.mark.mistral_emulator(speed=300.0)
def test_mistral_jobs_mcp_over_http(mistral_emulator: Emulator) -> None:
    """`mistral-jobs mcp --http` serves streamable HTTP at /mcp on loopback: the SDK's client
    creates a job, follows it to its end with progress notifications, cancels another, and
    the allowlist refuses a third model."""
    import socket
    import subprocess
    import sys
    import time

    import anyio

    from .test_cli import KEY, cli_env

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mistral_jobs_async", "mcp", "--http", "--port", str(port),
         "--allow-model", "open-mistral-7b"],
        env=cli_env(mistral_emulator), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the MCP server did not listen"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.1)

        async def drive() -> None:
            async with AsyncClient(KEY, base_url=mistral_emulator.url) as jobs_client:
                file_id = await _file(jobs_client)
            async with Client(f"http://127.0.0.1:{port}/mcp") as mcp:
                create = {"model": "open-mistral-7b", "training_files": [file_id]}
                job = await _call(mcp, "create_job", **create)
                messages: list[str] = []

                async def on_progress(progress: float, total: float | None,
                                      message: str | None) -> None:  # fmt: skip
                    messages.append(message or "")

                waited = await mcp.call_tool(
                    "wait_for_job", {"job_id": job["id"], "timeout_seconds": 60},
                    progress_callback=on_progress,
                )  # fmt: skip
                assert waited.structured_content is not None
                assert waited.structured_content["status"] == "SUCCESS"
                assert any(m.startswith("step ") for m in messages), messages
                other = await _call(mcp, "create_job", **create)
                cancelled = await _call(mcp, "cancel_job", job_id=other["id"])
                assert cancelled["status"] in ("CANCELLATION_REQUESTED", "CANCELLED")
                refused = await _refused(mcp, "create_job", model="mistral-large-latest",
                                         training_files=[file_id])  # fmt: skip
                assert "--allow-model" in refused

        anyio.run(drive)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr:
            log = server.stderr.read().decode()
            server.stderr.close()
    assert "create_job: job" in log
    assert KEY not in log
    assert len(mistral_emulator.job_ids()) == 2


def test_a_fastapi_app_mounts_the_same_server(mistral_emulator: Emulator) -> None:
    """mount_mcp(app) serves the tools at /mcp/ of a FastAPI app under uvicorn, with the
    guardrails given, next to the app's own routes."""
    import anyio
    from fastapi import FastAPI

    from mistral_jobs_async.mcp import mount_mcp

    from ._uvicorn import serving

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    mount_mcp(app, guardrails=Guardrails(read_only=True),
              client=lambda: AsyncClient("key", base_url=mistral_emulator.url))  # fmt: skip
    with serving(app) as base:

        async def drive() -> None:
            async with Client(f"{base}/mcp/") as mcp:
                assert "create_job" in {t.name for t in (await mcp.list_tools()).tools}
                assert (await _call(mcp, "list_jobs"))["total"] == 0
                assert "read-only" in await _refused(mcp, "cancel_job", job_id="j")

        anyio.run(drive)


@pytest.mark.mistral_emulator(speed=300.0)
async def test_a_sweep_runs_within_the_guardrails(emu: Emulator, client: AsyncClient) -> None:
    """run_sweep launches its trials as jobs (progress as each ends) and reports the best; a
    sweep with more trials than the session may create is refused before any job."""
    file_id = await _file(client)
    arguments = {"model": "open-mistral-7b", "training_files": [file_id], "trials": 4,
                 "parallel": 2, "training_steps": [100, 200]}  # fmt: skip
    async with Client(build_server(client, Guardrails(max_jobs_per_session=3))) as mcp:
        text = await _refused(mcp, "run_sweep", **arguments)
    assert "asks 4 more" in text
    assert "--max-jobs-per-session" in text
    assert (await client.fine_tuning.jobs.list()).total == 0
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with Client(build_server(client, Guardrails(max_jobs_per_session=4))) as mcp:
        result = await mcp.call_tool("run_sweep", arguments, progress_callback=on_progress)
    assert not result.is_error, result.content
    summary = result.structured_content
    assert summary is not None
    assert sum(summary["trials"].values()) == 4
    assert summary["best_job_id"]
    assert len(messages) == 4
    assert (await client.fine_tuning.jobs.list()).total == 4


async def test_a_job_resource_tells_its_listeners_when_the_job_changes(
    emu: Emulator, client: AsyncClient
) -> None:
    """job://fine_tuning/{id} reads the job; a client listening to that URI is told when the
    job's status changes (the server's shared watcher follows it once it is read)."""
    import json

    import anyio
    from mcp.shared.subscriptions import ResourceUpdated

    file_id = await _file(client)
    job = await client.fine_tuning.jobs.create(model="open-mistral-7b", training_files=[file_id])
    uri = f"job://fine_tuning/{job.id}"
    server = build_server(client)
    async with Client(server) as mcp, mcp.listen(resource_subscriptions=[uri]) as updates:
        read = await mcp.read_resource(uri)  # from now on the server follows the job
        assert json.loads(read.contents[0].text)["status"] == "QUEUED"  # type: ignore[union-attr]
        with anyio.fail_after(30):
            first = await updates.__anext__()  # the follower's first sight of it
        emu.set_status(job.id, "RUNNING", hold=True)
        with anyio.fail_after(30):
            changed = await updates.__anext__()
        assert first == changed == ResourceUpdated(uri)
        again = await mcp.read_resource(uri)
        assert json.loads(again.contents[0].text)["status"] == "RUNNING"  # type: ignore[union-attr]


async def test_validation_reads_only_inside_the_files_root(
    client: AsyncClient, tmp_path: Path
) -> None:
    """validate_training_file checks a file inside files_root; one outside is refused."""
    (tmp_path / "train.jsonl").write_bytes(GOOD_JSONL)
    rails = Guardrails(files_root=str(tmp_path))
    async with Client(build_server(client, rails)) as mcp:
        report = await _call(mcp, "validate_training_file", path=str(tmp_path / "train.jsonl"))
        assert report["ok"]
        assert report["valid_samples"] == 20
        text = await _refused(mcp, "validate_training_file", path="/etc/hostname")
    assert "--files-root" in text
