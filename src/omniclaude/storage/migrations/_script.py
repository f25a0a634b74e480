"""Run SQL inside the migration's transaction, over its asyncpg connection."""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy.util import await_only

__all__ = ["execute", "fetch", "fetchval", "run_script"]


def _raw() -> Any:
    raw = op.get_bind().connection.driver_connection
    if raw is None:  # pragma: no cover - only without a live connection
        raise RuntimeError("migrations need a live database connection")
    return raw


def run_script(sql: str) -> None:
    """Execute ``sql`` (several statements) with asyncpg's simple-query protocol.

    asyncpg refuses several commands in one prepared statement, which is what
    ``op.execute`` sends; the raw connection's ``execute`` without arguments does not.
    """
    await_only(_raw().execute(sql))


def execute(sql: str, *args: Any) -> str:
    """Run one statement with bind parameters; return its status (``INSERT 0 12``)."""
    status: str = await_only(_raw().execute(sql, *args))
    return status


def fetch(sql: str, *args: Any) -> list[Any]:
    """Run one query with bind parameters and return its rows."""
    rows: list[Any] = await_only(_raw().fetch(sql, *args))
    return rows


def fetchval(sql: str, *args: Any) -> Any:
    """Run one query with bind parameters and return the first column of its first row."""
    return await_only(_raw().fetchval(sql, *args))
