"""API key format, hashing and scope rules (the pure parts; the store is tested on PostgreSQL)."""

from __future__ import annotations

from omniclaude.storage.api_keys import (
    KEY_PATTERN,
    Scope,
    generate_key,
    hash_key,
    parse_key,
    scopes_allow,
)


def test_generated_keys_are_well_formed_unique_and_hashed() -> None:
    """A key is oc_<12 hex>_<43 url-safe chars>; its hash is its SHA-256; keys never repeat."""
    keys = {generate_key() for _ in range(200)}
    assert len({k for k, _, _ in keys}) == 200
    key, prefix, digest = next(iter(keys))
    assert KEY_PATTERN.match(key)
    assert parse_key(key) == prefix
    assert digest == hash_key(key)
    assert len(digest) == 64
    assert key not in digest


def test_parse_key_refuses_anything_else() -> None:
    """Malformed keys have no prefix (and never reach the database)."""
    for bad in (
        "",
        "oc_",
        "oc_XYZ_abc",
        "Bearer oc_0123456789ab_" + "a" * 43,
        "oc_0123456789ab_" + "a" * 42,
    ):
        assert parse_key(bad) is None


def test_admin_implies_every_scope() -> None:
    """admin passes every check; other scopes pass only their own."""
    assert all(scopes_allow(["admin"], scope) for scope in Scope)
    assert scopes_allow(["read"], Scope.READ)
    assert not scopes_allow(["read"], Scope.INGEST)
    assert not scopes_allow([], Scope.READ)
