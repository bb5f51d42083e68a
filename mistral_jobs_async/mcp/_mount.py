"""The MCP server inside a FastAPI (or Starlette) app, at a path of its own.

Starlette does not run a mounted app's lifespan, and the SDK's streamable HTTP app needs its
own (it runs the session manager). ``mount_mcp`` mounts it and folds its lifespan, and the
closing of the server's client, into the app's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from mistral_jobs_async._client import AsyncClient
from mistral_jobs_async.mcp._guardrails import Guardrails
from mistral_jobs_async.mcp._server import build_server

__all__ = ["mount_mcp"]


def mount_mcp(
    app: Any,
    *,
    path: str = "/mcp",
    guardrails: Guardrails | None = None,
    client: Callable[[], AsyncClient] = AsyncClient,
) -> None:
    """Serve the MCP server at ``path`` of ``app`` (streamable HTTP, endpoint ``path/``).

    ``client`` builds the server's own client (default: ``AsyncClient()``, from the
    environment), closed when the app shuts down.
    """
    jobs_client = client()
    server = build_server(jobs_client, guardrails)
    mounted = server.streamable_http_app(streamable_http_path="/")
    app.mount(path, mounted)
    before = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(outer: Any) -> AsyncIterator[Any]:
        async with (
            before(outer) as state,
            mounted.router.lifespan_context(mounted),
            jobs_client,
        ):
            yield state

    app.router.lifespan_context = lifespan
