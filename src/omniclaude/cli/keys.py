"""``omniclaude keys``: API keys (create prints the key once, on its own line)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from omniclaude.cli._common import console, err_console, fail, settings_from

__all__ = ["keys_app", "register", "with_key_store"]

keys_app = typer.Typer(help="API keys for the HTTP API (hashed at rest).", no_args_is_help=True)

T = TypeVar("T")


def with_key_store(ctx: typer.Context, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(ApiKeyStore)`` on the configured database (fails with a message when
    it is not set or cannot be reached)."""
    from omniclaude.stack.locate import locate
    from omniclaude.storage.api_keys import ApiKeyStore
    from omniclaude.storage.pool import connect

    database_url = locate(settings_from(ctx)).database_url
    if database_url is None:
        fail(
            "OMNICLAUDE_DATABASE_URL: not set and no local stack is running; keys live in the "
            "database (start one with `omniclaude up` or point the variable at PostgreSQL)",
            code=2,
        )

    async def main() -> T:
        conn = await connect(database_url)
        try:
            return await action(ApiKeyStore(conn))
        finally:
            await conn.close()

    try:
        return asyncio.run(main())
    except (OSError, ConnectionError) as exc:
        fail(f"OMNICLAUDE_DATABASE_URL: cannot connect: {exc}")


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="ingest, read or admin (repeatable).")
    ],
) -> None:
    """Create a key and print it once, alone on its own line of stdout (never shown again)."""
    try:
        record, key = with_key_store(ctx, lambda store: store.create(name, scope))
    except ValueError as exc:
        fail(str(exc), code=2)
    err_console.print(
        f"created key {record.key_id} ({record.name}; scopes: {', '.join(record.scopes)}). "
        "Store it now: it is not shown again.",
        highlight=False,
    )
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (prefix, scopes, dates; never the secret)."""
    keys = with_key_store(ctx, lambda store: store.list())
    if as_json:
        typer.echo(json.dumps([k.as_json() for k in keys], indent=2))
        return
    from rich.table import Table

    table = Table("key_id", "name", "prefix", "scopes", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            str(k.key_id),
            k.name,
            f"oc_{k.prefix}_…",
            ",".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "-",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key id, its prefix, or the key itself.")],
) -> None:
    """Revoke a key: it stops authenticating at once."""
    record = with_key_store(ctx, lambda store: store.revoke(key))
    if record is None:
        fail(f"key: no key matches {key!r}")
    console.print(f"revoked {record.key_id} ({record.name})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``keys`` commands to the CLI."""
    app.add_typer(keys_app, name="keys")
