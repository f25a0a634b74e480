"""Every log line a request causes carries its request id and, when named, its trace's id."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from omniclaude.api.log_context import LogContextMiddleware

CID = "8c7a1c4e-0b1d-4a53-9a55-3c2b0d8a9f10"


async def _call(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[dict[str, Any], list[Any]]:
    seen: dict[str, Any] = {}
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(structlog.contextvars.get_contextvars())
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": headers}
    await LogContextMiddleware(app)(scope, None, send)
    return seen, sent


async def test_a_request_id_is_made_and_echoed() -> None:
    """Without X-Request-ID one is made; the response says which; nothing outlives the call."""
    seen, sent = await _call("/health", [])
    request_id = seen["request_id"]
    assert len(request_id) == 16
    assert (b"x-request-id", request_id.encode()) in sent[0]["headers"]
    assert "correlation_id" not in seen
    assert "request_id" not in structlog.contextvars.get_contextvars()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/traces/{CID}", []),
        (f"/executions/{CID}/events", []),
        ("/events", [(b"x-correlation-id", CID.upper().encode())]),
    ],
)
async def test_the_correlation_id_a_request_names_is_bound(
    path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """From the path or the X-Correlation-ID header, normalised."""
    seen, _ = await _call(path, headers)
    assert seen["correlation_id"] == CID


async def test_a_forged_id_is_not_bound_but_a_sensible_request_id_is_kept() -> None:
    """A malformed correlation id or request id never reaches a log line as given."""
    seen, _ = await _call(
        "/traces/not-a-uuid", [(b"x-request-id", b"abc-123"), (b"x-correlation-id", b"x\ny")]
    )
    assert seen["request_id"] == "abc-123"
    assert "correlation_id" not in seen
    forged, _ = await _call("/health", [(b"x-request-id", b"evil\nline")])
    assert forged["request_id"] != "evil\nline"
