"""The full stack served over real HTTP, so the official OTel exporters can reach it.

``otlp_api`` serves :func:`tests.fixtures.stack.full_stack`'s app (its lifespan already
running: KafkaSink, pool, keys) with uvicorn on a socket bound to a free port, in the test's
event loop; the SDK's exporters (blocking, ``requests``) run in a thread.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from tests.fixtures.stack import FullStack
from tests.fixtures.waiting import wait_for


@dataclass
class OtlpApi:
    """The served API: its base URL and the stack behind it."""

    url: str
    stack: FullStack

    def headers(self, scope: str = "ingest") -> dict[str, str]:
        """Authorization header of the key of ``scope``."""
        return self.stack.headers(scope)

    async def trace(self, correlation_id: str) -> dict[str, Any]:
        """GET /traces/{id} (read key)."""
        response = await self.stack.client.get(
            f"/traces/{correlation_id}", headers=self.headers("read")
        )
        assert response.status_code == 200, f"GET /traces/{correlation_id}: {response.text}"
        return dict(response.json())


@pytest.fixture
async def otlp_api(full_stack: FullStack) -> AsyncIterator[OtlpApi]:
    """The full stack's API served by uvicorn on 127.0.0.1 (stopped after the test)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(full_stack.app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        if task.done():
            task.result()  # raises what stopped it
        return server.started

    try:
        await wait_for(started, what="uvicorn to serve the API", timeout_s=30)
        yield OtlpApi(f"http://127.0.0.1:{port}", full_stack)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        sock.close()
