"""``omniclaude db``: schema migrations and partition maintenance."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from omniclaude.cli._common import console, fail, rows_progress, settings_from

if TYPE_CHECKING:
    from omniclaude.storage.migrations.progress import Advance

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


class RichProgress:
    """Shows each migration task (converting a table in place) as a Rich progress bar."""

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Advance]:
        """A bar of ``total`` rows while the block runs (nothing for an empty table)."""
        if total == 0:
            yield lambda _amount: None
            return
        with rows_progress() as progress:
            bar = progress.add_task(description, total=total)
            yield lambda amount: progress.advance(bar, amount)


def _dsn(ctx: typer.Context) -> str:
    settings = settings_from(ctx)
    if settings.database_url is None:
        fail("OMNICLAUDE_DATABASE_URL: not set; point it at a PostgreSQL database", code=2)
    return settings.database_dsn()


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply migrations to OMNICLAUDE_DATABASE_URL (default: to the newest).

    A migration that converts stored rows (partitioning the event tables) shows a progress
    bar per table; stop the consumer first.
    """
    from omniclaude.storage import migrations

    dsn = _dsn(ctx)
    try:
        migrations.upgrade(dsn, revision, progress=RichProgress())
    except (OSError, ConnectionError) as exc:
        fail(f"OMNICLAUDE_DATABASE_URL: cannot connect: {exc}")
    console.print(f"database at revision [bold]{migrations.current(dsn)}[/]")


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the revision the database is at, and the newest one shipped."""
    from omniclaude.storage import migrations

    settings = settings_from(ctx)
    console.print(f"current: {migrations.current(settings.database_dsn())}")
    console.print(f"head:    {migrations.head()}")


async def _maintain(dsn: str, policy: Any) -> list[Any]:
    from omniclaude.storage.partitions import maintain_partitions
    from omniclaude.storage.pool import connect

    conn = await connect(dsn, timeout=10)
    try:
        return await maintain_partitions(conn, policy=policy)
    finally:
        await conn.close(timeout=5)


@db_app.command("maintain")
def maintain(ctx: typer.Context) -> None:
    """Create the time partitions of today and the days ahead (OMNICLAUDE_PARTITIONS__*).

    The consumer does this when it starts and after each UTC day boundary; run it by hand
    (or from cron) when no consumer runs, or after changing the partition settings.
    """
    import asyncio

    from omniclaude.storage.partitions import PartitionPolicy

    settings = settings_from(ctx)
    dsn = _dsn(ctx)
    policy = PartitionPolicy(**settings.partitions.model_dump())
    try:
        created = asyncio.run(_maintain(dsn, policy))
    except (OSError, ConnectionError) as exc:
        fail(f"OMNICLAUDE_DATABASE_URL: cannot connect: {exc}")
    for item in created:
        console.print(f"created {item.name} [{item.start:%Y-%m-%d}, {item.end:%Y-%m-%d})")
    console.print(f"{len(created)} partition(s) created; {policy.ahead_days} day(s) ahead exist")


def register(app: typer.Typer) -> None:
    """Add the ``db`` commands to the CLI."""
    app.add_typer(db_app, name="db")
