"""Fixtures of the API integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniclaude.api import create_app
from omniclaude.settings import Settings
from omniclaude.storage.api_keys import ApiKeyStore
from tests.fixtures.stack import write_sample_project


@pytest.fixture
async def client(
    database_url: str, db_pool: Any, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of the API built from settings (its own pool and PostgreSQL sink), admin headers."""
    _, key = await ApiKeyStore(db_pool).create("admin", ["admin"])
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path / "d"),
        workspace=write_sample_project(tmp_path / "w"),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http, {"Authorization": f"Bearer {key}"}
