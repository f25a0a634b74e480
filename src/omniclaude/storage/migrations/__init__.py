"""Alembic migrations, run programmatically (``omniclaude db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omniclaude.storage.migrations.progress import ProgressReporter

__all__ = ["current", "downgrade", "head", "upgrade"]

_HERE = Path(__file__).parent


def _config(database_url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    # Kept as an attribute, not an ini option: ini interpolation would mangle '%' in passwords.
    config.attributes["database_url"] = database_url
    return config


def upgrade(
    database_url: str, revision: str = "head", *, progress: ProgressReporter | None = None
) -> None:
    """Apply migrations up to ``revision`` (default: the newest).

    Args:
        database_url: the PostgreSQL URL.
        revision: the target revision.
        progress: shows the progress of migrations that convert stored rows (default: log
            lines).
    """
    from alembic import command

    from omniclaude.storage.migrations.progress import reporting

    with reporting(progress):
        command.upgrade(_config(database_url), revision)  # type: ignore[arg-type]


def downgrade(
    database_url: str, revision: str, *, progress: ProgressReporter | None = None
) -> None:
    """Revert migrations down to ``revision`` (``base`` removes every table)."""
    from alembic import command

    from omniclaude.storage.migrations.progress import reporting

    with reporting(progress):
        command.downgrade(_config(database_url), revision)  # type: ignore[arg-type]


def head() -> str:
    """Return the newest revision shipped with this version of OmniClaude."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(_HERE))
    revision = script.get_current_head()
    if revision is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return revision


def current(database_url: str) -> str | None:
    """Return the revision the database is at (None when never migrated)."""
    import asyncio

    from omniclaude.storage.pool import connect

    async def _read() -> str | None:
        conn = await connect(database_url)
        try:
            exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
            if not exists:
                return None
            value: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
            return value
        finally:
            await conn.close()

    return asyncio.run(_read())
