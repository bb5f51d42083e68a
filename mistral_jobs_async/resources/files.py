"""``client.files``: upload, list, get, download and delete training files; signed URLs."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import IO

import anyio
import msgspec
from multidict import MultiDict

from mistral_jobs_async._downloads import Download
from mistral_jobs_async._exceptions import InvalidRequestError, InvalidTrainingDataError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._pagination import AsyncPager, fetch_page, list_pages
from mistral_jobs_async._uploads import BinaryStream, Upload
from mistral_jobs_async._validation import check_list, check_text, item_path
from mistral_jobs_async.models._common import Page
from mistral_jobs_async.models.files import DeletedFile, File, FileList, SignedUrl
from mistral_jobs_async.resources._recovery import Claims, recovery

__all__ = ["Files"]

_PATH = "/v1/files"
_file = msgspec.json.Decoder(File)
_file_list = msgspec.json.Decoder(FileList)
_deleted = msgspec.json.Decoder(DeletedFile)
_signed = msgspec.json.Decoder(SignedUrl)


def _is_text(file: object) -> bool:
    """Whether a file object yields str (a common slip: ``open(path)`` without ``"rb"``)."""
    if isinstance(file, io.TextIOBase):
        return True
    read = getattr(file, "read", None)
    return callable(read) and isinstance(read(0), str)


def _binary_writer(stream: object) -> bool:
    """Whether ``stream`` takes bytes: it writes, and is not a text stream.

    Checked without reading or writing: a write-only file and ``sys.stdout.buffer`` qualify.
    """
    if not callable(getattr(stream, "write", None)) or isinstance(stream, io.TextIOBase):
        return False
    mode = getattr(stream, "mode", "b")
    return not isinstance(mode, str) or "b" in mode or mode == ""


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
        expiry: int | None = None,
        visibility: str | None = None,
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
        ``expiry`` asks the service to delete the file after that many hours; ``visibility``
        is ``"workspace"`` (the service's default) or ``"user"``.
        """
        check_text("filename", filename)
        check_text("purpose", purpose)
        fields = {"purpose": purpose}
        if (shown := check_text("visibility", visibility)) is not None:
            fields["visibility"] = shown
        if expiry is not None:
            if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1:
                reason = f"must be a whole number of hours >= 1, not {expiry!r}"
                raise InvalidRequestError("expiry", reason)
            fields["expiry"] = str(expiry)
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
        upload = Upload(file, name, fields)

        async def newest(number: int, size: int, since: float) -> Page[File]:
            return await fetch_page(self._http, _PATH, _file_list, number, size)

        wanted = {"filename": name, "purpose": purpose, "bytes": upload.size}
        recover = recovery(self._http, newest, wanted, self._claims)
        uploaded = await self._http.request("POST", _PATH, _file, upload=upload, recover=recover)
        self._claims.add(uploaded.id)
        return uploaded

    def list(
        self,
        *,
        page: int = 0,
        page_size: int = 100,
        purpose: str | None = None,
        sample_type: str | Sequence[str] | None = None,
        source: str | Sequence[str] | None = None,
        search: str | None = None,
    ) -> AsyncPager[File]:
        """Files, newest first: ``await`` it for one page, ``async for`` over it for all.

        ``sample_type`` (``instruct``, ``pretrain``, ...) and ``source`` (``upload``,
        ``repository``, ``mistral``) take one value or several; ``search`` matches names.
        """
        params: MultiDict[str] = MultiDict()
        for name, value in (("purpose", purpose), ("search", search)):
            if (text := check_text(name, value)) is not None:
                params.add(name, text)
        for name, values in (("sample_type", sample_type), ("source", source)):
            for value in [values] if isinstance(values, str) else check_list(name, values) or []:
                if not isinstance(value, str):
                    raise InvalidRequestError(name, f"takes strings, not {value!r}")
                params.add(name, value)
        return list_pages(
            self._http, _PATH, _file_list, page=page, page_size=page_size, params=params
        )

    async def download(self, file_id: str, dest: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write a file's content to ``dest`` (a path or a binary stream); the bytes written.

        The content is streamed, never read whole. A path is written to a temporary file
        beside it and renamed once complete, so a failed download leaves nothing under
        ``dest`` (and two downloads to one path do not mix); a retry starts over (a stream is
        rewound, or, if it cannot seek, not retried).
        """
        if not isinstance(dest, (str, os.PathLike)) and not _binary_writer(dest):
            raise InvalidRequestError("dest", "must be a path or a binary stream open for writing")
        path = item_path(_PATH, "file_id", file_id) + "/content"
        sink = Download(dest)
        try:
            written = await self._http.download(path, sink)
        except BaseException:
            sink.abort()
            raise
        sink.finish()
        return written

    async def signed_url(self, file_id: str, *, expiry: int = 24) -> str:
        """A URL that fetches the file without a key, for ``expiry`` hours (1 to 168)."""
        if isinstance(expiry, bool) or not isinstance(expiry, int) or not 1 <= expiry <= 168:
            raise InvalidRequestError("expiry", f"must be hours from 1 to 168, not {expiry!r}")
        path = item_path(_PATH, "file_id", file_id) + "/url"
        answer = await self._http.request("GET", path, _signed, params={"expiry": str(expiry)})
        return answer.url

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
