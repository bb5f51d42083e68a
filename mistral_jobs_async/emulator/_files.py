"""Uploaded files: their records per organisation, their bytes on disk, their token counts.

The bytes go to a temporary directory of the emulator's own as they arrive (an upload is
never held whole in memory) and are removed with the file, on ``reset`` and at exit. Token
counts are those of ``mistral_jobs_async.datasets`` for the job's model, so a job's
``metadata.data_tokens`` is what the local report said; each file is counted once per
tokenizer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._schemas import FileDeletedOut, FileOut, encoder

__all__ = ["SIGNED_PREFIX", "FileFilter", "FileRecord", "FileStore", "data_tokens"]

#: Where signed URLs point: served without a key (the signature is the credential).
SIGNED_PREFIX = "/_signed/files"


@dataclass(frozen=True)
class FileFilter:
    """The list's filters, and whether to count the total.

    ``purpose``; ``sample_type`` and ``source`` (any of the values given); ``search`` (in the
    file name, any case).
    """

    purpose: str | None = None
    sample_types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    search: str | None = None
    include_total: bool = True

    def matches(self, record: FileRecord) -> bool:
        """Whether ``record`` passes every filter given."""
        return (
            (self.purpose is None or record.purpose == self.purpose)
            and (not self.sample_types or record.sample_type in self.sample_types)
            and (not self.sources or "upload" in self.sources)
            and (self.search is None or self.search.lower() in record.filename.lower())
        )


@dataclass
class FileRecord:
    """An uploaded file: what was measured of it, and where its bytes are."""

    id: str
    key: str
    filename: str
    size: int
    created_at: int
    purpose: str
    sample_type: str
    num_lines: int
    error: str | None
    content: Path
    #: The content's SHA-256 (hex), sent as ``signature``.
    signature: str
    #: Sample lines that are not valid (``error`` names the first).
    invalid_lines: int = 0
    visibility: str = "workspace"
    expires_at: int | None = None
    #: The file's tokens by tokenizer file (counted when a job first uses it).
    tokens: dict[str, int] = field(default_factory=dict)

    def validation_error(self, skip_percentage: float) -> str | None:
        """Why a job on this file fails validation, if it does.

        Invalid samples are skipped while they are no more than ``skip_percentage`` of the
        file's samples; a problem of the whole file (no sample at all) is never skipped.
        """
        if self.error is None:
            return None
        if self.invalid_lines and self.invalid_lines * 100 <= skip_percentage * self.num_lines:
            return None
        if skip_percentage and self.invalid_lines:
            share = 100 * self.invalid_lines / max(1, self.num_lines)
            return (
                f"{self.filename}: {self.error} ({self.invalid_lines} of {self.num_lines} "
                f"samples invalid, {share:.1f}%: more than the {skip_percentage:g}% the job "
                "may skip)"
            )
        return f"{self.filename}: {self.error}"

    def render(self, *, with_deleted: bool = False) -> FileOut:
        """The file object as the API answers it."""
        out = FileOut(
            id=self.id,
            bytes=self.size,
            created_at=self.created_at,
            filename=self.filename,
            purpose=self.purpose,
            sample_type=self.sample_type,
            source="upload",
            num_lines=self.num_lines,
            object="file",
            mimetype="application/jsonl",
            signature=self.signature,
            expires_at=self.expires_at,
            visibility=self.visibility,
        )
        if with_deleted:
            out.deleted = False
        return out


class FileStore:
    """The files of every organisation (one per API key).

    Each public method takes the emulator's lock (the one the job store holds too: a create
    reads files under it).
    """

    def __init__(self, lock: threading.RLock, clock: SimClock, new_id: Callable[[], str]) -> None:
        self._lock = lock
        self._clock = clock
        self._new_id = new_id
        self._by_key: dict[str, dict[str, FileRecord]] = {}
        self._dir: Path | None = None
        self._secret = secrets.token_bytes(32)

    def new_path(self) -> Path:
        """A fresh path for an upload's bytes (the caller removes it if the upload fails)."""
        with self._lock:
            if self._dir is None:  # made on the first upload, removed with the store or at exit
                self._dir = Path(tempfile.mkdtemp(prefix="mistral-emulator-files-"))
                weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
            return self._dir / uuid.uuid4().hex

    def reset(self) -> None:
        """Forget every file and remove their bytes."""
        with self._lock:
            for records in self._by_key.values():
                for record in records.values():
                    record.content.unlink(missing_ok=True)
            self._by_key.clear()

    def add(self, key: str, *, expiry: int | None, **measured: Any) -> bytes:
        """Keep the record of an uploaded file (its bytes already at ``content``)."""
        with self._lock:
            now = int(self._clock.now())
            expires_at = now + expiry * 3600 if expiry is not None else None
            record = FileRecord(
                id=self._new_id(), key=key, created_at=now, expires_at=expires_at, **measured
            )
            self._by_key.setdefault(key, {})[record.id] = record
            return encoder.encode(record.render())

    def find(self, key: str, file_id: str) -> FileRecord | None:
        """``key``'s file ``file_id``, or None."""
        with self._lock:
            return self._by_key.get(key, {}).get(file_id)

    def get(self, key: str, file_id: str) -> FileRecord:
        """``key``'s file ``file_id``; a 404 for any other (another key's files too)."""
        record = self.find(key, file_id)
        if record is None:
            raise ApiError(404, f"File {file_id} not found")
        return record

    def answer(self, key: str, file_id: str) -> bytes:
        """``GET /v1/files/{id}``: the file object, with ``deleted: false``."""
        return encoder.encode(self.get(key, file_id).render(with_deleted=True))

    def page(self, key: str, page: int, page_size: int, where: FileFilter) -> bytes:
        """One page of ``key``'s files that match ``where``, newest first."""
        with self._lock:
            records = [r for r in reversed(self._by_key.get(key, {}).values()) if where.matches(r)]
            chosen = records[page * page_size : (page + 1) * page_size]
            body: dict[str, Any] = {"object": "list", "data": [r.render() for r in chosen]}
            if where.include_total:
                body["total"] = len(records)
            return encoder.encode(body)

    def delete(self, key: str, file_id: str) -> bytes:
        """Delete a file and its bytes; jobs that used it keep running."""
        with self._lock:
            record = self.get(key, file_id)
            del self._by_key[key][file_id]
            record.content.unlink(missing_ok=True)
            return encoder.encode(FileDeletedOut(id=record.id))

    def signed_url(self, key: str, file_id: str, expiry_hours: int, origin: str) -> bytes:
        """``GET /v1/files/{id}/url``: a URL that serves the file without a key.

        It works for ``expiry_hours`` from now, on the emulator's clock.
        """
        with self._lock:
            record = self.get(key, file_id)
            expires = int(self._clock.now()) + expiry_hours * 3600
            signature = self._sign(record.id, expires)
            path = f"{SIGNED_PREFIX}/{record.id}?expires={expires}&signature={signature}"
            return encoder.encode({"url": origin + path})

    def signed_content(self, file_id: str, expires: str, signature: str) -> Path:
        """Where the bytes a signed URL names are; a 403 if it is forged or expired."""
        try:
            when = int(expires)
        except ValueError:
            when = -1
        if when < 0 or not hmac.compare_digest(signature, self._sign(file_id, when)):
            raise ApiError(403, "Forbidden: the signature of this URL is not valid")
        with self._lock:
            if self._clock.now() > when:
                raise ApiError(403, "Forbidden: this signed URL has expired")
            record = next((r[file_id] for r in self._by_key.values() if file_id in r), None)
        if record is None:
            raise ApiError(404, f"File {file_id} not found")
        return record.content

    def count_training_tokens(self, key: str, file_ids: list[str], model: str) -> None:
        """Count the files' tokens for ``model``, once per file and tokenizer.

        Slow: called off the event loop, and counting outside the lock (the server answers
        meanwhile).
        """
        tokenizer = tokenizer_of(model)
        with self._lock:
            found = (self._by_key.get(key, {}).get(file_id) for file_id in file_ids)
            todo = [r for r in found if r is not None and tokenizer not in r.tokens]
        for record in todo:
            counted = count_tokens(record, model)
            with self._lock:
                record.tokens[tokenizer] = counted

    def _sign(self, file_id: str, expires: int) -> str:
        message = f"{file_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def data_tokens(files: list[FileRecord], model: str) -> int:
    """The files' tokens for ``model``: as counted, else about a token per four bytes."""
    tokenizer = tokenizer_of(model)
    return sum(f.tokens.get(tokenizer, f.size // 4) for f in files)


def tokenizer_of(model: str) -> str:
    """The tokenizer file the local report uses for ``model``."""
    from mistral_jobs_async.datasets._check import counter_for  # noqa: PLC0415 (on use)

    return counter_for(model).info.file


def count_tokens(record: FileRecord, model: str) -> int:
    """The file's tokens for ``model``, as the local report counts them.

    Slow: not under the store's lock, and not on the event loop.
    """
    from mistral_jobs_async.datasets import validate_file  # noqa: PLC0415 (on use)

    try:
        report = validate_file(record.content, model=model, workers=1)
    except FileNotFoundError:  # deleted meanwhile
        return 0
    total: int = report.token_summary()["total"]
    return total
