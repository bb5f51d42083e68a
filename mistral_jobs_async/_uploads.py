"""Files to send as multipart form data: streamed, and reopened or rewound per attempt."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from mistral_jobs_async._exceptions import InvalidRequestError

__all__ = ["BinaryStream", "Upload"]

#: What ``files.upload`` streams from: an open binary file, or any buffered or raw byte stream.
BinaryStream = IO[bytes] | io.BufferedIOBase | io.RawIOBase


class Upload:
    """A file to send as multipart form data, streamed, and reopened or rewound per attempt.

    A path is opened for each attempt; a stream is rewound to where it stood. A stream that
    cannot be rewound is sent once, without retries.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryStream,
        filename: str,
        fields: Mapping[str, str],
    ) -> None:
        self.source = source
        self.filename = filename
        self.fields = fields
        self._start: int | None = None
        if not isinstance(source, (str, os.PathLike)) and getattr(source, "seekable", bool)():
            self._start = source.tell()

    @property
    def size(self) -> int | None:
        """The bytes that will be sent, if known (a plain file or a seekable stream)."""
        if isinstance(self.source, (str, os.PathLike)):
            try:
                return Path(self.source).stat().st_size
            except OSError:
                return None
        if self._start is None or not isinstance(
            self.source, (io.FileIO, io.BufferedReader, io.BufferedRandom, io.BytesIO)
        ):
            return None  # a stream that decodes another (gzip) has no cheap size
        end = self.source.seek(0, io.SEEK_END)
        self.source.seek(self._start)
        return end - self._start

    @property
    def repeatable(self) -> bool:
        """Whether the content can be sent again."""
        return isinstance(self.source, (str, os.PathLike)) or self._start is not None

    def open(self) -> tuple[IO[bytes] | io.RawIOBase, bool]:
        """The stream to send from its start, and whether to close it afterwards."""
        if isinstance(self.source, (str, os.PathLike)):
            try:
                return Path(self.source).open("rb"), True
            except OSError as exc:
                raise InvalidRequestError(
                    "file", f"cannot read {self.source}: {exc.strerror}"
                ) from None
        if self._start is not None:
            self.source.seek(self._start)
        # aiohttp closes what it sends; the caller's stream must stay open for the caller.
        return _Borrowed(self.source), False


class _Borrowed(io.RawIOBase):
    """A read-only view of a caller's stream whose ``close`` leaves the stream open."""

    def __init__(self, stream: BinaryStream) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def fileno(self) -> int:
        # aiohttp sizes a body by fstat(fileno()): right for a plain file, wrong for a stream
        # that decodes one (gzip, zip members), whose descriptor is the compressed file.
        # Those are sent without a length (chunked) instead.
        if isinstance(self._stream, (io.FileIO, io.BufferedReader, io.BufferedRandom)):
            return self._stream.fileno()
        raise io.UnsupportedOperation("fileno")

    def seekable(self) -> bool:
        return self._stream.seekable()

    def tell(self) -> int:
        return self._stream.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)
