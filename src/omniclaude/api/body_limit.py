"""Request bodies over :data:`~omniclaude.events.limits.MAX_REQUEST_BYTES` answer 413 before
they are read whole.

Two checks, so neither a lying client nor a chunked one can make the server buffer more:

1. a ``Content-Length`` over the limit is answered at once, before any byte of the body is
   read (and a malformed one is a 400);
2. otherwise the bytes are counted as they stream in, and the first chunk past the limit
   stops the read with a 413 (the route never sees a body).

Both answers have the API's error shape and name ``body``.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["BodyLimitMiddleware", "too_large_message"]


def too_large_message(limit: int) -> str:
    """The message of every 413: the field and the limit."""
    return f"body: larger than {limit:,} bytes (the request body limit)"


def _answer(status_code: int, message: str) -> JSONResponse:
    field, _, text = message.partition(": ")
    code = "too_large" if status_code == 413 else "bad_request"
    body = {"error": code, "message": message, "errors": [{"field": field, "message": text}]}
    return JSONResponse(body, status_code=status_code, headers={"Connection": "close"})


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing a request body limit (see the module docstring).

    Args:
        app: the application to wrap.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Refuse an oversized body; pass everything else through, counting its bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            if not declared.isdigit():
                await _answer(400, "content-length: not a whole number")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await _answer(413, too_large_message(self.max_bytes))(scope, receive, send)
                return
        seen = 0
        limit = self.max_bytes

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException: FastAPI's body reader lets it through to the handler.
                    raise HTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, counted, send)
