"""Property-based API test: schemathesis generates requests from ``/openapi.json`` and no
response may be a server error (every bad input must be a 4xx naming the field).

The API runs under uvicorn on an unused port (its own event loop in a thread), publishing to
PostgreSQL directly; requests carry an admin key so they reach the handlers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings

from omniclaude.api import create_app
from omniclaude.settings import Settings
from omniclaude.stack.ports import unused_port
from omniclaude.storage.api_keys import ApiKeyStore
from omniclaude.storage.pool import connect
from tests.fixtures.stack import write_sample_project

MAX_EXAMPLES = 25


async def _admin_key(database_url: str) -> str:
    conn = await connect(database_url)
    try:
        return (await ApiKeyStore(conn).create("schemathesis", ["admin"]))[1]
    finally:
        await conn.close()


@pytest.fixture
def served_api(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of the API served by uvicorn on a free port."""
    key = asyncio.run(_admin_key(database_url))
    app = create_app(
        Settings(
            database_url=database_url, data_dir=tmp_path / "data", spool_dir=tmp_path / "spool"
        ),
        workspace=write_sample_project(tmp_path / "workspace"),
    )
    port = unused_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during startup"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)  # startup of a thread we own: no event loop here to wait on
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_no_server_errors(served_api: tuple[str, str]) -> None:
    """No generated request, on any operation of the OpenAPI document, gets a 5xx answer."""
    base, key = served_api
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, f"the OpenAPI document lost operations: {len(operations)}"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        check()
    assert not failures, "server errors:\n" + "\n".join(failures[:20])
