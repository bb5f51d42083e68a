"""Streaming check of an uploaded fine-tuning file, without keeping its content."""

from __future__ import annotations

import msgspec

from mistral_jobs_async.datasets._rules import check_sample

__all__ = ["JsonlChecker"]

_line_decoder = msgspec.json.Decoder()


class JsonlChecker:
    """Counts bytes and lines of a JSONL file fed in chunks and says whether it can train.

    A line is a valid sample when it meets the rules ``mistral_jobs_async.datasets`` checks
    locally (the same code: a file the local report passes is one the emulator accepts), as
    chat (instruct) or classifier data. The first error is kept, with its line and field, and
    the invalid sample lines are counted.
    Memory stays bounded by ``max_line`` whatever the file's size.
    """

    def __init__(self, *, max_line: int = 8 * 1024 * 1024) -> None:
        self.size = 0
        self.lines = 0
        #: Sample lines that are not valid (a job may skip some: invalid_sample_skip_percentage).
        self.invalid = 0
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
        try:
            sample = _line_decoder.decode(raw)
        except msgspec.DecodeError:
            self.invalid += 1
            self._fail(f"line {self.lines} is not valid JSON")
            return
        findings, facts = check_sample(sample)
        errors = [f for f in findings if f.severity == "error"]
        if errors or facts is None:
            first = errors[0] if errors else None
            reason = f"{first.path}: {first.reason}" if first else "not a sample"
            self.invalid += 1
            self._fail(f"line {self.lines}: {reason}")
        elif facts.format == "text":
            self.invalid += 1
            self._fail(f"line {self.lines}: plain text samples are not fine-tuning data")
        elif self.sample_type is None:
            self.sample_type = "instruct" if facts.format == "chat" else "classifier"
