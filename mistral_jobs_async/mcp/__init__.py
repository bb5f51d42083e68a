"""An MCP server for training jobs, with guardrails on spending (the ``mcp`` extra).

``build_server(client, Guardrails(...))`` gives an ``MCPServer`` (the official MCP Python
SDK's) whose tools list, read, estimate, create, start, cancel and follow jobs through one
``AsyncClient``, within limits the person running the server sets: jobs per session and per
day, jobs running at once, allowed models, a cost ceiling per job, read-only.
``mistral-jobs mcp`` serves it over stdio (or streamable HTTP); ``mount_mcp(app)`` puts it in
a FastAPI app.

Modules: ``_guardrails`` (the limits and what they refuse), ``_server`` (the tools and
resources), ``_results`` (the tools' typed results), ``_follow`` (the shared watchers that
keep job resources fresh), ``_mount`` (in a FastAPI app).
"""

from __future__ import annotations

from mistral_jobs_async._extras import missing_extra

try:
    import mcp  # noqa: F401 (the extra's presence)
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the install
    raise missing_extra("mcp", "the MCP SDK", "mcp", missing) from None

from mistral_jobs_async.mcp._guardrails import Guardrails, Refused
from mistral_jobs_async.mcp._mount import mount_mcp
from mistral_jobs_async.mcp._server import build_server

__all__ = ["Guardrails", "Refused", "build_server", "mount_mcp"]
