"""API keys: created once, shown once, stored only as a hash.

A key looks like ``oc_<prefix>_<secret>``: ``prefix`` (12 hex characters) is stored in clear
and indexed so a request finds its row in one lookup; the whole key is stored as its SHA-256,
compared in constant time. The secret has 256 bits of entropy, so a plain (unsalted) digest is
enough: there is no dictionary to attack. Scopes: ``ingest`` (send events, route, execute),
``read`` (traces, executions, metrics) and ``admin`` (everything, including keys).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "KEY_PATTERN",
    "ApiKey",
    "ApiKeyStore",
    "Scope",
    "generate_key",
    "hash_key",
    "parse_key",
    "scopes_allow",
]

KEY_PATTERN = re.compile(r"^oc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
"""The shape of a key; anything else is refused before touching the database."""

_TOUCH_INTERVAL_S = 60
"""``last_used_at`` is written at most once a minute per key (no write per request)."""


class Scope(StrEnum):
    """What a key may do; ``admin`` implies every other scope."""

    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


def scopes_allow(granted: Iterable[str], required: Scope) -> bool:
    """Return whether a key with ``granted`` scopes may use an endpoint needing ``required``."""
    have = set(granted)
    return Scope.ADMIN.value in have or required.value in have


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of a full key (what is stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """Return ``(key, prefix, hash)`` for a new random key."""
    prefix = secrets.token_hex(6)
    key = f"oc_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def parse_key(key: str) -> str | None:
    """Return the lookup prefix of a well-formed key, or None."""
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never its secret)."""

    key_id: uuid.UUID
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the key can still authenticate."""
        return self.revoked_at is None

    def as_json(self) -> dict[str, Any]:
        """The key's public fields, JSON-ready."""
        return {
            "key_id": str(self.key_id),
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


_COLUMNS = "key_id, name, key_prefix, scopes, created_at, last_used_at, revoked_at"
# Statements built once from the constant column list above; every value is a parameter.
_INSERT = (
    "INSERT INTO api_keys (name, key_prefix, key_hash, scopes) VALUES ($1, $2, $3, $4) "  # noqa: S608
    f"RETURNING {_COLUMNS}"
)
_LIST = (
    f"SELECT {_COLUMNS} FROM api_keys "  # noqa: S608 - constant column list
    "WHERE $1 OR revoked_at IS NULL ORDER BY created_at DESC"
)
_REVOKE = (
    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "  # noqa: S608 - constants
    f"WHERE key_id = $1 OR key_prefix = $2 RETURNING {_COLUMNS}"
)
_LOOKUP = f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_prefix = $1"  # noqa: S608
_TOUCH = (
    "UPDATE api_keys SET last_used_at = now() WHERE key_id = $1 AND "
    "(last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))"
)


def _row(record: Any) -> ApiKey:
    return ApiKey(
        key_id=record["key_id"],
        name=record["name"],
        prefix=record["key_prefix"],
        scopes=tuple(record["scopes"]),
        created_at=record["created_at"],
        last_used_at=record["last_used_at"],
        revoked_at=record["revoked_at"],
    )


def _check_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = sorted(set(scopes))
    if not wanted:
        raise ValueError("scope: give at least one of ingest, read, admin")
    known = {s.value for s in Scope}
    for scope in wanted:
        if scope not in known:
            raise ValueError(f"scope: unknown scope {scope!r} (known: admin, ingest, read)")
    return wanted


class ApiKeyStore:
    """Create, list, revoke and check API keys in the ``api_keys`` table.

    ``db`` is an asyncpg connection or pool (anything with ``fetch``/``fetchrow``/``execute``).
    """

    def __init__(self, db: Any) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def create(self, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
        """Create a key; return its record and the key itself (the only time it is known).

        Raises:
            ValueError: ``name`` is empty or a scope is unknown; the message names the field.
        """
        if not name.strip():
            raise ValueError("name: must not be empty")
        wanted = _check_scopes(scopes)
        key, prefix, digest = generate_key()
        record = await self._db.fetchrow(_INSERT, name.strip(), prefix, digest, wanted)
        return _row(record), key

    async def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Return every key, newest first."""
        rows = await self._db.fetch(_LIST, include_revoked)
        return [_row(r) for r in rows]

    async def revoke(self, key: str) -> ApiKey | None:
        """Revoke the key with this id, prefix or full key; return it, or None if unknown."""
        prefix = parse_key(key) or key.removeprefix("oc_")
        key_id: uuid.UUID | None
        try:
            key_id = uuid.UUID(key)
        except ValueError:
            key_id = None
        record = await self._db.fetchrow(_REVOKE, key_id, prefix)
        return None if record is None else _row(record)

    async def authenticate(self, key: str) -> ApiKey | None:
        """Return the active key matching ``key``, or None (malformed, unknown, revoked).

        The comparison of hashes is constant-time; ``last_used_at`` is refreshed at most once a
        minute.
        """
        prefix = parse_key(key)
        if prefix is None:
            return None
        record = await self._db.fetchrow(_LOOKUP, prefix)
        if record is None or not hmac.compare_digest(record["key_hash"], hash_key(key)):
            return None
        found = _row(record)
        if not found.active:
            return None
        await self._db.execute(_TOUCH, found.key_id, float(_TOUCH_INTERVAL_S))
        return found
