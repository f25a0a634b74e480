"""The full stack served over real HTTP, so the official OTel exporters can reach it.

``otlp_api`` serves :func:`tests.fixtures.stack.full_stack`'s app (its lifespan already
running: KafkaSink, pool, keys) with uvicorn on a free port, in the test's event loop
(:func:`tests.fixtures.serving.serving`); the SDK's exporters (blocking, ``requests``) run in
a thread. ``kafka_sink`` is the publishing tests' (a started KafkaSink on this test's topics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.serving import serving
from tests.fixtures.stack import FullStack
from tests.integration.publishing.conftest import kafka_sink

__all__ = ["OtlpApi", "kafka_sink", "otlp_api"]


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
    async with serving(full_stack.app) as url:
        yield OtlpApi(url, full_stack)
