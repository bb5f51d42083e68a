"""Handlers of the emulated API: both job APIs and files, with their query parameters."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import BodyPartReader, web

from mistral_jobs_async.emulator._errors import ApiError
from mistral_jobs_async.emulator._files import FileFilter
from mistral_jobs_async.emulator._lifecycle import JobFilter
from mistral_jobs_async.emulator._models import ModelUpdateIn
from mistral_jobs_async.emulator._schemas import fine_tuning_job_decoder, training_job_decoder
from mistral_jobs_async.emulator._service import (
    BROKEN_BODY,
    Service,
    api_key_of,
    decode_body,
    json_response,
)
from mistral_jobs_async.emulator._uploads import JsonlChecker

__all__ = ["Routes"]

model_update_decoder = msgspec.json.Decoder(ModelUpdateIn)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: {raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ApiError(400, f"{name}: must be {bounds}, got {value}")
    return value


def _time_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    moment = _parse_iso(raw)
    if moment is None:
        hint = " (a '+' in a query string must be sent as %2B)" if " " in raw else ""
        raise ApiError(400, f"{name}: {raw!r} is not an ISO-8601 date-time{hint}")
    return moment


# Date, optional time with any fraction, optional Z or offset: the same on every Python (3.10's
# fromisoformat takes only 3 or 6 fraction digits and no Z).
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def _parse_iso(raw: str) -> float | None:
    """Unix seconds of an ISO-8601 date-time (UTC when no offset is given), or None."""
    match = _ISO.fullmatch(raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    seconds = moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name}: {raw!r} is not a boolean")
    return lowered in ("true", "1")


def _page(request: web.Request) -> tuple[int, int]:
    return (
        _int_param(request, "page", 0, 0, None),
        _int_param(request, "page_size", 20, 1, 100),
    )


@dataclass
class _UploadForm:
    """The parts of an upload, as they come."""

    purpose: str = "fine-tune"
    visibility: str = "workspace"
    expiry: int | None = None
    filename: str = ""
    digest: Any = field(default_factory=hashlib.sha256)
    checker: JsonlChecker = field(default_factory=JsonlChecker)


def _expiry(raw: str) -> int | None:
    """The upload's ``expiry`` part: hours, or empty/``null`` for none."""
    if raw in ("", "null"):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"expiry: {raw!r} is not a whole number of hours >= 1")
    return int(raw)


def _bytes_of(path: Path) -> web.StreamResponse:
    """A file's bytes, streamed from disk (gone meanwhile: a 404)."""
    if not path.exists():
        raise ApiError(404, "File not found")
    response = web.FileResponse(path, chunk_size=256 * 1024)
    response.content_type = "application/octet-stream"
    return response


class Routes:
    """Handlers of the emulated API (they run after auth, rate limit and faults)."""

    def __init__(self, service: Service) -> None:
        self.s = service

    async def create_fine_tuning(self, request: web.Request) -> web.Response:
        body = await decode_body(request, fine_tuning_job_decoder)
        key = api_key_of(request)
        # The local report's token counts, for the job's metadata: a tokenizer's first load
        # and a long file take seconds, which the event loop does not wait for.
        file_ids = [f.file_id for f in body.training_files]
        await asyncio.to_thread(self.s.store.files.count_training_tokens, key, file_ids, body.model)
        return json_response(self.s.store.create_fine_tuning(key, body))

    async def list_fine_tuning(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        created_by_me = _bool_param(request, "created_by_me")
        where = JobFilter(
            model=request.query.get("model"),
            status=request.query.get("status"),
            created_after=_time_param(request, "created_after"),
            created_before=_time_param(request, "created_before"),
            suffix=request.query.get("suffix"),
            wandb_project=request.query.get("wandb_project"),
            wandb_name=request.query.get("wandb_name"),
        )
        # Each key is its own organisation and its only creator: created_by_me=true is a no-op.
        del created_by_me
        return json_response(
            self.s.store.list_jobs(api_key_of(request), "fine_tuning", page, size, where)
        )

    async def get_fine_tuning(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return json_response(self.s.store.get_job(api_key_of(request), "fine_tuning", job_id))

    async def start_fine_tuning(self, request: web.Request) -> web.Response:
        return json_response(self.s.store.start(api_key_of(request), request.match_info["job_id"]))

    async def cancel_fine_tuning(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return json_response(self.s.store.cancel(api_key_of(request), "fine_tuning", job_id))

    async def create_forge(self, request: web.Request) -> web.Response:
        body = await decode_body(request, training_job_decoder)
        return json_response(self.s.store.create_forge(api_key_of(request), body))

    async def list_forge(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        return json_response(self.s.store.list_jobs(api_key_of(request), "forge", page, size))

    async def get_forge(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return json_response(self.s.store.get_job(api_key_of(request), "forge", job_id))

    async def cancel_forge(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        return json_response(self.s.store.cancel(api_key_of(request), "forge", job_id))

    async def upload_file(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "file: expected a multipart/form-data upload with a 'file' part")
        content = self.s.store.files.new_path()
        try:
            form = await self._read_upload(request, content)
            purpose, filename, checker = form.purpose, form.filename, form.checker
        except ApiError:
            content.unlink(missing_ok=True)
            raise
        except BROKEN_BODY as exc:
            content.unlink(missing_ok=True)
            raise ApiError(400, f"Malformed multipart body: {exc or type(exc).__name__}") from None
        except BaseException:  # cancelled: the client left
            content.unlink(missing_ok=True)
            raise
        return json_response(
            self.s.store.files.add(
                api_key_of(request),
                expiry=form.expiry,
                visibility=form.visibility,
                signature=form.digest.hexdigest(),
                filename=filename,
                size=checker.size,
                purpose=purpose,
                sample_type=checker.sample_type or "instruct",
                num_lines=checker.lines,
                error=checker.error,
                invalid_lines=checker.invalid,
                content=content,
            )
        )

    async def _read_upload(self, request: web.Request, content: Path) -> _UploadForm:
        """Stream the multipart parts: purpose, visibility, expiry and the file.

        The file is checked chunk by chunk as its bytes go to ``content``, never held whole.
        """
        reader = await request.multipart()
        form = _UploadForm()
        checker: JsonlChecker | None = None
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "Malformed multipart body: nested multipart is not supported")
            if part.name == "purpose":
                form.purpose = (await part.text()).strip()
            elif part.name == "visibility":
                form.visibility = (await part.text()).strip()
            elif part.name == "expiry":
                form.expiry = _expiry((await part.text()).strip())
            elif part.name == "file":
                form.filename = part.filename or "upload.jsonl"
                checker = JsonlChecker()
                with content.open("wb") as sink:
                    while chunk := await part.read_chunk(256 * 1024):
                        checker.feed(chunk)
                        form.digest.update(chunk)
                        if checker.size > self.s.max_upload_bytes:
                            limit = self.s.max_upload_bytes
                            raise ApiError(413, f"file: larger than {limit} bytes")
                        sink.write(chunk)
                checker.finish()
            else:
                await part.release()
        if form.purpose != "fine-tune":
            raise ApiError(400, f"purpose: {form.purpose!r} is not supported, use 'fine-tune'")
        if form.visibility not in ("workspace", "user"):
            raise ApiError(400, f"visibility: {form.visibility!r} is not 'workspace' or 'user'")
        if checker is None:
            raise ApiError(400, "file: a 'file' part is required")
        form.checker = checker
        return form

    # --- models ----------------------------------------------------------------------------------

    async def list_models(self, request: web.Request) -> web.Response:
        query = request.query
        return json_response(
            self.s.store.models.listing(
                api_key_of(request), provider=query.get("provider"), model=query.get("model")
            )
        )

    async def get_model(self, request: web.Request) -> web.Response:
        model_id = request.match_info["model_id"]
        return json_response(self.s.store.models.get(api_key_of(request), model_id))

    async def update_model(self, request: web.Request) -> web.Response:
        change = await decode_body(request, model_update_decoder)
        model_id = request.match_info["model_id"]
        return json_response(self.s.store.models.update(api_key_of(request), model_id, change))

    async def archive_model(self, request: web.Request) -> web.Response:
        model_id = request.match_info["model_id"]
        archived = request.method == "POST"
        return json_response(
            self.s.store.models.archive(api_key_of(request), model_id, archived=archived)
        )

    async def delete_model(self, request: web.Request) -> web.Response:
        model_id = request.match_info["model_id"]
        return json_response(self.s.store.models.delete(api_key_of(request), model_id))

    # --- files -----------------------------------------------------------------------------------

    async def list_files(self, request: web.Request) -> web.Response:
        page, size = _page(request)
        query = request.query
        where = FileFilter(
            purpose=query.get("purpose"),
            sample_types=tuple(query.getall("sample_type", [])),
            sources=tuple(query.getall("source", [])),
            search=query.get("search"),
            include_total=_bool_param(request, "include_total") is not False,
        )
        return json_response(self.s.store.files.page(api_key_of(request), page, size, where))

    async def download_file(self, request: web.Request) -> web.StreamResponse:
        path = self.s.store.files.get(api_key_of(request), request.match_info["file_id"]).content
        return _bytes_of(path)

    async def signed_url(self, request: web.Request) -> web.Response:
        expiry = _int_param(request, "expiry", 24, 1, 168)
        origin = f"{request.scheme}://{request.host}"
        file_id = request.match_info["file_id"]
        return json_response(
            self.s.store.files.signed_url(api_key_of(request), file_id, expiry, origin)
        )

    async def signed_download(self, request: web.Request) -> web.StreamResponse:
        """The bytes a signed URL names: no key, the signature is the credential."""
        query = request.query
        path = self.s.store.files.signed_content(
            request.match_info["file_id"], query.get("expires", ""), query.get("signature", "")
        )
        return _bytes_of(path)

    async def get_file(self, request: web.Request) -> web.Response:
        return json_response(
            self.s.store.files.answer(api_key_of(request), request.match_info["file_id"])
        )

    async def delete_file(self, request: web.Request) -> web.Response:
        return json_response(
            self.s.store.files.delete(api_key_of(request), request.match_info["file_id"])
        )
