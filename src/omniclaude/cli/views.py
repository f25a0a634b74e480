"""``omniclaude trace ID`` and ``omniclaude executions``: read traces from the terminal.

Both read PostgreSQL directly (``OMNICLAUDE_DATABASE_URL``, or the running local stack's),
with the same queries and the same redaction as the web viewer.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail, settings_from

__all__ = ["executions", "register", "trace"]

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory of the running local stack.")
]
_KIND_STYLE = {
    "execution": "bold",
    "routing": "cyan",
    "manifest": "yellow",
    "transformation": "magenta",
    "tool_call": "blue",
    "decision": "bright_black",
    "success": "green",
    "error": "bold red",
}


def _database(ctx: typer.Context, data_dir: Path | None) -> tuple[str, Any]:
    from omniclaude.stack.locate import locate

    settings = settings_from(ctx)
    targets = locate(settings, data_dir)
    if targets.database_url is None:
        fail(
            "OMNICLAUDE_DATABASE_URL: not set and no local stack is running; start one with "
            "`omniclaude up` or point the variable at PostgreSQL",
            code=2,
        )
    return targets.database_url, targets


def _run(database_url: str, work: Any) -> Any:
    import asyncio

    from omniclaude.storage.pool import connect

    async def main() -> Any:
        try:
            conn = await connect(database_url)
        except (OSError, ConnectionError) as exc:
            fail(f"cannot reach PostgreSQL: {exc}")
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


def render_tree(waterfall: Any) -> Any:
    """Return a Rich tree of the waterfall: one node per span, nested by depth."""
    from rich.markup import escape
    from rich.tree import Tree

    from omniclaude.api.viewer.render import redacted, shorten

    root = Tree(f"trace [bold]{waterfall.root}[/] ({waterfall.total_ms:.1f} ms)")
    stack: list[tuple[int, Any]] = [(-1, root)]
    for span in waterfall.spans:
        while stack[-1][0] >= span.depth:
            stack.pop()
        style = "bold red" if span.error else _KIND_STYLE.get(span.kind, "")
        status = f" [{span.status}]" if span.status else ""
        note = f"  [dim]{escape(shorten(span.note, 70))}[/]" if span.note else ""
        label = escape(str(redacted(span.label)))
        text = (
            f"[dim]+{span.offset_ms:8.1f} ms[/] [{style}]{span.kind}[/] {label}"
            f"{escape(status)}  [bold]{span.duration_text}[/]{note}"
        )
        node = stack[-1][1].add(text)
        stack.append((span.depth, node))
    return root


def trace(
    ctx: typer.Context,
    correlation_id: Annotated[str, typer.Argument(help="Correlation id of the execution.")],
    *,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print one execution, its children and every event of them as a tree with timings."""
    from omniclaude.api.viewer.queries import fetch_trace
    from omniclaude.api.viewer.waterfall import build_waterfall

    try:
        cid = uuid.UUID(correlation_id.strip())
    except ValueError:
        fail(f"CORRELATION_ID: {correlation_id!r} is not a UUID", code=2)
    database_url, targets = _database(ctx, data_dir)
    rows = _run(database_url, lambda conn: fetch_trace(conn, cid))
    if rows.empty:
        fail(f"CORRELATION_ID: nothing recorded for {cid} (yet)")
    waterfall = build_waterfall(rows)
    if as_json:
        typer.echo(json.dumps({**waterfall.as_json(), "url": targets.trace_url(cid)}, indent=2))
        return
    console.print(render_tree(waterfall))
    console.print(f"[dim]viewer: {targets.trace_url(cid)}[/]", highlight=False)


def executions(
    ctx: typer.Context,
    *,
    agent: Annotated[str | None, typer.Option(help="Only this agent.")] = None,
    status: Annotated[
        str | None, typer.Option(help="in_progress, success, failed or cancelled.")
    ] = None,
    since: Annotated[
        str, typer.Option("--range", help="15m, 1h, 6h, 24h, 7d or 30d (default 24h).")
    ] = "24h",
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in the prompt, or an id.")
    ] = None,
    roots: Annotated[bool, typer.Option("--roots", help="Top-level executions only.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many to show.")] = 20,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List recent executions, newest first."""
    from pydantic_core import to_jsonable_python
    from rich.table import Table

    from omniclaude.api.viewer.params import parse_execution_filter
    from omniclaude.api.viewer.queries import list_executions
    from omniclaude.api.viewer.render import redacted, shorten
    from omniclaude.api.viewer.waterfall import format_duration
    from omniclaude.events import utc_now

    params = {"range": since, "agent": agent or "", "status": status or "", "q": search or ""}
    params |= {"roots": "1" if roots else "", "limit": str(limit)}
    try:
        flt = parse_execution_filter(params, utc_now())
    except ValueError as exc:
        fail(f"--{exc}", code=2)
    database_url, targets = _database(ctx, data_dir)
    rows, total = _run(database_url, lambda conn: list_executions(conn, flt))
    rows = redacted(rows[:limit])
    if as_json:
        items = [{**row, "url": targets.trace_url(row["correlation_id"])} for row in rows]
        typer.echo(json.dumps({"total": total, "items": to_jsonable_python(items)}, indent=2))
        return
    table = Table(box=None, header_style="bold")
    for column in ("started (UTC)", "agent", "status", "duration", "prompt", "correlation id"):
        table.add_column(column, overflow="fold")
    for row in rows:
        colour = {"success": "green", "failed": "red", "in_progress": "cyan"}.get(row["status"], "")
        table.add_row(
            row["created_at"].strftime("%m-%d %H:%M:%S"),
            row["agent_name"] + (" (child)" if row["parent_correlation_id"] else ""),
            f"[{colour}]{row['status']}[/]",
            format_duration(row["duration_ms"]),
            shorten(row["user_prompt"], 60),
            str(row["correlation_id"]),
        )
    console.print(table)
    console.print(f"[dim]{len(rows)} of {total} in the last {since}[/]")


def register(app: typer.Typer) -> None:
    """Add the ``trace`` and ``executions`` commands to the CLI."""
    app.command("trace")(trace)
    app.command("executions")(executions)
