"""Request-scoped log context: every line a request causes carries its ids.

:class:`LogContextMiddleware` binds a ``request_id`` (the caller's ``X-Request-ID`` when it is
a sensible token, else a new one, echoed back in the response header) and, when the request
names one, the ``correlation_id`` (``X-Correlation-ID``, or the id in ``/traces/{id}`` and
``/executions/{id}``) for the request's whole life, uvicorn's access line included.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

from omniclaude.logs import bind

__all__ = ["LogContextMiddleware"]

_ID_IN_PATH: Final = re.compile(
    r"/(?:traces|executions)/([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12})(?:/|$)"
)
_TOKEN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _correlation_id(scope: Any) -> str | None:
    candidate = _header(scope, b"x-correlation-id")
    if candidate is None:
        match = _ID_IN_PATH.search(scope.get("path") or "")
        candidate = match.group(1) if match else None
    if candidate is None:
        return None
    try:
        return str(uuid.UUID(candidate))
    except ValueError:
        return None  # a bad id is the route's to refuse; the log just does not carry it


class LogContextMiddleware:
    """Pure ASGI middleware binding ``request_id`` and ``correlation_id`` to log lines."""

    def __init__(self, app: Any) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the request with its ids bound; answer with ``X-Request-ID``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _TOKEN.fullmatch(given) else uuid.uuid4().hex[:16]

        async def tag(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with bind(request_id=request_id, correlation_id=_correlation_id(scope)):
            await self.app(scope, receive, tag)
