"""The viewer's own error pages: what a person sees instead of the API's JSON.

The API's error handlers (:mod:`omniclaude.api.errors`) ask :func:`error_page` first; for a
path under ``/viewer`` it answers HTML: the login form for a 401 (in place of the page asked
for), a page naming the parameter for a 422, the candidates as links for an ambiguous short
id (409), a fragment for the detail panel's requests.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

__all__ = ["error_page"]

_TITLES = {
    401: "Log in", 403: "Not allowed", 404: "Not found", 409: "Which one?",
    413: "Too large", 422: "Not a valid request", 429: "Busy", 503: "Unavailable",
}  # fmt: skip
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def error_page(
    request: Request, status_code: int, body: dict[str, Any], headers: Any
) -> HTMLResponse | None:
    """An HTML page for an error on a viewer path (None elsewhere: the API answers JSON)."""
    path = request.url.path
    if not path.startswith("/viewer") or path.startswith("/viewer/static/"):
        return None
    from omniclaude.api.viewer.render import render
    from omniclaude.api.viewer.routes import NO_STORE, html, login_page

    if status_code == 401 and not path.startswith("/viewer/partials/"):
        return login_page(request, status_code=401, retry=True)
    message = str(body.get("message") or "")
    title = _TITLES.get(status_code, "Something went wrong")
    template = "partials/error.html" if path.startswith("/viewer/partials/") else "error.html"
    candidates = _UUID.findall(message) if status_code == 409 else []
    page = render(
        template, page="error", status=status_code, title=title, message=message,
        candidates=candidates,
    )  # fmt: skip
    extra = {k: v for k, v in (headers or {}).items() if k.lower() == "retry-after"}
    return html(page, status_code, {**NO_STORE, **extra})
