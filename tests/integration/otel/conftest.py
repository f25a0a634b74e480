"""The full stack served over real HTTP, so the official OTel exporters can reach it.

``otlp_api`` serves :func:`tests.fixtures.stack.full_stack`'s app (its lifespan already
running: KafkaSink, pool, keys) with uvicorn on a free port, in the test's event loop
(:func:`tests.fixtures.serving.serving`); the SDK's exporters (blocking, ``requests``) run in
a thread. ``kafka_sink`` is the publishing tests' (a started KafkaSink on this test's topics).
"""

from __future__ import annotations

import asyncio
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

    async def export(self, exporter_class: Any, signal: str, data: Any, *, gzipped: bool) -> Any:
        """Send ``data`` with one of the SDK's OTLP/HTTP exporters (its blocking ``export`` in
        a thread) to ``/v1/<signal>`` with the ingest key; return the exporter's result."""
        from opentelemetry.exporter.otlp.proto.http import Compression

        exporter = exporter_class(
            endpoint=f"{self.url}/v1/{signal}",
            headers=self.headers(),
            compression=Compression.Gzip if gzipped else Compression.NoCompression,
            timeout=30,
        )
        try:
            return await asyncio.to_thread(exporter.export, data)
        finally:
            exporter.shutdown()


@pytest.fixture
async def otlp_api(full_stack: FullStack) -> AsyncIterator[OtlpApi]:
    """The full stack's API served by uvicorn on 127.0.0.1 (stopped after the test)."""
    async with serving(full_stack.app) as url:
        yield OtlpApi(url, full_stack)
