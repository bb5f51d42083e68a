"""Training data checked locally: every rule of each format, on files the tests write."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mistral_jobs_async import AsyncClient, InvalidRequestError, InvalidTrainingDataError
from mistral_jobs_async.datasets import Report, validate_file
from mistral_jobs_async.emulator import Emulator


def chat(*turns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


GOOD = chat(("user", "What is 2+2?"), ("assistant", "4."))
CALL = {
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers",
                "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
            },
        }
    ],
    "messages": [
        {"role": "user", "content": "Add 2 and 2"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "abcDEF123", "type": "function",
                 "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "abcDEF123", "content": "4"},
        {"role": "assistant", "content": "It is 4."},
    ],
}  # fmt: skip


def write(path: Path, samples: list[Any]) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    return path


def kinds(report: Report) -> list[tuple[int, str, str]]:
    return [(p.line, p.path, p.kind) for p in report.problems]


def test_a_good_chat_and_function_calling_file_passes(tmp_path: Path) -> None:
    """Valid chat and function-calling samples: no problem, and a summary of what they hold."""
    report = validate_file(write(tmp_path / "ok.jsonl", [GOOD, CALL, GOOD | {"x": 1}]))
    assert report.ok, report.problems
    assert report.summary()["valid_samples"] == 3
    assert report.roles == {"user": 3, "assistant": 4, "tool": 1}
    assert report.tool_calls == 1
    assert report.samples_with_tools == 1


@pytest.mark.parametrize(
    ("sample", "path", "kind"),
    [
        (chat(("user", "hi")), "$.messages[0].role", "last_message"),
        (chat(("assistant", "hi"), ("assistant", "x")), "$.messages[0].role", "order"),
        (chat(("robot", "hi"), ("assistant", "x")), "$.messages[0].role", "role"),
        (chat(("user", "  "), ("assistant", "x")), "$.messages[0].content", "empty_content"),
        (chat(("user", "hi"), ("assistant", "")), "$.messages[1].content", "empty_content"),
        ({"messages": []}, "$.messages", "messages"),
        ({"prompt": "x"}, "$", "unknown_format"),
        ([1, 2], "$", "not_object"),
        ({"text": ""}, "$.text", "empty_content"),
        ({"text": "a", "labels": {"topic": ""}}, "$.labels.topic", "labels"),
        ({"text": "a", "labels": []}, "$.labels", "labels"),
    ],
)
def test_each_rule_is_reported_with_its_path(
    tmp_path: Path, sample: Any, path: str, kind: str
) -> None:
    """A broken sample is reported at its line, with the field's path and the rule's kind."""
    report = validate_file(write(tmp_path / "bad.jsonl", [GOOD, sample]))
    assert not report.ok
    assert (2, path, kind) in kinds(report), report.problems
    assert report.bad_lines == 1
    assert report.samples == 1


def _call(**changes: Any) -> dict[str, Any]:
    """CALL with changes: ``messages__1__content="x"`` sets a field, ``None`` deletes it."""
    sample: dict[str, Any] = json.loads(json.dumps(CALL))
    for dotted, value in changes.items():
        target: Any = sample
        *parts, last = dotted.split("__")
        for part in parts:
            target = target[int(part)] if part.isdigit() else target[part]
        key: Any = int(last) if last.isdigit() else last
        if value is None:
            del target[key]
        else:
            target[key] = value
    return sample


@pytest.mark.parametrize(
    ("sample", "path", "kind"),
    [
        (_call(messages__1__content="and text"), "$.messages[1]", "content"),
        (_call(messages__1__tool_calls__0__id="short"), "$.messages[1].tool_calls[0].id",
         "tool_call_id"),
        (_call(messages__2__tool_call_id="zzzzzzzzz"), "$.messages[2].tool_call_id",
         "unpaired_tool_call"),
        (_call(messages__1__tool_calls__0__function__name="sub"),
         "$.messages[1].tool_calls[0].function.name", "unknown_tool"),
        (_call(messages__1__tool_calls__0__function__name="bad name!"),
         "$.messages[1].tool_calls[0].function.name", "name"),
        (_call(tools__0__function__parameters={"type": "string"}),
         "$.tools[0].function.parameters", "tools"),
        (_call(messages__3__weight=2), "$.messages[3].weight", "weight"),
        (_call(messages__0__weight=1), "$.messages[0].weight", "weight"),
        (_call(messages__2=None), "$.messages[1].tool_calls", "unpaired_tool_call"),
    ],
)  # fmt: skip
def test_function_calling_rules(tmp_path: Path, sample: Any, path: str, kind: str) -> None:
    """Tool calls: content or calls, ids of 9 letters or digits, results paired with calls,
    names among the sample's tools, JSON-Schema object parameters, weights 0 or 1."""
    report = validate_file(write(tmp_path / "calls.jsonl", [sample]))
    assert (1, path, kind) in kinds(report), report.problems


def test_a_bad_line_deep_in_a_large_file_is_found_by_number(tmp_path: Path) -> None:
    """A broken sample at line 100,000 is reported there, and only there."""
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, 100_001):
            sample = chat(("user", "q"), ("assistant", "no")) if n == 100_000 else GOOD
            if n == 100_000:
                sample["messages"].pop()
            else:
                sample = chat(("user", f"question {n}"), ("assistant", "answer"))
            out.write(json.dumps(sample) + "\n")
    report = validate_file(path, tokens=False)  # the rules alone (tokenizing is timed apart)
    assert report.lines == 100_000
    assert kinds(report) == [(100_000, "$.messages[0].role", "last_message")]
    assert report.samples == 99_999


def test_invalid_utf8_and_a_truncated_last_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 and a last line cut short are each reported at their line."""
    good = json.dumps(GOOD).encode()
    other = json.dumps(chat(("user", "other"), ("assistant", "yes"))).encode()
    path = tmp_path / "broken.jsonl"
    path.write_bytes(
        good + b"\n" + good.replace(b"4.", b"\xff\xfe") + b"\n" + other + b"\n" + good[:30]
    )
    report = validate_file(path)
    assert [(p.line, p.kind) for p in report.problems] == [(2, "utf8"), (4, "json")]
    assert report.samples == 2


def test_problems_are_capped_per_kind_with_a_count_of_the_rest(tmp_path: Path) -> None:
    """50 lines with the same problem: 20 kept, all 50 counted, 30 said to be left out."""
    samples = [chat(("user", f"question {n}")) for n in range(50)]
    report = validate_file(write(tmp_path / "many.jsonl", samples))
    assert len(report.problems) == 20
    assert report.counts["last_message"] == 50
    assert report.left_out() == {"last_message": 30}
    assert report.errors == 50


def test_blank_lines_and_duplicates_are_warnings(tmp_path: Path) -> None:
    """A blank line and a repeated sample are warned about; the file stays valid."""
    path = tmp_path / "warn.jsonl"
    line = json.dumps(GOOD)
    path.write_text(f"{line}\n\n{line}\n", encoding="utf-8")
    report = validate_file(path)
    assert report.ok
    assert [(p.line, p.kind, p.severity) for p in report.problems] == [
        (2, "blank_line", "warning"),
        (3, "duplicate", "warning"),
    ]


def test_one_file_holds_one_kind_of_sample(tmp_path: Path) -> None:
    """Chat and text samples mixed in one file are a file-level error."""
    report = validate_file(write(tmp_path / "mixed.jsonl", [GOOD, {"text": "plain"}]))
    assert (0, "$", "mixed") in kinds(report)
    assert "file: $: one file holds one kind of sample" in str(report.problems[-1])


def test_token_counts_are_mistral_commons_own(tmp_path: Path) -> None:
    """The counts equal mistral-common's encoding of the same samples, with the tokenizer of
    the model named; the summary gives min, median, p95, max and a cost estimate."""
    import mistral_common
    from mistral_common.protocol.instruct.messages import FinetuningMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    samples = [GOOD, CALL, chat(("user", "A longer question " * 20), ("assistant", "ok"))]
    report = validate_file(
        write(tmp_path / "t.jsonl", samples), model="open-mistral-7b", price_per_million=2.0,
        epochs=3,
    )  # fmt: skip
    assert report.ok, report.problems
    data = Path(mistral_common.__file__).parent / "data"
    mode: Any = ValidationMode.finetuning  # typed as its auto() value by mistral-common
    tokenizer = MistralTokenizer.from_file(
        str(data / "mistral_instruct_tokenizer_240323.model.v3"), mode=mode
    )
    expected = [
        len(tokenizer.encode_chat_completion(ChatCompletionRequest[FinetuningMessage](**s)).tokens)
        for s in samples
    ]
    assert list(report.tokens) == expected
    summary = report.token_summary()
    assert summary["exact"] is True
    assert summary["total"] == sum(expected)
    assert (summary["min"], summary["max"]) == (min(expected), max(expected))
    assert summary["estimated_cost"] == round(sum(expected) * 3 * 2.0 / 1_000_000, 4)
    assert summary["over_context"] == 0


def test_mistral_commons_own_validation_adds_what_the_rules_miss(tmp_path: Path) -> None:
    """A sample the structural rules let through but Mistral's validation refuses (a system
    message after the assistant's) is reported, with Mistral's reason."""
    sample = chat(("user", "a"), ("assistant", "b"), ("system", "c"), ("assistant", "d"))
    report = validate_file(write(tmp_path / "m.jsonl", [sample]), model="open-mistral-nemo")
    assert [(p.line, p.kind) for p in report.problems] == [(1, "mistral_common")]
    assert "system" in report.problems[0].reason


def test_an_unknown_model_falls_back_with_a_warning(tmp_path: Path) -> None:
    """A model the table does not know is counted with the newest tokenizer, with a warning."""
    report = validate_file(write(tmp_path / "u.jsonl", [GOOD]), model="brand-new-model")
    assert report.ok
    assert [(p.kind, p.severity) for p in report.problems] == [("unknown_model", "warning")]
    assert report.tokenizer == "tekken_240718.json"


def test_without_the_data_extra_counts_are_estimates(tmp_path: Path) -> None:
    """Without mistral-common the rules still run, and the counts say they are estimates."""
    import subprocess
    import sys

    path = write(tmp_path / "e.jsonl", [GOOD, chat(("user", "x"))])
    code = (
        "import json, sys; sys.modules['mistral_common'] = None\n"
        "from mistral_jobs_async.datasets import validate_file\n"
        f"report = validate_file({str(path)!r})\n"
        "print(json.dumps([report.token_summary()['exact'], report.samples, report.errors]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [False, 1, 1]


@pytest.mark.anyio
async def test_upload_with_validate_refuses_a_bad_file_before_sending_it(
    client: AsyncClient, tmp_path: Path
) -> None:
    """upload(validate=True) raises InvalidTrainingDataError with the report and sends
    nothing; a good file goes up; a stream cannot be validated (it is read once)."""
    bad = write(tmp_path / "bad.jsonl", [GOOD, chat(("user", "no answer"))])
    with pytest.raises(InvalidTrainingDataError, match="line 2") as caught:
        await client.files.upload(bad, validate=True)
    report = caught.value.report
    assert isinstance(report, Report)
    assert report.bad_lines == 1
    assert (await client.files.list()).total == 0  # nothing was sent
    good = write(tmp_path / "good.jsonl", [GOOD])
    uploaded = await client.files.upload(good, validate=True, model="open-mistral-7b")
    assert uploaded.filename == "good.jsonl"
    with pytest.raises(InvalidRequestError, match="validation needs a path"):
        await client.files.upload(io.BytesIO(b"{}"), validate=True)


def test_cli_validate_reports_exits_and_fixes(tmp_path: Path) -> None:
    """`mistral-jobs files validate` needs no key: it lists each problem by line, exits 1 on
    errors (0 on warnings alone), gives JSON with --json, and --fix keeps the valid lines."""
    from mistral_jobs_async._cli import main

    bad = write(tmp_path / "bad.jsonl", [GOOD, chat(("user", "no answer")), CALL])
    out, err = io.StringIO(), io.StringIO()
    code = main(["files", "validate", str(bad), "--model", "open-mistral-7b"], stdout=out,
                stderr=err)  # fmt: skip
    assert code == 1, err.getvalue()
    text = out.getvalue()
    assert "1 errors in 1 lines (2 valid samples of 3 lines)" in text
    assert "line 2: $.messages[0].role: the last message must be the assistant's" in text
    assert "tokens: " in text
    assert "open-mistral-7b" not in err.getvalue()
    out = io.StringIO()
    assert main(["files", "validate", str(bad), "--json", "--no-tokens"], stdout=out) == 1
    record = json.loads(out.getvalue())
    assert record["bad_lines"] == 1
    assert record["problems"][0]["line"] == 2
    fixed = tmp_path / "fixed.jsonl"
    out = io.StringIO()
    assert main(["files", "validate", str(bad), "--fix", str(fixed)], stdout=out,
                stderr=io.StringIO()) == 1  # fmt: skip
    assert [json.loads(line) for line in fixed.read_text().splitlines()] == [GOOD, CALL]
    assert main(["files", "validate", str(fixed)], stdout=io.StringIO()) == 0


@pytest.mark.anyio
async def test_the_emulator_refuses_what_the_local_check_refuses(
    emu: Emulator, client: AsyncClient, tmp_path: Path
) -> None:
    """A file the local report fails makes the emulator's job FAILED_VALIDATION with the
    same first problem (line and field) in its events; one it passes trains."""
    bad = write(tmp_path / "bad.jsonl", [GOOD, CALL, chat(("user", "no answer"))])
    local = validate_file(bad, tokens=False)
    first = next(p for p in local.problems if p.severity == "error")
    uploaded = await client.files.upload(bad)
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[uploaded.id]
    )
    emu.advance(120)
    detailed = await client.fine_tuning.jobs.get(job.id)
    assert detailed.status == "FAILED_VALIDATION"
    errors = [e.data.get("error", "") for e in detailed.events or [] if e.data]
    assert any(f"line {first.line}: {first.path}: {first.reason}" in e for e in errors), errors
    good = write(tmp_path / "good.jsonl", [GOOD, CALL])
    assert validate_file(good).ok
    ok = await client.files.upload(good)
    trained = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[ok.id], auto_start=True
    )
    emu.advance(60)
    assert (await client.fine_tuning.jobs.get(trained.id)).status != "FAILED_VALIDATION"


def test_repeats_past_the_exact_memory_are_still_flagged() -> None:
    """Past the lines remembered exactly, a repeat is still warned about (as likely), in the
    fixed memory of a filter; before it, a repeat names the line it repeats."""
    from mistral_jobs_async.datasets._validate import _Repeats

    repeats = _Repeats(exact_lines=2)
    assert [repeats.check(line, n) for n, line in enumerate([b"a", b"b"], start=1)] == [None] * 2
    assert repeats.check(b"a", 3) == "the same sample as line 1"
    assert repeats.check(b"c", 4) is None
    assert repeats.check(b"c", 5) == "probably the same as an earlier sample"


def _mixed_file(path: Path, lines: int) -> Path:
    """Many chunks' worth of lines: valid samples, errors of several kinds, repeats, blanks,
    invalid UTF-8 and a refusal only Mistral's own validation makes."""
    with path.open("wb") as out:
        for n in range(1, lines + 1):
            if n % 997 == 0:
                out.write(b'{"messages": [{"role": "user", "content": "\xff"}]}\n')
            elif n % 499 == 0:
                out.write(json.dumps(chat(("user", "no answer"))).encode() + b"\n")
            elif n % 401 == 0:
                out.write(b"\n")
            elif n % 301 == 0:
                out.write(json.dumps(GOOD).encode() + b"\n")
            elif n % 251 == 0:
                out.write(b'{"messages": [truncated\n')
            elif n % 613 == 0:
                late = chat(
                    ("user", "a"), ("assistant", "b"), ("system", f"{n}"), ("assistant", ".")
                )
                out.write(json.dumps(late).encode() + b"\n")
            else:
                sample = chat(("user", f"question {n}"), ("assistant", "an answer " * (n % 7)))
                out.write(json.dumps(sample).encode() + b"\n")
    return path


def _as_tuple(report: Report) -> tuple[Any, ...]:
    counts = (report.lines, report.samples, report.roles, report.formats)
    return (report.problems, report.counts, list(report.tokens), report.bad_line_numbers,
            counts, report.token_summary())  # fmt: skip


def test_every_core_gives_the_report_one_process_gives(tmp_path: Path) -> None:
    """Checked by a pool of worker processes, a file's report is the single process's: the
    same problems in the same order, the same counts and per-sample tokens."""
    path = _mixed_file(tmp_path / "mixed.jsonl", 9_000)
    one = validate_file(path, model="open-mistral-nemo", workers=1)
    pooled = validate_file(path, model="open-mistral-nemo", workers=2)
    assert one.counts["utf8"] == 9
    assert min(one.counts[k] for k in ("blank_line", "duplicate", "json", "mistral_common")) > 0
    assert _as_tuple(pooled) == _as_tuple(one)


def test_progress_is_reported_in_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    """The progress callback gets the bytes read so far, growing, ending at the file's size."""
    path = _mixed_file(tmp_path / "mixed.jsonl", 6_000)
    seen: list[int] = []
    validate_file(path, tokens=False, progress=seen.append)
    assert len(seen) >= 3
    assert seen == sorted(set(seen))
    assert seen[-1] == path.stat().st_size


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_shows_a_progress_bar_on_a_terminal_for_a_long_file(tmp_path: Path) -> None:
    """On a terminal, a long file gets a progress bar on standard error (none on a pipe);
    the results on standard output are the same either way."""
    from mistral_jobs_async._cli import main
    from mistral_jobs_async._cli._data import PROGRESS_FROM_BYTES

    path = tmp_path / "long.jsonl"
    line = json.dumps(chat(("user", "q" * 200), ("assistant", "a"))) + "\n"
    path.write_text(line * (PROGRESS_FROM_BYTES // len(line) + 1), encoding="utf-8")
    outputs = []
    for errors in (_Terminal(), io.StringIO()):
        out = io.StringIO()
        assert main(["files", "validate", str(path), "--no-tokens"], stdout=out,
                    stderr=errors) == 0  # fmt: skip
        outputs.append((out.getvalue(), errors.getvalue()))
    (terminal_out, terminal_err), (pipe_out, pipe_err) = outputs
    assert "checking long.jsonl" in terminal_err
    assert pipe_err == ""
    assert terminal_out == pipe_out


@pytest.mark.anyio
@pytest.mark.parametrize("model", ["open-mistral-nemo", "open-mistral-7b"])
async def test_the_emulators_metadata_counts_the_tokens_the_local_report_counts(
    client: AsyncClient, tmp_path: Path, model: str
) -> None:
    """A job's metadata.data_tokens is the local report's total for the job's model (each
    family its own tokenizer), summed over its training files."""
    first = write(
        tmp_path / "a.jsonl", [GOOD, CALL, chat(("user", "é" * 300), ("assistant", "ok"))]
    )
    second = write(tmp_path / "b.jsonl", [chat(("user", "another"), ("assistant", "one"))])
    local = sum(validate_file(p, model=model).token_summary()["total"] for p in (first, second))
    ids = [(await client.files.upload(p)).id for p in (first, second)]
    job = await client.fine_tuning.jobs.create(model=model, training_files=ids)
    assert job.metadata is not None
    assert job.metadata.data_tokens == local
    assert local != (first.stat().st_size + second.stat().st_size) // 4
