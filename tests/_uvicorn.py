"""An ASGI app under a real uvicorn server on a free loopback port, and an SSE reader."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import uvicorn


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` (lifespan on) and yield its base URL; shut it down cleanly after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting (see its log)"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "the app did not shut down"


async def read_sse(session: aiohttp.ClientSession, url: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (event, data) of one Server-Sent Events stream, read to its end."""
    events: list[tuple[str, dict[str, Any]]] = []
    async with session.get(url) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        name = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events
