"""The fault matrix: every emulator fault against every operation, and the watcher over 200 jobs.

Each cell must end in success or in one typed ``MistralJobsError``; no create or upload may
make a second job or file (counted on the emulator); the watcher must report each job's
transitions once, in the order the emulator recorded them, and end by itself. The outcomes
are kept in ``docs/reliability.md``: ``test_the_matrix_is_documented`` fails when they drift
(``MISTRAL_JOBS_WRITE_DOCS=1`` rewrites the table).
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from mistral_jobs_async import AsyncClient, MistralJobsError, RetryPolicy
from mistral_jobs_async.emulator import Emulator, Fault
from mistral_jobs_async.watcher import JobVanished, PollFailed, Transition, WatchConfig

from .conftest import GOOD_JSONL, KEY_A, SleepRecorder

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"
FILES = "/v1/files"
TIMEOUT = 0.4  # the client's; the latency fault sleeps longer than this
UNKNOWN = "PAUSED_FOR_REVIEW"
DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
BEGIN, END = "<!-- fault matrix: begin -->", "<!-- fault matrix: end -->"


@dataclass(frozen=True)
class Case:
    """One row: a fault constructor and its options (None: no fault rule, see the test)."""

    name: str
    make: Callable[..., Fault] | None
    options: dict[str, Any]

    def rules(self, method: str, path: str, rate: float) -> list[Fault]:
        """The rule of this row for one route, firing on ``rate`` of its requests."""
        if self.make is None:
            return []
        return [self.make(**self.options, method=method, path=path, rate=rate)]


def _status(code: int, **options: Any) -> Callable[..., Fault]:
    return lambda **more: Fault.http(code, **options, **more)


CASES = [
    Case("429 twice (Retry-After 1)", _status(429, retry_after=1), {"times": 2}),
    Case("429 storm (every request)", _status(429, retry_after=1), {}),
    Case("500 twice, before handling", _status(500), {"times": 2}),
    Case("500 after handling", _status(500, after=True), {"times": 1}),
    Case("502 twice, before handling", _status(502), {"times": 2}),
    Case("502 after handling", _status(502, after=True), {"times": 1}),
    Case("503 + Retry-After twice, before", _status(503, retry_after=1), {"times": 2}),
    Case(
        "503 + Retry-After, after handling", _status(503, retry_after=1, after=True), {"times": 1}
    ),
    Case("latency over the timeout", Fault.delay, {"seconds": TIMEOUT + 0.4, "times": 1}),
    Case("dropped connection, before", Fault.drop, {"times": 1}),
    Case("dropped connection, after", Fault.drop, {"times": 1, "after": True}),
    Case("truncated body", Fault.truncate, {"times": 1}),
    Case("malformed body, after handling", Fault.corrupt, {"times": 1, "after": True}),
    Case("unknown status", None, {}),
]
OPERATIONS = ["create", "get", "list", "cancel", "start", "upload"]
COLUMNS = [*OPERATIONS, "watcher (200 jobs)"]
#: Outcomes recorded by the tests below: (case, column) -> cell.
OUTCOMES: dict[tuple[str, str], str] = {}


def _cell(error: BaseException | None) -> str:
    return "ok" if error is None else type(error).__name__


async def _file(client: AsyncClient) -> str:
    return (await client.files.upload(io.BytesIO(GOOD_JSONL), filename="train.jsonl")).id


@pytest.fixture
async def quick(emu: Emulator, sleeps: SleepRecorder) -> Any:
    """A client of ``emu`` whose retries wait no real time and whose timeout is short."""
    policy = RetryPolicy(sleep=sleeps, jitter=lambda low, high: high)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy, timeout=TIMEOUT) as client:
        yield client


def _params() -> Iterator[Any]:
    for case in CASES:
        for operation in OPERATIONS:
            marks = [pytest.mark.off_spec("forces a status the spec does not list")]
            yield pytest.param(
                case,
                operation,
                id=f"{operation}-{case.name}",
                marks=marks if case.name == "unknown status" else [],
            )


@pytest.mark.parametrize(("case", "operation"), list(_params()))
async def test_operation_under_fault(
    emu: Emulator, quick: AsyncClient, case: Case, operation: str
) -> None:
    """Success or one typed error; never a second job or file; the job's state agrees."""
    jobs = quick.fine_tuning.jobs
    file_id = await _file(quick)
    job_id = ""
    if operation in ("get", "list", "cancel", "start"):
        job = await jobs.create(
            model="open-mistral-7b", training_files=[file_id], auto_start=operation != "start"
        )
        job_id = job.id
        emu.set_status(job_id, "VALIDATED" if operation == "start" else "RUNNING", hold=True)
    if case.name == "unknown status" and job_id:
        emu.set_status(job_id, UNKNOWN, hold=True)
    method, path = {
        "create": ("POST", FT),
        "get": ("GET", f"{FT}/*"),
        "list": ("GET", FT),
        "cancel": ("POST", f"{FT}/*/cancel"),
        "start": ("POST", f"{FT}/*/start"),
        "upload": ("POST", FILES),
    }[operation]
    emu.inject(*case.rules(method, path, 1.0))
    jobs_before, files_before = len(emu.job_ids()), (await _count_files(emu))
    error: BaseException | None = None
    result: Any = None
    try:
        with anyio.fail_after(10):
            result = await _run(quick, operation, file_id, job_id)
    except MistralJobsError as exc:
        error = exc
    # Let a create the latency fault delayed land, so that the count below sees it.
    await anyio.sleep(TIMEOUT + 0.5 if case.name.startswith("latency") else 0)
    emu.clear_faults()
    made_jobs = len(emu.job_ids()) - jobs_before
    made_files = await _count_files(emu) - files_before
    assert made_jobs <= (1 if operation == "create" else 0), made_jobs
    assert made_files <= (1 if operation == "upload" else 0), made_files
    if error is None and operation == "create":
        assert made_jobs == 1
        assert emu.job_ids()[-1] == result.id
    if error is None and operation == "upload":
        assert made_files == 1
    if error is None and operation == "cancel":
        assert emu.job(job_id)["status"] in ("CANCELLATION_REQUESTED", "CANCELLED")
    if error is None and operation == "start":
        assert emu.job(job_id)["status"] != "VALIDATED"
    if error is not None:
        assert "key-a-secret" not in str(error)
    OUTCOMES[(case.name, operation)] = _cell(error)


async def _count_files(emu: Emulator) -> int:
    async with AsyncClient(KEY_A, base_url=emu.url) as plain:
        return (await plain.files.list()).total


async def _run(client: AsyncClient, operation: str, file_id: str, job_id: str) -> Any:
    jobs = client.fine_tuning.jobs
    if operation == "create":
        return await jobs.create(model="open-mistral-7b", training_files=[file_id])
    if operation == "get":
        return await jobs.get(job_id)
    if operation == "list":
        return await jobs.list()
    if operation == "cancel":
        return await jobs.cancel(job_id)
    if operation == "start":
        return await jobs.start(job_id)
    return await client.files.upload(io.BytesIO(GOOD_JSONL), filename="again.jsonl")


WATCH = WatchConfig(
    fast_interval=0.02,
    base_interval=0.05,
    max_interval=0.2,
    coalesce=0.05,
    requests_per_second=2000,
    max_in_flight=8,
)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.off_spec("forces a status the spec does not list")]
            if case.name == "unknown status"
            else [],
        )
        for case in CASES
    ],
)
@pytest.mark.mistral_emulator(seed=3, speed=0.0, failure_rate=0.1)
@pytest.mark.timeout(60)
async def test_watcher_under_fault(emu: Emulator, case: Case) -> None:
    """200 jobs watched while the fault hits the watcher's polls: every status the emulator
    recorded from the first observation on, once and in order, and the watch ends by itself."""
    policy = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)
    async with AsyncClient(KEY_A, base_url=emu.url, retry=policy, timeout=TIMEOUT) as client:
        file_id = await _file(client)
        ids = [
            (
                await client.fine_tuning.jobs.create(
                    model="open-mistral-7b",
                    training_files=[file_id],
                    auto_start=True,
                    hyperparameters={"training_steps": 10},
                )
            ).id
            for _ in range(200)
        ]
        unknown = set(ids[::10]) if case.name == "unknown status" else set()
        # Polls (GET of a job, list pages) meet the fault on a share of requests, all along.
        # A Retry-After pauses the whole watcher for a second: those hit fewer requests.
        probe = case.rules("GET", f"{FT}*", 1.0)
        rate = 0.05 if any(rule.retry_after for rule in probe) else 0.2
        for rule in case.rules("GET", f"{FT}*", rate):
            emu.inject(_unlimited(rule))
        emu.speed = 40.0
        seen: dict[str, list[str]] = defaultdict(list)
        forced: set[str] = set()
        with anyio.fail_after(50):
            async with client.fine_tuning.jobs.watch(ids, config=WATCH) as events:
                async for event in events:
                    if isinstance(event, PollFailed):
                        continue  # reported, and polled again
                    assert not isinstance(event, JobVanished), event
                    assert isinstance(event, Transition), event
                    seen[event.job_id].append(event.status)
                    if event.job_id in unknown and not event.terminal:
                        unknown.discard(event.job_id)  # once, at its first live status
                        forced.add(event.job_id)
                        emu.set_status(event.job_id, UNKNOWN, hold=True)
                    elif event.status == UNKNOWN:
                        assert not event.terminal
                        emu.set_status(event.job_id, "SUCCESS")
        emu.clear_faults()
    for job_id in ids:
        history = [e["data"]["status"] for e in emu.job(job_id)["events"]]
        reported = seen[job_id]
        assert reported, job_id
        assert reported[-1] == history[-1], (reported, history)  # ended where the job ended
        # Complete from its first observation on: every recorded status, once, in order.
        assert reported == history[history.index(reported[0]) :], (reported, history)
    assert all(UNKNOWN in seen[job_id] for job_id in forced)
    if case.name == "unknown status":
        assert len(forced) >= 10
    hit = sum(1 for record in emu.requests if record.fault is not None)
    assert hit > 0 or case.make is None  # the fault did reach the watcher's polls
    OUTCOMES[(case.name, "watcher (200 jobs)")] = "ends; every transition once, none skipped"


def _unlimited(rule: Fault) -> Fault:
    """The same rule without its ``times`` limit: for the watcher it lasts the whole watch."""
    return replace(rule, times=None)


def render() -> str:
    """The matrix as a Markdown table (rows: faults; columns: operations and the watcher)."""
    lines = [
        "| fault | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for case in CASES:
        cells = [OUTCOMES[(case.name, column)] for column in COLUMNS]
        cells = [
            c.split(" (")[0] if column.startswith("watcher") else c
            for c, column in zip(cells, COLUMNS, strict=True)
        ]
        lines.append(f"| {case.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_matrix_is_documented() -> None:
    """docs/reliability.md shows the outcomes the matrix has just measured."""
    missing = [(c.name, col) for c in CASES for col in COLUMNS if (c.name, col) not in OUTCOMES]
    if missing:
        pytest.skip(f"only part of the matrix ran ({len(missing)} cells missing)")
    table = render()
    print("\n" + table)
    text = DOC.read_text(encoding="utf-8")
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    fresh = f"{before}{BEGIN}\n{table}\n{END}{after}"
    if os.environ.get("MISTRAL_JOBS_WRITE_DOCS") == "1":
        DOC.write_text(fresh, encoding="utf-8")
        return
    assert fresh == text, "docs/reliability.md is out of date: MISTRAL_JOBS_WRITE_DOCS=1 pytest ..."
