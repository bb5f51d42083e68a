"""The rules one training sample must meet, by format: chat, function calling, text, classifier.

These are the structural rules of Mistral's fine-tuning formats, checked on the decoded JSON
of one line: every problem is reported (with the field's path), not only the first. The
``data`` extra adds Mistral's own validation and tokenizer on top (``_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ROLES", "Finding", "SampleFacts", "check_sample"]

Format = Literal["chat", "text", "classifier"]

#: The roles a chat sample's messages may have.
ROLES = frozenset({"system", "user", "assistant", "tool"})
# Mistral's tool call ids are 9 letters or digits; function names as in OpenAI-style tools.
_CALL_ID = re.compile(r"[A-Za-z0-9]{9}")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BAD_NAME = "a function name is 1-64 of [A-Za-z0-9_-]"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of one sample: where in it (a JSON path), why, and its kind."""

    path: str
    reason: str
    kind: str
    severity: Literal["error", "warning"] = "error"


@dataclass
class SampleFacts:
    """What a valid sample holds, for the report's summary."""

    format: Format
    roles: dict[str, int]
    tool_calls: int = 0
    has_tools: bool = False


def check_sample(sample: Any) -> tuple[list[Finding], SampleFacts | None]:
    """Every problem of one decoded line, and its facts (None when it is not a sample)."""
    if not isinstance(sample, dict):
        return [Finding("$", f"a sample is a JSON object, not {_kind(sample)}", "not_object")], None
    if "messages" in sample:
        facts = SampleFacts("chat", {})
        findings = list(_chat(sample, facts))
        return findings, facts
    if "text" in sample and "labels" in sample:
        return list(_classifier(sample)), SampleFacts("classifier", {})
    if "text" in sample:
        return list(_text(sample)), SampleFacts("text", {})
    keys = ", ".join(sorted(sample)) or "none"
    reason = f"not a known sample: expected messages, text, or text and labels (keys: {keys})"
    return [Finding("$", reason, "unknown_format")], None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _empty(text: Any) -> bool:
    return not isinstance(text, str) or not text.strip()


def _text(sample: dict[str, Any]) -> Iterator[Finding]:
    if _empty(sample["text"]):
        yield Finding("$.text", "text must be a non-empty string", "empty_content")


def _classifier(sample: dict[str, Any]) -> Iterator[Finding]:
    yield from _text(sample)
    labels = sample["labels"]
    if not isinstance(labels, dict) or not labels:
        yield Finding("$.labels", "labels must be an object of label names", "labels")
        return
    for name, value in labels.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            reason = "a label is a non-empty string or a list of them"
            yield Finding(f"$.labels.{name}", reason, "labels")


def _chat(sample: dict[str, Any], facts: SampleFacts) -> Iterator[Finding]:
    messages = sample["messages"]
    if not isinstance(messages, list) or not messages:
        yield Finding("$.messages", "messages must be a non-empty array", "messages")
        return
    tool_names: set[str] | None = None
    if "tools" in sample:
        facts.has_tools = True
        tool_names = set()
        yield from _tools(sample["tools"], tool_names)
    pending: dict[str, int] = {}  # tool call id -> index of the message that made it
    for index, message in enumerate(messages):
        path = f"$.messages[{index}]"
        if not isinstance(message, dict):
            yield Finding(path, f"a message is an object, not {_kind(message)}", "messages")
            continue
        role = message.get("role")
        if role not in ROLES:
            yield Finding(f"{path}.role", f"role must be one of {sorted(ROLES)}", "role")
            continue
        facts.roles[role] = facts.roles.get(role, 0) + 1
        if index == 0 and role in ("assistant", "tool"):
            yield Finding(f"{path}.role", "the first message is the system's or user's", "order")
        if role == "assistant":
            yield from _assistant(message, path, pending, tool_names, facts=facts, index=index)
        elif role == "tool":
            yield from _tool_result(message, path, pending)
        else:
            if _empty(message.get("content")):
                yield Finding(f"{path}.content", f"a {role} message needs content", "empty_content")
            if "weight" in message:
                yield Finding(f"{path}.weight", "only assistant messages take a weight", "weight")
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "assistant":
        yield Finding(
            f"$.messages[{len(messages) - 1}].role",
            "the last message must be the assistant's (it is what the model learns)",
            "last_message",
        )
    for call_id, index in pending.items():
        yield Finding(
            f"$.messages[{index}].tool_calls",
            f"tool call {call_id} has no tool message answering it",
            "unpaired_tool_call",
        )


def _assistant(
    message: dict[str, Any],
    path: str,
    pending: dict[str, int],
    tool_names: set[str] | None,
    *,
    facts: SampleFacts,
    index: int,
) -> Iterator[Finding]:
    content, calls = message.get("content"), message.get("tool_calls")
    if calls and not _empty(content):
        yield Finding(path, "an assistant message has content or tool calls, not both", "content")
    elif not calls and _empty(content):
        yield Finding(f"{path}.content", "an assistant message needs content", "empty_content")
    weight = message.get("weight")
    if "weight" in message and (isinstance(weight, bool) or weight not in (0, 1)):
        yield Finding(f"{path}.weight", "weight is 0 or 1", "weight")
    if calls is None:
        return
    if not isinstance(calls, list):
        yield Finding(f"{path}.tool_calls", "tool_calls must be an array", "tool_calls")
        return
    for number, call in enumerate(calls):
        where = f"{path}.tool_calls[{number}]"
        if not isinstance(call, dict):
            yield Finding(where, "a tool call is an object", "tool_calls")
            continue
        facts.tool_calls += 1
        call_id = call.get("id")
        if not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id):
            yield Finding(f"{where}.id", "a tool call id is 9 letters or digits", "tool_call_id")
        else:
            pending[call_id] = index
        function = call.get("function")
        if not isinstance(function, dict):
            yield Finding(f"{where}.function", "a tool call needs a function", "tool_calls")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            yield Finding(
                f"{where}.function.name", "a function name is 1-64 of [A-Za-z0-9_-]", "name"
            )
        elif tool_names is not None and name not in tool_names:
            yield Finding(
                f"{where}.function.name", f"{name} is not in the sample's tools", "unknown_tool"
            )
        if not isinstance(function.get("arguments"), str | dict):
            reason = "arguments are a JSON string or an object"
            yield Finding(f"{where}.function.arguments", reason, "tool_calls")


def _tool_result(message: dict[str, Any], path: str, pending: dict[str, int]) -> Iterator[Finding]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or call_id not in pending:
        reason = "a tool message answers a tool call made before it (tool_call_id)"
        yield Finding(f"{path}.tool_call_id", reason, "unpaired_tool_call")
    else:
        del pending[call_id]
    if _empty(message.get("content")):
        yield Finding(f"{path}.content", "a tool message needs content", "empty_content")


def _tools(tools: Any, names: set[str]) -> Iterator[Finding]:
    if not isinstance(tools, list) or not tools:
        yield Finding("$.tools", "tools must be a non-empty array", "tools")
        return
    for number, tool in enumerate(tools):
        where = f"$.tools[{number}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            yield Finding(where, 'a tool is {"type": "function", "function": {...}}', "tools")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            yield Finding(
                f"{where}.function.name", "a function name is 1-64 of [A-Za-z0-9_-]", "name"
            )
        else:
            names.add(name)
        parameters = function.get("parameters")
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            reason = 'parameters is a JSON Schema object ({"type": "object", ...})'
            yield Finding(f"{where}.function.parameters", reason, "tools")
