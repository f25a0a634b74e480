"""Error responses: one JSON shape (:class:`~omniclaude.api.schemas.ErrorResponse`) whose
message names the field at fault.

A database error is the caller's fault when the values were (SQLSTATE class 22/23/54, or a
parameter the driver cannot encode: :func:`~omniclaude.retry.is_data_error`): 422.
Only a real outage (connection lost, server restarting...) is a 503, never a 500. Query
parameters are validated before any query (:mod:`omniclaude.api.params`), so the 422 from the
database is the last line, not the usual one."""

from __future__ import annotations

import logging
from typing import Any, cast

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from omniclaude.api.schemas import ErrorResponse
from omniclaude.errors import ConfigurationError, EventValidationError, StorageError
from omniclaude.retry import is_data_error
from omniclaude.runtime.patterns import InvalidPatternError
from omniclaude.runtime.workspace import PathOutsideWorkspaceError
from omniclaude.storage.queries import InvalidFilterError

__all__ = ["ERROR_PAGES", "ERROR_RESPONSES", "field_of", "install_error_handlers", "printable"]

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid_request",
          429: "too_many_requests", 503: "unavailable"}  # fmt: skip

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, unknown or revoked API key"},
    403: {"model": ErrorResponse, "description": "The key lacks the scope this endpoint needs"},
    422: {"model": ErrorResponse, "description": "Invalid request; the message names the field"},
    503: {"model": ErrorResponse, "description": "A dependency (database, broker) is unavailable"},
}
"""The error responses every authenticated route documents."""


def field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """Turn a validation ``loc`` into a field path: ``("body", "events", 0, "x")`` →
    ``body.events[0].x``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(request)"


def printable(text: str) -> str:
    """``text`` with unpaired surrogates escaped, so an answer quoting input can be encoded."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _body(
    status_code: int, message: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "error": _CODES.get(status_code, "error"),
        "message": printable(message),
        "errors": [
            {"field": printable(e["field"]), "message": printable(e["message"])}
            for e in errors or []
        ],
    }


ERROR_PAGES = "omniclaude_error_pages"
"""``app.state`` attribute: a callable ``(request, status, body, headers) -> Response | None``
that renders an error as a page of its own (the viewer's, for its paths); None: JSON."""


def _respond(
    request: Request, status_code: int, body: dict[str, Any], headers: Any = None
) -> Response:
    pages = getattr(request.app.state, ERROR_PAGES, None)
    if pages is not None:
        page = pages(request, status_code, body, headers)
        if page is not None:
            return cast("Response", page)
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    items = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        items.append({"field": field_of(error.get("loc", ())), "message": message})
    text = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5]) or "invalid request"
    return _respond(request, 422, _body(422, text, items))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    field, sep, message = detail.partition(": ")
    errors = [{"field": field, "message": message}] if sep else []
    return _respond(request, exc.status_code, _body(exc.status_code, detail, errors), exc.headers)


async def _unprocessable(request: Request, exc: Exception) -> Response:
    text = str(exc)
    prefix, sep, rest = text.partition(": ")
    field = getattr(exc, "field", None) or (prefix if sep else "(request)")
    message = rest if sep and prefix == field else text
    return _respond(request, 422, _body(422, text, [{"field": field, "message": message}]))


async def _unavailable(request: Request, exc: Exception) -> Response:
    if is_data_error(exc):
        # The values of the request, not the database: the caller's fault.
        log.info("%s %s: refused by the database: %s", request.method, request.url.path, exc)
        message = f"request: a value was refused by the database ({type(exc).__name__}: {exc})"
        return _respond(
            request, 422, _body(422, message, [{"field": "(request)", "message": message}])
        )
    log.warning(
        "%s %s: dependency unavailable: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return _respond(request, 503, _body(503, f"database: unavailable ({type(exc).__name__})"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    invalid: tuple[type[Exception], ...] = (
        EventValidationError,
        PathOutsideWorkspaceError,
        InvalidPatternError,
        InvalidFilterError,
        ConfigurationError,
    )
    for kind in invalid:
        app.add_exception_handler(kind, _unprocessable)
    unavailable: tuple[type[Exception], ...] = (
        StorageError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
    )
    for kind in unavailable:
        app.add_exception_handler(kind, _unavailable)
