"""``omniclaude retention``: drop the event tables' old days (whole partitions) now.

The same run the consumer applies daily when ``OMNICLAUDE_RETENTION__*`` is set
(:mod:`omniclaude.storage.retention`); the options here override those settings for this
run. ``--dry-run`` lists what would go and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail, settings_from
from omniclaude.settings import format_duration, parse_duration

__all__ = ["parse_table_keep", "register", "retention"]


def parse_table_keep(option: str, items: list[str]) -> dict[str, timedelta]:
    """``TABLE=DURATION`` items (``agent_actions=7d``) as a mapping.

    Raises:
        ValueError: an item is not ``TABLE=DURATION`` or its duration is not one (the
            message starts with ``option`` and quotes the item).
    """
    tables: dict[str, timedelta] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{option}: {item[:60]!r} is not TABLE=DURATION (agent_actions=7d)")
        try:
            tables[name.strip()] = parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"{option}: {name.strip()}: {exc}") from None
    return tables


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"  # pragma: no cover - the loop returns at GiB


def _print(report: Any, policy: Any) -> None:
    from rich.table import Table

    verb = "would drop" if report.dry_run else "dropped"
    if report.skipped:
        console.print(f"nothing done: {report.skipped}")
        return
    for table, limit in report.cutoffs.items():
        keep = policy.rollups if table.startswith("rollup_") else policy.keep_for(table)
        console.print(f"{table}: kept {format_duration(keep)}, cutoff {limit:%Y-%m-%d %H:%M} UTC")
    if report.partitions:
        grid = Table(box=None, header_style="bold", pad_edge=False)
        for name, justify in (("table", "left"), ("partition", "left"), ("range (UTC)", "left"),
                              ("rows (≈)", "right"), ("size", "right")):  # fmt: skip
            grid.add_column(name, justify=justify)  # type: ignore[arg-type]
        for item in report.partitions:
            span = (
                f"{item.start:%Y-%m-%d %H:%M} → {item.end:%Y-%m-%d %H:%M}"
                if item.start is not None and item.end is not None
                else "left detached by an interrupted run"
            )
            grid.add_row(item.table, item.name, span, f"{item.rows:,}", _size(item.bytes))
        console.print(grid)
    console.print(
        f"{verb} {len(report.partitions)} partition(s): ≈{report.rows:,} rows, "
        f"{_size(report.bytes)}"
    )
    if policy.keep_for("agent_execution_logs") is not None:
        console.print(
            f"{'would delete' if report.dry_run else 'deleted'} {report.summaries:,} execution "
            "summaries (last event before the cutoff)"
        )
    if report.rollups:
        total = sum(report.rollups.values())
        console.print(f"{'would delete' if report.dry_run else 'deleted'} {total:,} rollup rows")


def _policy_error(message: str) -> str:
    """A policy error named after the option it is about (it starts with the setting)."""
    for setting, option in (("rollups: ", "--rollups"), ("tables: ", "--keep-table")):
        if message.startswith(setting):
            return f"{option}: {message.removeprefix(setting)}"
    if message.startswith("tables."):
        return f"--keep-table: {message.removeprefix('tables.')}"
    return f"--keep: {message}"


async def _run(dsn: str, policy: Any, dry_run: bool) -> Any:
    from omniclaude.storage.pool import connect
    from omniclaude.storage.retention import apply_retention

    conn = await connect(dsn, timeout=10)
    try:
        return await apply_retention(conn, policy, dry_run=dry_run)
    finally:
        await conn.close(timeout=5)


def retention(
    ctx: typer.Context,
    keep: Annotated[
        str | None,
        typer.Option(
            "--keep",
            metavar="DURATION",
            help="Keep every event table this long (30d, 12h, 2w; OMNICLAUDE_RETENTION__KEEP).",
        ),
    ] = None,
    keep_table: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-table",
            metavar="TABLE=DURATION",
            help="Keep one table this long instead (agent_actions=7d; repeatable; "
            "agent_execution_logs are the execution summaries).",
        ),
    ] = None,
    rollups: Annotated[
        str | None,
        typer.Option(
            "--rollups",
            metavar="DURATION",
            help="Keep the rollups this long (default: forever; OMNICLAUDE_RETENTION__ROLLUPS).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; drop nothing.")
    ] = False,
) -> None:
    """Drop whole day partitions older than the retention, without blocking writers.

    Each partition entirely older than its table's cutoff (now minus the retention) is
    detached concurrently and dropped; today's and later ones never are. Execution summaries
    whose last event is older than theirs, and rollup rows older than --rollups, are deleted
    in batches. The consumer applies the configured retention daily by itself.
    """
    import asyncio

    from omniclaude.storage.retention import RetentionPolicy

    settings = settings_from(ctx)
    configured = settings.retention
    try:
        keep_value = parse_duration(keep) if keep is not None else configured.keep
    except ValueError as exc:
        fail(f"--keep: {exc}", code=2)
    try:
        rollups_value = parse_duration(rollups) if rollups is not None else configured.rollups
    except ValueError as exc:
        fail(f"--rollups: {exc}", code=2)
    try:
        tables = {**configured.tables, **parse_table_keep("--keep-table", keep_table or [])}
    except ValueError as exc:
        fail(str(exc), code=2)
    try:
        policy = RetentionPolicy(keep_value, tables, rollups_value, configured.batch_rows)
    except ValueError as exc:
        fail(_policy_error(str(exc)), code=2)
    if not policy.configured:
        fail(
            "--keep: nothing to drop: give --keep (or --keep-table / --rollups), or set "
            "OMNICLAUDE_RETENTION__KEEP",
            code=2,
        )
    if settings.database_url is None:
        fail("OMNICLAUDE_DATABASE_URL: not set; point it at a PostgreSQL database", code=2)
    import asyncpg

    try:
        report = asyncio.run(_run(settings.database_dsn(), policy, dry_run))
    except (OSError, ConnectionError) as exc:
        fail(f"OMNICLAUDE_DATABASE_URL: cannot connect: {exc}")
    except asyncpg.PostgresError as exc:
        fail(
            f"retention stopped by the database ({type(exc).__name__}: {exc}); what was "
            "dropped before is reported in the log; run it again to finish"
        )
    _print(report, policy)


def register(app: typer.Typer) -> None:
    """Add the ``retention`` command to the CLI."""
    app.command("retention")(retention)
