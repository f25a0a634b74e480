"""Viewer sessions on PostgreSQL: only a hash is stored, read scope only, they expire and
die with their key."""

from __future__ import annotations

from typing import Any

import pytest

from omniclaude.storage.api_keys import ApiKeyStore
from omniclaude.storage.viewer_sessions import ViewerSessionStore, hash_session

pytestmark = pytest.mark.covers("table:viewer_sessions", "table:api_keys")


async def test_a_session_is_stored_hashed_and_grants_read_only(db_pool: Any) -> None:
    """The token is not in the table (its SHA-256 is); an admin key's session reads only."""
    keys, sessions = ApiKeyStore(db_pool), ViewerSessionStore(db_pool)
    record, _ = await keys.create("admin-viewer", ["admin"])
    token = await sessions.create(record)
    stored = await db_pool.fetch("SELECT session_hash FROM viewer_sessions")
    assert [r["session_hash"] for r in stored] == [hash_session(token)]
    assert token not in str([dict(r) for r in stored])
    found = await sessions.authenticate(token)
    assert found is not None
    assert found.key_id == record.key_id
    assert found.scopes == ("read",), "a session must never carry more than read"
    assert await sessions.authenticate(token + "x") is None
    assert await sessions.authenticate("oc_not_a_session") is None


async def test_a_session_expires_and_dies_with_its_key(db_pool: Any) -> None:
    """Past its TTL it is refused (and pruned at the next login); a revoked key ends it."""
    keys = ApiKeyStore(db_pool)
    record, _ = await keys.create("reader", ["read"])
    sessions = ViewerSessionStore(db_pool)
    token = await sessions.create(record)
    await db_pool.execute(
        "UPDATE viewer_sessions SET created_at = now() - interval '2 days', "
        "expires_at = now() - interval '1 second'"
    )
    assert await sessions.authenticate(token) is None, "an expired session still opened pages"
    fresh = await sessions.create(record)
    assert await db_pool.fetchval("SELECT count(*) FROM viewer_sessions") == 1, "not pruned"
    assert await sessions.authenticate(fresh) is not None
    await keys.revoke(str(record.key_id))
    assert await sessions.authenticate(fresh) is None, "a revoked key's session still works"
    other = await sessions.create(record)
    await sessions.end(other)
    assert await sessions.authenticate(other) is None
