"""API keys on PostgreSQL: hashed at rest, authenticate, revoke; the ``keys`` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omniclaude.storage.api_keys import ApiKeyStore, hash_key

CLI = [str(Path(sys.executable).parent / "omniclaude")]


async def test_keys_are_hashed_at_rest_and_authenticate(db_pool: Any) -> None:
    """The secret is stored only as its hash; the right key authenticates, a forged one not."""
    store = ApiKeyStore(db_pool)
    record, key = await store.create("ci", ["read", "ingest"])
    row = await db_pool.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", record.key_id)
    assert key not in json.dumps({k: str(v) for k, v in dict(row).items()}), (
        "the key is stored in clear"
    )
    assert row["key_hash"] == hash_key(key)
    assert row["scopes"] == ["ingest", "read"]
    found = await store.authenticate(key)
    assert found is not None
    assert found.key_id == record.key_id
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert await store.authenticate(forged) is None
    assert await store.authenticate("garbage") is None
    used = await db_pool.fetchval(
        "SELECT last_used_at FROM api_keys WHERE key_id = $1", record.key_id
    )
    assert used is not None


async def test_revoked_keys_stop_working(db_pool: Any) -> None:
    """Revoking by id, prefix or key makes authentication fail at once; unknown is None."""
    store = ApiKeyStore(db_pool)
    for how in ("id", "prefix", "key"):
        record, key = await store.create(f"k-{how}", ["admin"])
        handle = {"id": str(record.key_id), "prefix": record.prefix, "key": key}[how]
        revoked = await store.revoke(handle)
        assert revoked is not None
        assert revoked.revoked_at is not None
        assert await store.authenticate(key) is None, f"key revoked by {how} still works"
    assert await store.revoke("oc_ffffffffffff") is None
    listed = await store.list(include_revoked=False)
    assert all(k.active for k in listed)


async def test_bad_scopes_are_refused(db_pool: Any) -> None:
    """Unknown scopes and empty names are refused, naming the field."""
    store = ApiKeyStore(db_pool)
    for name, scopes, field in (
        ("x", ["root"], "scope"),
        ("x", [], "scope"),
        (" ", ["read"], "name"),
    ):
        with pytest.raises(ValueError, match=f"^{field}:"):
            await store.create(name, scopes)


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMNICLAUDE_DATABASE_URL": database_url}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


async def test_cli_create_prints_the_key_once_on_its_own_line(
    database_url: str, db_pool: Any
) -> None:
    """``keys create`` prints the key alone on stdout; list never shows it; revoke works."""
    created = _cli(
        database_url, "keys", "create", "--name", "ci", "--scope", "read", "--scope", "ingest"
    )
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must be the key alone: {created.stdout!r}"
    assert lines[0].startswith("oc_")
    key = lines[0]
    found = await ApiKeyStore(db_pool).authenticate(key)
    assert found is not None
    assert set(found.scopes) == {"read", "ingest"}
    listed = _cli(database_url, "keys", "list", "--json")
    assert listed.returncode == 0
    assert key not in listed.stdout
    assert json.loads(listed.stdout)[0]["name"] == "ci"
    revoked = _cli(database_url, "keys", "revoke", str(found.key_id))
    assert revoked.returncode == 0
    assert await ApiKeyStore(db_pool).authenticate(key) is None
    bad = _cli(database_url, "keys", "create", "--name", "x", "--scope", "root")
    assert bad.returncode == 2
    assert "scope: unknown scope 'root'" in bad.stderr
