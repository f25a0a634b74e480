"""``omniclaude db``: schema migrations."""

from __future__ import annotations

import typer

from omniclaude.cli._common import console, fail, settings_from

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply migrations to OMNICLAUDE_DATABASE_URL (default: to the newest)."""
    from omniclaude.storage import migrations

    settings = settings_from(ctx)
    if settings.database_url is None:
        fail("OMNICLAUDE_DATABASE_URL: not set; point it at a PostgreSQL database", code=2)
    try:
        migrations.upgrade(settings.database_dsn(), revision)
    except (OSError, ConnectionError) as exc:
        fail(f"OMNICLAUDE_DATABASE_URL: cannot connect: {exc}")
    console.print(f"database at revision [bold]{migrations.current(settings.database_dsn())}[/]")


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the revision the database is at, and the newest one shipped."""
    from omniclaude.storage import migrations

    settings = settings_from(ctx)
    console.print(f"current: {migrations.current(settings.database_dsn())}")
    console.print(f"head:    {migrations.head()}")


def register(app: typer.Typer) -> None:
    """Add the ``db`` commands to the CLI."""
    app.add_typer(db_app, name="db")
