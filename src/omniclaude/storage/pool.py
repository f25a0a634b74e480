"""asyncpg connections and pools, with the JSON codec every path shares."""

from __future__ import annotations

from typing import Any

import asyncpg

from omniclaude.events.codec import dumps, loads

__all__ = ["connect", "create_pool", "init_connection"]


def _encode_json(value: Any) -> str:
    return dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register codecs so ``json``/``jsonb`` columns take and give Python objects.

    UUIDs, datetimes and Decimals nested in a value are encoded by the shared codec, so no
    caller converts by hand (the spec's UUID bug cannot happen on the database path).
    """
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=loads, schema="pg_catalog", format="text"
        )


async def connect(dsn: str, **kwargs: Any) -> asyncpg.Connection:
    """Open one connection with the shared codecs installed."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, **kwargs)
    await init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> Any:
    """Create an asyncpg pool whose connections have the shared codecs installed."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, **kwargs
    )
