"""Read an answer's body within a bound: as sent, and once unpacked (gzip, deflate).

The client unpacks bodies itself instead of leaving it to aiohttp, for three reasons:

* **A bound on what unpacks.** A small gzip answer can expand to gigabytes. Each call to
  zlib here produces at most ``PIECE`` bytes (``max_length``), and the total is checked
  after every piece, so memory stays within the limit whatever the ratio.
* **Time for everyone else.** Unpacking and reading hand control back to the event loop
  between pieces, so a large answer never holds the loop for long, and a deadline around
  the request (the client's timeout) can cut it short.
* **One place that knows the encodings.** The client asks for ``gzip, deflate`` only, so it
  never receives an encoding it cannot read (aiohttp would also offer ``br`` and ``zstd``
  when their packages happen to be installed).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Protocol

import anyio.lowlevel

__all__ = ["ACCEPT_ENCODING", "CHUNK", "BadBody", "BodyTooLarge", "copy_body", "read_body"]

#: What the client asks for: the encodings :class:`_Unpacker` reads.
ACCEPT_ENCODING = "gzip, deflate"
#: Bytes read from the connection at a time.
CHUNK = 64 * 1024
#: Content-Encoding values that mean the body is sent as it is.
_IDENTITY = ("", "identity")
#: The most one zlib call may produce before the loop gets a turn and the limit a check.
PIECE = 1024 * 1024


class Content(Protocol):
    """What a body is read from (aiohttp's ``StreamReader``; only ``_exchange.py`` knows)."""

    async def read(self) -> bytes: ...

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]: ...


class BodyTooLarge(Exception):
    """The body (as sent, or unpacked) passed the limit; ``unpacked`` says which."""

    def __init__(self, *, unpacked: bool) -> None:
        super().__init__("unpacked" if unpacked else "as sent")
        self.unpacked = unpacked


class BadBody(Exception):
    """The body cannot be unpacked: an unknown encoding, or broken compressed data."""


class _Unpacker:
    """Incremental gzip/deflate decoding in bounded pieces (identity passes through)."""

    def __init__(self, encoding: str) -> None:
        codings = [c.strip() for c in encoding.lower().split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise BadBody(f"stacked Content-Encoding {encoding!r} is not supported")
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise BadBody(f"Content-Encoding {self.coding!r} was not asked for")
        self._z: zlib._Decompress | None = None
        self._wbits = 16 + zlib.MAX_WBITS if self.coding in ("gzip", "x-gzip") else 0

    def _decompressor(self, data: bytes) -> zlib._Decompress:
        if self._z is None:
            wbits = self._wbits
            if not wbits:
                # "deflate" is meant to be zlib-wrapped, but servers also send raw deflate.
                zlib_header = len(data) >= 2 and (data[0] & 0x0F) == 8
                zlib_header = zlib_header and ((data[0] << 8) | data[1]) % 31 == 0
                wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
            self._z = zlib.decompressobj(wbits)
        return self._z

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The unpacked pieces of ``data``, each at most ``PIECE`` bytes."""
        if self.coding is None:
            yield data
            return
        while data:
            z = self._decompressor(data)
            try:
                piece = z.decompress(data, PIECE)
            except zlib.error as exc:
                raise BadBody(f"broken {self.coding} data: {exc}") from None
            if piece:
                yield piece
            data = z.unconsumed_tail
            if z.eof:
                rest = z.unused_data
                self._z = None
                # Another gzip member may follow; anything else after the end is dropped.
                data = rest if self._wbits and rest[:2] == b"\x1f\x8b" else b""

    def finish(self) -> None:
        """Check that the compressed data was complete."""
        if self._z is not None and not self._z.eof:
            raise BadBody(f"the {self.coding} data ends early")


async def read_body(
    content: Content,
    *,
    encoding: str,
    length: int | None,
    limit: int,
) -> bytes | bytearray:
    """The whole body from ``content``, unpacked, refused past ``limit`` bytes either way.

    ``length`` is the Content-Length, if sent: a body announced larger than the limit is
    refused before a byte of it is read.
    """
    if length is not None and length > limit:
        raise BodyTooLarge(unpacked=False)
    if length is not None and encoding.strip().lower() in _IDENTITY:
        # The common answer (a job, a page): aiohttp's parser hands over exactly Content-Length
        # bytes, nothing to unpack, so one read does it (a third of the chunk loop's CPU).
        return await content.read()
    return await _read_chunks(content.iter_chunked(CHUNK), encoding=encoding, limit=limit)


async def _read_chunks(chunks: AsyncIterator[bytes], *, encoding: str, limit: int) -> bytearray:
    unpacker = _Unpacker(encoding)
    body = bytearray()
    received = 0
    since_checkpoint = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(unpacked=False)
        for piece in unpacker.feed(chunk):
            body += piece
            if len(body) > limit:
                raise BodyTooLarge(unpacked=True)
            since_checkpoint += len(piece)
            if since_checkpoint >= PIECE:
                # Buffered data is read without waiting, and unpacking takes a while: let
                # the loop (and the request's deadline) in once per PIECE.
                since_checkpoint = 0
                await anyio.lowlevel.checkpoint()
    unpacker.finish()
    return body


async def copy_body(
    chunks: AsyncIterator[bytes], *, encoding: str, write: Callable[[bytes], Awaitable[None]]
) -> int:
    """Unpack ``chunks`` into ``write`` as they come; the unpacked bytes written.

    For a download: no limit and no buffer, the destination takes each piece.
    """
    unpacker = _Unpacker(encoding)
    written = 0
    async for chunk in chunks:
        for piece in unpacker.feed(chunk):
            await write(piece)
            written += len(piece)
    unpacker.finish()
    return written
