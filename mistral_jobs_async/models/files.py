"""Models of the Files API (``/v1/files``)."""

from __future__ import annotations

import msgspec

from mistral_jobs_async.models._common import ListAnswer

__all__ = ["DeletedFile", "File", "FileList", "SignedUrl"]


class File(msgspec.Struct, kw_only=True):
    """An uploaded file; ``deleted`` is set by ``GET /v1/files/{id}``."""

    id: str
    object: str | None = None
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None
    sample_type: str | None = None
    source: str | None = None
    num_lines: int | None = None
    mimetype: str | None = None
    #: A digest of the content, as the service computes it.
    signature: str | None = None
    #: When the service deletes the file (Unix seconds), if it was uploaded with an expiry.
    expires_at: int | None = None
    #: ``workspace`` or ``user`` (an open set).
    visibility: str | None = None
    deleted: bool | None = None


#: The answer of the list endpoint.
FileList = ListAnswer[File]


class DeletedFile(msgspec.Struct, kw_only=True):
    """The answer of ``DELETE /v1/files/{id}``."""

    id: str
    deleted: bool = True
    object: str | None = None


class SignedUrl(msgspec.Struct, kw_only=True):
    """The answer of ``GET /v1/files/{id}/url``: a URL that fetches the file without a key."""

    url: str
