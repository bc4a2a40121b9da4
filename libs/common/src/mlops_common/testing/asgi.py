"""Serve an ASGI app with uvicorn on loopback inside a test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def serve_asgi(app: Any, port: int, start_timeout_s: float = 30.0) -> AsyncIterator[str]:
    """Serve ``app`` on ``127.0.0.1:port`` (lifespan included) and yield its URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(int(start_timeout_s / 0.02)):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # re-raise why it could not start
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
