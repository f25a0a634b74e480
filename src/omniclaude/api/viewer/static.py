"""The viewer's two static files (its stylesheet and script), read once from the package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

__all__ = ["STATIC_FILES", "static_file"]

STATIC_FILES: dict[str, str] = {
    "viewer.css": "text/css; charset=utf-8",
    "viewer.js": "text/javascript; charset=utf-8",
}
"""The only files served: name → media type (anything else is a 404)."""


@lru_cache(maxsize=len(STATIC_FILES))
def static_file(name: str) -> tuple[bytes, str] | None:
    """Return ``(content, media_type)`` of a known static file, or None for any other name."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return None
    content = resources.files("omniclaude.api.viewer").joinpath("static_files", name).read_bytes()
    return content, media_type
