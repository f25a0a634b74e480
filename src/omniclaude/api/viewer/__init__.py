"""The trace viewer, served by the API under ``/viewer``.

Server-rendered pages (Jinja2, autoescaped, every event value redacted) and a small script
that asks for a ``read`` key, keeps it in ``sessionStorage`` and loads the data with it. No
build step. :func:`register` is what ``omniclaude.api.app.create_app`` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["register"]


def register(app: FastAPI) -> None:
    """Mount the viewer on ``app`` (it reads the API's state); the root URL redirects to it."""
    from fastapi.responses import RedirectResponse

    from omniclaude.api.viewer.routes import router

    app.include_router(router)
    has_root = any(getattr(route, "path", None) == "/" for route in app.router.routes)
    if not has_root:

        async def root() -> RedirectResponse:
            """Open the viewer."""
            return RedirectResponse("/viewer/", status_code=307)

        app.add_api_route("/", root, include_in_schema=False)
