"""The local viewer key: a ``read``-scoped API key ``omniclaude up`` creates once.

Keys are stored hashed, so the plain key can only be shown when it is created; ``up`` keeps
it in ``<data_dir>/stack/viewer.key`` (mode 0600, like an SSH key) so it can print it again on
every start. A key that was revoked (or a database that was replaced) gets a fresh one.
"""

from __future__ import annotations

import os
from pathlib import Path

from omniclaude.stack.state import stack_dir

__all__ = ["VIEWER_KEY_NAME", "ensure_viewer_key", "read_viewer_key", "viewer_key_path"]

VIEWER_KEY_NAME = "local viewer (omniclaude up)"
_KEY_MODE = 0o600


def viewer_key_path(data_dir: Path) -> Path:
    """Return where the viewer key of the stack in ``data_dir`` is kept."""
    return stack_dir(data_dir) / "viewer.key"


def read_viewer_key(data_dir: Path) -> str | None:
    """Return the saved viewer key, or None when there is none."""
    try:
        return viewer_key_path(data_dir).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _KEY_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    path.chmod(_KEY_MODE)


async def ensure_viewer_key(database_url: str, data_dir: Path) -> tuple[str, bool]:
    """Return a working ``read`` key for the viewer, creating (and saving) one if needed.

    Returns:
        ``(key, created)``: ``created`` is True when a new key was made now.
    """
    from omniclaude.storage.api_keys import ApiKeyStore, Scope, scopes_allow
    from omniclaude.storage.pool import connect

    conn = await connect(database_url)
    try:
        store = ApiKeyStore(conn)
        saved = read_viewer_key(data_dir)
        if saved is not None:
            found = await store.authenticate(saved)
            if found is not None and scopes_allow(found.scopes, Scope.READ):
                return saved, False
        _, key = await store.create(VIEWER_KEY_NAME, [Scope.READ.value])
    finally:
        await conn.close()
    _write_key(viewer_key_path(data_dir), key)
    return key, True
