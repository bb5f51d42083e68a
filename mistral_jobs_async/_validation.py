"""Parameters checked before any I/O: request bodies against their models, ids, pages.

The request bodies are ``models.requests``' (the public request models and their bounds);
``check`` turns a payload into one, or raises an
:class:`~mistral_jobs_async.InvalidRequestError` that names the field, instead of costing a
request (or a rate-limit token) to learn the same from a 400.
"""

from __future__ import annotations

import functools
import re
from typing import Any, TypeVar

import msgspec

from mistral_jobs_async._exceptions import InvalidRequestError

__all__ = [
    "check",
    "check_id",
    "check_list",
    "check_page",
    "check_text",
    "item_path",
    "to_payload",
]

T = TypeVar("T")


_PATH = re.compile(r"at `\$\.?([^`]*)`")


def check(payload: dict[str, Any], model: type[T]) -> T:
    """Convert ``payload`` to ``model``, or raise InvalidRequestError naming the field.

    A key that no model along its path has is refused (the nested request models also
    decode answers, where unknown fields are welcome, so they do not forbid them).
    """
    unknown = _unknown_key(payload, msgspec.inspect.type_info(model), "")
    if unknown is not None:
        where, _, key = unknown.rpartition(".")
        raise InvalidRequestError(unknown, f"{key!r} is not a field of {where or 'the request'}")
    try:
        return msgspec.convert(payload, model)
    except msgspec.ValidationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, InvalidRequestError):
            raise cause from None
        text = str(exc)
        match = _PATH.search(text)
        field = match.group(1) if match else "body"
        message = _PATH.sub("", text).rstrip(" -")
        raise InvalidRequestError(field or "body", message) from None


def item_path(collection: str, name: str, value: object) -> str:
    """``collection/<id>`` for a job or file id (see :func:`check_id`)."""
    if type(value) is str:  # a subclass may not hash like a str
        return _checked_path(collection, name, value)
    return f"{collection}/{check_id(name, value)}"  # raises


@functools.lru_cache(maxsize=4096)
def _checked_path(collection: str, name: str, value: str) -> str:
    # Cached: a watcher asks for the same few thousand paths again and again, and the check
    # is a regex match (an invalid id raises, and exceptions are never cached).
    return f"{collection}/{check_id(name, value)}"


def check_id(name: str, value: object) -> str:
    """A job or file id: a non-empty string that cannot change the URL's path."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(name, f"must be a non-empty string, not {value!r}")
    if not _ID.fullmatch(value):
        raise InvalidRequestError(name, f"{value!r} is not an id")
    return value


# Ids are UUIDs today; letters, digits, '-', '_' and inner '.' or ':' stay possible, but nothing
# that could change the URL's path ('/', '.', '..', '?', '#', '%').
_ID = re.compile(r"[A-Za-z0-9_-]+(?:[.:][A-Za-z0-9_-]+)*")


def check_text(name: str, value: object) -> str | None:
    """An optional string parameter (a list filter, a form field)."""
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(name, f"must be a string, not {type(value).__name__}")
    return value


def check_list(name: str, value: object) -> list[Any] | None:
    """An optional list parameter: a list or tuple (a lone string is a common slip)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidRequestError(name, f"must be a list, not {type(value).__name__}")
    return list(value)


def to_payload(value: object) -> Any:
    """A model given as a parameter, as plain JSON-ready values (mappings pass through)."""
    return msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value


def check_page(page: int, page_size: int) -> None:
    """Page bounds of the list endpoints: page >= 0, page_size in 1..100."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise InvalidRequestError("page", f"must be an integer >= 0, not {page!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise InvalidRequestError("page_size", f"must be an integer in 1..100, not {page_size!r}")


def _unknown_key(value: object, info: msgspec.inspect.Type, path: str) -> str | None:
    """The path of the first key in ``value`` that its model does not have, if any."""
    if isinstance(info, msgspec.inspect.UnionType):
        structs = [t for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        lists = [t for t in info.types if isinstance(t, msgspec.inspect.ListType)]
        if isinstance(value, dict) and structs:
            return _unknown_key(value, structs[0], path)
        if isinstance(value, list) and lists:
            return _unknown_key(value, lists[0], path)
        return None
    if isinstance(info, msgspec.inspect.ListType) and isinstance(value, list):
        for index, item in enumerate(value):
            found = _unknown_key(item, info.item_type, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    if isinstance(info, msgspec.inspect.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in info.fields}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in fields:
                return where
            found = _unknown_key(item, fields[key], where)
            if found is not None:
                return found
    return None
