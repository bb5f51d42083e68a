"""Where a download's bytes go: a path (complete or absent) or a binary stream.

A path is written to ``<name>.<random>.part`` beside it and renamed when the whole body has
come, so a failed or cut download never leaves a half file under the name asked for, and two
downloads to one path do not write into each other. A stream is written as it comes, as
given (its writes are the caller's to make fast); it is rewound for a retry when it can
seek, and sent to once otherwise. A path's writes run in a worker thread: a slow disk does
not hold the event loop.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO, Any

import anyio

__all__ = ["Download"]


class Download:
    """The destination of one download, reset at the start of each attempt."""

    def __init__(self, dest: str | os.PathLike[str] | IO[bytes]) -> None:
        self.written = 0
        self._path: Path | None = None
        self._stream: Any = None
        self._start: int | None = None
        if isinstance(dest, (str, os.PathLike)):
            self._path = Path(dest)
            self._part = self._path.with_name(f"{self._path.name}.{uuid.uuid4().hex[:8]}.part")
        else:
            self._stream = dest
            if getattr(dest, "seekable", bool)():
                self._start = dest.tell()
        self._file: Any = None

    @property
    def repeatable(self) -> bool:
        """Whether an attempt can start over (a path, or a stream that can seek)."""
        return self._path is not None or self._start is not None

    async def begin(self) -> None:
        """Start (again) from nothing."""
        self.written = 0
        if self._path is not None:
            if self._file is not None:
                await anyio.to_thread.run_sync(self._file.close)
            self._file = await anyio.to_thread.run_sync(self._part.open, "wb")
        elif self._start is not None:
            self._stream.seek(self._start)
            self._stream.truncate()

    async def write(self, piece: bytes) -> None:
        """Write the next piece of the body."""
        if self._file is not None:
            await anyio.to_thread.run_sync(self._file.write, piece)
        else:
            self._stream.write(piece)
        self.written += len(piece)

    def finish(self) -> None:
        """The body is whole: a path's part file takes the name asked for."""
        if self._path is not None:
            self._close()
            if self._part.exists():
                self._part.replace(self._path)
            else:  # no attempt began (cannot happen after a success, but stay whole)
                self._path.write_bytes(b"")
        elif hasattr(self._stream, "flush"):
            self._stream.flush()

    def abort(self) -> None:
        """The download failed: a path's part file is removed (the name asked for untouched)."""
        if self._path is not None:
            self._close()
            self._part.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
