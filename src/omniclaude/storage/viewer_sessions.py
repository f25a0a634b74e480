"""Viewer sessions: a ``read`` key traded once for a short-lived opaque session.

The viewer keeps the session in an HttpOnly cookie (no script, no URL ever sees it), so
every tab of one browser session opens traces without asking for the key again. Only the
session's SHA-256 is stored (the token has 256 bits of entropy: a plain digest is enough);
a session grants ``read`` and nothing else, expires after its TTL, and dies with its key
(revoked or deleted).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from omniclaude.storage.api_keys import ApiKey

__all__ = ["SESSION_PREFIX", "ViewerSessionStore", "hash_session"]

SESSION_PREFIX = "ocs_"
"""Every session token starts with this (a key starts with ``oc_``)."""

_INSERT = (
    "INSERT INTO viewer_sessions (session_hash, key_id, expires_at) "
    "VALUES ($1, $2, now() + make_interval(secs => $3))"
)
_LOOKUP = (
    "SELECT k.key_id, k.name, k.key_prefix, k.scopes, k.created_at, k.last_used_at, "
    "k.revoked_at FROM viewer_sessions s JOIN api_keys k ON k.key_id = s.key_id "
    "WHERE s.session_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL"
)
_DELETE = "DELETE FROM viewer_sessions WHERE session_hash = $1"
_PRUNE = "DELETE FROM viewer_sessions WHERE expires_at <= now()"


def hash_session(token: str) -> str:
    """The hex SHA-256 of a session token (what is stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ViewerSessionStore:
    """Create, check and end viewer sessions in ``viewer_sessions``."""

    def __init__(self, db: Any, *, ttl_s: float = 12 * 3600) -> None:
        """Use ``db`` (a connection or pool); sessions live ``ttl_s`` seconds."""
        self._db = db
        self.ttl_s = ttl_s

    async def create(self, key: ApiKey) -> str:
        """Open a session for ``key`` and return its token (shown to the browser only)."""
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        await self._db.execute(_PRUNE)
        await self._db.execute(_INSERT, hash_session(token), key.key_id, float(self.ttl_s))
        return token

    async def authenticate(self, token: str) -> ApiKey | None:
        """The key behind a live session, with the ``read`` scope only; None when the token
        is malformed, unknown, expired, or its key was revoked."""
        if not token.startswith(SESSION_PREFIX) or len(token) > 100:
            return None
        record = await self._db.fetchrow(_LOOKUP, hash_session(token))
        if record is None:
            return None
        return ApiKey(
            key_id=record["key_id"], name=record["name"], prefix=record["key_prefix"],
            scopes=("read",), created_at=record["created_at"],
            last_used_at=record["last_used_at"], revoked_at=None,
        )  # fmt: skip

    async def end(self, token: str) -> None:
        """End a session (logging out); unknown tokens are ignored."""
        await self._db.execute(_DELETE, hash_session(token))
