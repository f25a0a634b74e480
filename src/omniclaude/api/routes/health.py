"""``/health`` (liveness, open), ``/ready`` (dependencies, open) and ``/metrics`` (read)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from omniclaude._version import __version__
from omniclaude.api.deps import ReadKey, State
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import HealthResponse, ReadyResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])
_READY_TIMEOUT_S = 2.0


@router.get("/health", response_model=HealthResponse)
async def health() -> dict[str, Any]:
    """Liveness: the process answers. Needs no key."""
    return {"status": "ok", "version": __version__}


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def ready(state: State) -> Any:
    """Readiness: the database answers and the event sink is started. Needs no key."""
    checks: dict[str, str] = {}
    if state.pool is None:
        checks["database"] = "not configured"
    else:
        try:
            await asyncio.wait_for(state.pool.fetchval("SELECT 1"), _READY_TIMEOUT_S)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"error: {type(exc).__name__}"
    started = getattr(state.sink, "started", True)
    checks["sink"] = "ok" if started else "not started"
    ok = checks["database"] in {"ok", "not configured"} and checks["sink"] == "ok"
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        **{k: v for k, v in ERROR_RESPONSES.items() if k != 422},
    },
)
async def metrics(state: State, _: ReadKey) -> Response:
    """Prometheus metrics of this API (requests, routing, executions, events). Needs ``read``."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
