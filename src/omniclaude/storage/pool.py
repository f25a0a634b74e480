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


SERVER_SETTINGS: dict[str, str] = {"plan_cache_mode": "force_custom_plan", "jit": "off"}
"""Session settings of every connection (a caller's ``server_settings`` add to them).

``plan_cache_mode = force_custom_plan``: asyncpg prepares every statement, and after five
executions PostgreSQL may switch a prepared statement to a *generic* plan, made without the
parameters' values. For the read layer's statements that is the wrong trade: a text search
planned without its pattern scans a week of executions by time and filters each row (0.4 ms
became 760 ms on the sixth run at 10M actions, bench/reads.py), and a trace read planned
without its window cannot prune partitions at plan time. A custom plan costs its planning
(well under a millisecond for these statements) and is made for the values at hand.

``jit = off``: the read layer's statements are index probes that finish in a millisecond or
two, but the planner's estimates for a recursive tree walk (the executions page's LLM usage:
thousands of rows estimated, 64 found) cross ``jit_above_cost``, and on a server built with
LLVM (Debian's PostgreSQL) compiling the plan took 63 ms of a 65 ms statement: the
executions list went from 1.6 to 57 ms (bench/reads.py, 10M actions). Nothing OmniClaude
runs is a long analytic scan that compilation would pay back."""


def _with_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "server_settings": {**SERVER_SETTINGS, **kwargs.get("server_settings", {})}}


async def connect(dsn: str, **kwargs: Any) -> asyncpg.Connection:
    """Open one connection with the shared codecs and :data:`SERVER_SETTINGS`."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, **_with_settings(kwargs))
    await init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> Any:
    """Create an asyncpg pool whose connections have the shared codecs and
    :data:`SERVER_SETTINGS`."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, **_with_settings(kwargs)
    )
