"""Property-based API test: schemathesis generates requests — valid ones and negative ones
(values outside each parameter's and body field's schema: wrong types, out-of-range numbers,
missing and extra fields, odd strings) — for every operation of ``/openapi.json`` and of the
viewer (whose routes are left out of the public document, so the test builds theirs from the
same routes), and no response may be a server error: bad input is a 4xx naming the field.

The API runs under uvicorn on an unused port (its own event loop in a thread:
``tests.fixtures.serving.served``), publishing to PostgreSQL directly; requests carry an admin
key so they reach the handlers.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from omniclaude.api import create_app
from omniclaude.api.viewer.routes import router as viewer_router
from omniclaude.settings import Settings
from tests.fixtures.serving import api_key, served
from tests.fixtures.stack import write_sample_project

MAX_EXAMPLES = 25
"""Examples per operation and generation mode (positive, negative)."""


@pytest.fixture
def served_api(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of the API served by uvicorn on a free port."""
    key = asyncio.run(api_key(database_url, "schemathesis", ["admin"]))
    app = create_app(
        Settings(
            database_url=database_url, data_dir=tmp_path / "data", spool_dir=tmp_path / "spool"
        ),
        workspace=write_sample_project(tmp_path / "workspace"),
    )
    with served(app) as url:
        yield url, key


def _viewer_schema() -> dict[str, Any]:
    """An OpenAPI document of the viewer's routes, built from the routes themselves with the
    query parameters they declare (the app mounts this router under /viewer)."""
    routes = []
    for route in viewer_router.routes:
        if isinstance(route, APIRoute):
            shown = copy.copy(route)
            shown.include_in_schema = True
            routes.append(shown)
    return get_openapi(title="OmniClaude viewer", version="1", routes=routes)


def _server_errors(schema: Any, base: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Run every operation of ``schema`` in both generation modes; list the 5xx answers."""
    failures: list[str] = []
    negative_less: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: Any) -> None:
                response = case.call(base_url=base, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.meta.generation.mode.value if case.meta else '?'} "
                        f"{case.method} {case.formatted_path} "
                        f"query={case.query!r} -> {response.status_code}: {response.text[:300]}"
                    )

            try:
                check()
            except Unsatisfiable:
                # Nothing to get wrong (an operation with no parameter and no body): only
                # the negative mode can find no case, and the positive one ran.
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid case"
                negative_less.append(operation.label)
    return len(operations), failures


def test_no_server_errors(served_api: tuple[str, str]) -> None:
    """No generated request, valid or negative, on any operation of the OpenAPI document or
    of the viewer, gets a 5xx answer."""
    base, key = served_api
    headers = {"Authorization": f"Bearer {key}"}
    count, failures = _server_errors(
        schemathesis.openapi.from_url(f"{base}/openapi.json"), base, headers
    )
    assert count >= 12, f"the OpenAPI document lost operations: {count}"
    viewer_count, viewer_failures = _server_errors(
        schemathesis.openapi.from_dict(_viewer_schema()), base, headers
    )
    assert viewer_count >= 9, f"the viewer's routes went missing: {viewer_count}"
    failures += viewer_failures
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:20])
