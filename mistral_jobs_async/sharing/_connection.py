"""Opening Redis, and showing its URL without a password."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from mistral_jobs_async._exceptions import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["connect", "text"]


async def connect(redis: Redis | str) -> Any:
    """A connected client: a URL is opened (and checked); a client is checked."""
    from redis.asyncio import Redis  # noqa: PLC0415 (the redis extra)
    from redis.exceptions import RedisError  # noqa: PLC0415

    client = Redis.from_url(redis) if isinstance(redis, str) else redis
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ConfigurationError("give a Redis client without decode_responses (bytes answers)")
    try:
        with anyio.fail_after(5):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        if isinstance(redis, str):
            await client.aclose()  # ours, and of no use
        where = _without_password(redis) if isinstance(redis, str) else "the given client"
        raise ConfigurationError(f"Redis is unreachable at {where}: {exc}") from None
    return client


def _without_password(url: str) -> str:
    """The URL to show in a message: a password in it (``redis://:secret@host``) is masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def text(value: bytes | str) -> str:
    """A Redis answer (bytes) as text."""
    return value.decode() if isinstance(value, bytes) else value
