"""Run a multi-statement SQL script inside the migration's transaction."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(sql: str) -> None:
    """Execute ``sql`` (several statements) with asyncpg's simple-query protocol.

    asyncpg refuses several commands in one prepared statement, which is what
    ``op.execute`` sends; the raw connection's ``execute`` without arguments does not.
    """
    raw = op.get_bind().connection.driver_connection
    if raw is None:  # pragma: no cover - only without a live connection
        raise RuntimeError("migrations need a live database connection")
    await_only(raw.execute(sql))
