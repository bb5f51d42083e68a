"""``client.files``: upload, list, get and delete training files."""

from __future__ import annotations

import io
import os
from functools import partial
from pathlib import Path

import anyio
import msgspec

from mistral_jobs_async._exceptions import InvalidRequestError, InvalidTrainingDataError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import AsyncPager, fetch_page, list_pages
from mistral_jobs_async._uploads import BinaryStream, Upload
from mistral_jobs_async._validation import check_text, item_path
from mistral_jobs_async.models._common import Page
from mistral_jobs_async.models.files import DeletedFile, File, FileList
from mistral_jobs_async.resources._recovery import Claims, recovery

__all__ = ["Files"]

_PATH = "/v1/files"
_file = msgspec.json.Decoder(File)
_file_list = msgspec.json.Decoder(FileList)
_deleted = msgspec.json.Decoder(DeletedFile)


def _is_text(file: object) -> bool:
    """Whether a file object yields str (a common slip: ``open(path)`` without ``"rb"``)."""
    if isinstance(file, io.TextIOBase):
        return True
    read = getattr(file, "read", None)
    return callable(read) and isinstance(read(0), str)


class Files:
    """Files of the client's organisation (``purpose=fine-tune``)."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._claims = Claims()

    async def upload(
        self,
        file: str | os.PathLike[str] | BinaryStream,
        *,
        filename: str | None = None,
        purpose: str = "fine-tune",
        validate: bool = False,
        model: str | None = None,
    ) -> File:
        """Upload a JSONL file from a path or a binary file object, streamed in chunks.

        ``validate=True`` first checks a path's lines against the fine-tuning formats (and,
        with the ``data`` extra, Mistral's own validation and the tokenizer of ``model``), in
        a worker thread, and raises ``InvalidTrainingDataError`` with the report instead of
        uploading a file that would fail validation on the service. The content is never read
        into memory whole. A path is reopened, and a seekable
        stream rewound, if the upload is retried; a stream that cannot be rewound is sent once.
        Before a retry (or an error that may hide a done upload), the newest files are looked
        through for this one (same name, purpose and size, created since the first attempt).
        """
        check_text("filename", filename)
        check_text("purpose", purpose)
        if isinstance(file, (str, os.PathLike)):
            path = Path(file)
            if not await anyio.Path(path).is_file():
                raise InvalidRequestError("file", f"{str(path)!r} is not a readable file")
            name = filename or path.name
            if validate:
                await _validate(path, model)
        elif validate:
            raise InvalidRequestError("validate", "validation needs a path (a stream is read once)")
        elif _is_text(file):
            raise InvalidRequestError("file", "open the file in binary mode ('rb'), not text mode")
        elif hasattr(file, "read"):
            name = filename or Path(str(getattr(file, "name", "") or "upload.jsonl")).name
        else:
            raise InvalidRequestError("file", "must be a path or a binary file object")
        upload = Upload(file, name, {"purpose": purpose})

        async def newest(number: int, size: int, since: float) -> Page[File]:
            return await fetch_page(self._http, _PATH, _file_list, number, size)

        wanted = {"filename": name, "purpose": purpose, "bytes": upload.size}
        recover = recovery(self._http, newest, wanted, self._claims)
        uploaded = await self._http.request("POST", _PATH, _file, upload=upload, recover=recover)
        self._claims.add(uploaded.id)
        return uploaded

    def list(self, *, page: int = 0, page_size: int = 100) -> AsyncPager[File]:
        """Files, newest first: ``await`` it for one page, ``async for`` over it for all."""
        return list_pages(self._http, _PATH, _file_list, page=page, page_size=page_size)

    async def get(self, file_id: str) -> File:
        """One file."""
        return await self._http.request("GET", item_path(_PATH, "file_id", file_id), _file)

    async def delete(self, file_id: str) -> DeletedFile:
        """Delete a file (jobs that used it are not affected)."""
        path = item_path(_PATH, "file_id", file_id)
        return await self._http.request("DELETE", path, _deleted)


async def _validate(path: Path, model: str | None) -> None:
    """Refuse a file with errors before it is sent (the check runs in a worker thread)."""
    from mistral_jobs_async.datasets import validate_file  # noqa: PLC0415 (loaded on use)

    report = await anyio.to_thread.run_sync(partial(validate_file, path, model=model))
    if not report.ok:
        first = "; ".join(str(p) for p in report.problems if p.severity == "error")[:500]
        raise InvalidTrainingDataError(
            f"{path.name} has {report.errors} errors in {report.bad_lines} lines, e.g. {first}",
            report=report,
        )
