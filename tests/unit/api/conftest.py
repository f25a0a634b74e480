"""Fixtures of the API unit tests: the app on an in-memory sink with an in-memory key store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from omniclaude.api import create_app
from omniclaude.events import utc_now
from omniclaude.runtime import RetryPolicy, RuntimeConfig
from omniclaude.settings import Settings
from omniclaude.storage.api_keys import ApiKey
from omniclaude.testing import InMemorySink
from tests.fixtures.stack import write_sample_project


class MemoryKeys:
    """Keys ``key-<scope>`` authenticate with that scope; anything else does not."""

    async def authenticate(self, key: str) -> ApiKey | None:
        """Return a key for ``key-<scope>[-<scope>...]``."""
        if not key.startswith("key-"):
            return None
        return ApiKey(
            uuid.uuid4(), "test", "prefix", tuple(key.split("-")[1:]), utc_now(), None, None
        )


@dataclass
class Api:
    """The app under test, a client, and its sink."""

    app: FastAPI
    client: httpx.AsyncClient
    sink: InMemorySink
    workspace: Path

    @staticmethod
    def auth(scope: str) -> dict[str, str]:
        """Headers for a key with ``scope``."""
        return {"Authorization": f"Bearer key-{scope}"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The API with no database, an in-memory sink and in-memory keys."""
    sink = InMemorySink()
    await sink.start()
    workspace = write_sample_project(tmp_path / "ws")
    app = create_app(
        Settings(data_dir=tmp_path / "data"),
        sink=sink,
        key_store=MemoryKeys(),
        workspace=workspace,
        runtime_config=RuntimeConfig(retry=RetryPolicy(initial_delay_s=0.001), tool_processes=0),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(app, client, sink, workspace)
    await sink.stop()
