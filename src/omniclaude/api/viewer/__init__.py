"""The trace viewer, served by the API under ``/viewer``.

Server-rendered pages (Jinja2, autoescaped, every event value redacted) read through the one
read layer; a ``read`` key is traded once for a session cookie (HttpOnly, SameSite=Strict), so
every tab of the browser opens traces without asking again. A small script adds the detail
panel, the live view and local times. No build step. :func:`register` is what
``omniclaude.api.app.create_app`` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["register"]


def register(app: FastAPI) -> None:
    """Mount the viewer on ``app`` (it reads the API's state), render the errors of its paths
    as its own pages, and redirect the root URL to it."""
    from fastapi.responses import RedirectResponse

    from omniclaude.api.errors import ERROR_PAGES
    from omniclaude.api.viewer.errors import error_page
    from omniclaude.api.viewer.routes import router

    app.include_router(router)
    setattr(app.state, ERROR_PAGES, error_page)
    has_root = any(getattr(route, "path", None) == "/" for route in app.router.routes)
    if not has_root:

        async def root() -> RedirectResponse:
            """Open the viewer."""
            return RedirectResponse("/viewer/", status_code=307)

        app.add_api_route("/", root, include_in_schema=False)
