"""Streaming check of an uploaded fine-tuning file, without keeping its content."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["JsonlChecker"]

_ROLES = frozenset({"system", "user", "assistant", "tool"})
_line_decoder = msgspec.json.Decoder()


class JsonlChecker:
    """Counts bytes and lines of a JSONL file fed in chunks and says whether it can train.

    A line is a valid sample when it is a JSON object with either ``messages`` (a non-empty
    list of ``{role, content}`` objects with at least one assistant turn: instruct data) or
    ``text`` and ``labels`` (classifier data). Only the first error is kept. Memory stays
    bounded by ``max_line`` whatever the file's size.
    """

    def __init__(self, *, max_line: int = 8 * 1024 * 1024) -> None:
        self.size = 0
        self.lines = 0
        self.error: str | None = None
        self.sample_type: str | None = None
        self._max_line = max_line
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of the file."""
        self.size += len(chunk)
        self._partial += chunk
        if b"\n" not in chunk:
            self._check_overflow()
            return
        *complete, rest = bytes(self._partial).split(b"\n")
        self._partial = bytearray(rest)
        for line in complete:
            self._line(line)
        self._check_overflow()

    def finish(self) -> None:
        """Check the last line (a file need not end with a newline)."""
        if self._partial.strip():
            self._line(bytes(self._partial))
        self._partial.clear()
        if self.error is None and self.lines == 0:
            self.error = "the file holds no training sample"

    def _check_overflow(self) -> None:
        if len(self._partial) > self._max_line:
            self._fail(f"line {self.lines + 1} is longer than {self._max_line} bytes")
            self._partial.clear()

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def _line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        self.lines += 1
        if self.error is not None:
            return
        try:
            sample = _line_decoder.decode(raw)
        except msgspec.DecodeError:
            self._fail(f"line {self.lines} is not valid JSON")
            return
        kind = _sample_type(sample)
        if kind is None:
            self._fail(
                f"line {self.lines} is not a fine-tuning sample "
                "(expected 'messages' with an assistant turn, or 'text' and 'labels')"
            )
        elif self.sample_type is None:
            self.sample_type = kind


def _sample_type(sample: Any) -> str | None:
    if not isinstance(sample, dict):
        return None
    messages = sample.get("messages")
    if isinstance(messages, list) and messages:
        ok = all(
            isinstance(m, dict) and m.get("role") in _ROLES and "content" in m for m in messages
        )
        has_answer = any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages)
        return "instruct" if ok and has_answer else None
    if "text" in sample and "labels" in sample:
        return "classifier"
    return None
