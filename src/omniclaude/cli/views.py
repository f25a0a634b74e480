"""``omniclaude trace ID`` and ``omniclaude executions``: read traces from the terminal.

Both read PostgreSQL directly (``OMNICLAUDE_DATABASE_URL``, or the running local stack's),
with the same queries and the same redaction as the web viewer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

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
    "llm_call": "magenta",
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

    usage = waterfall.usage
    costed = f" · {escape(usage.text)} · {escape(', '.join(usage.models))}" if usage.calls else ""
    root = Tree(f"trace [bold]{waterfall.root}[/] ({waterfall.total_ms:.1f} ms){costed}")
    stack: list[tuple[int, Any]] = [(-1, root)]
    for span in waterfall.spans:
        while stack[-1][0] >= span.depth:
            stack.pop()
        style = "bold red" if span.error else _KIND_STYLE.get(span.kind, "default")
        status = f" [{span.status}]" if span.status else ""
        note = f"  [dim]{escape(shorten(span.note, 70))}[/]" if span.note else ""
        if span.usage is not None and span.usage.calls:
            note = f"  [magenta]{escape(span.usage.text)}[/]{note}"
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
    correlation_id: Annotated[
        str, typer.Argument(help="Correlation id of the execution, or its first 8+ hex digits.")
    ],
    *,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print one execution, its children and every event of them as a tree with timings."""
    from omniclaude.api.viewer.waterfall import build_waterfall
    from omniclaude.storage.queries import (
        AmbiguousIdError,
        InvalidFilterError,
        fetch_trace_tree,
        parse_id,
        resolve_correlation_id,
    )

    try:
        parse_id(correlation_id, field="CORRELATION_ID")
    except InvalidFilterError as exc:
        fail(str(exc), code=2)
    database_url, targets = _database(ctx, data_dir)

    async def read(conn: Any) -> Any:
        cid = await resolve_correlation_id(conn, correlation_id, field="CORRELATION_ID")
        return None if cid is None else await fetch_trace_tree(conn, cid)

    try:
        tree = _run(database_url, read)
    except AmbiguousIdError as exc:
        fail(str(exc), code=2)
    if tree is None or tree.empty:
        fail(f"CORRELATION_ID: nothing recorded for {correlation_id} (yet)")
    waterfall = build_waterfall(tree)
    url = targets.trace_url(tree.root)
    if as_json:
        typer.echo(json.dumps({**waterfall.as_json(), "url": url}, indent=2))
        return
    console.print(render_tree(waterfall))
    console.print(f"[dim]viewer: {url}[/]", highlight=False)


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
        str | None,
        typer.Option("--search", "-q", help="Text in the prompt or error, or an id's start."),
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="A session id, or its beginning.")
    ] = None,
    roots: Annotated[bool, typer.Option("--roots", help="Top-level executions only.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many to show.")] = 20,
    wide: Annotated[
        bool, typer.Option("--wide", help="Full ids and prompts (wider than 100 columns).")
    ] = False,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List recent executions, newest first, children under their parents."""
    from pydantic_core import to_jsonable_python

    from omniclaude.api.viewer.render import redacted
    from omniclaude.storage.queries import ExecutionFilter, InvalidFilterError, list_executions

    try:
        flt = ExecutionFilter.build(
            range_=since, agent=agent, status=status, text=search, session=session,
            top_level=roots,
        )  # fmt: skip
    except InvalidFilterError as exc:
        option = {"range": "range", "text": "search"}.get(exc.field, exc.field)
        fail(f"--{option}: {str(exc).partition(': ')[2]}", code=2)
    database_url, targets = _database(ctx, data_dir)
    page = _run(database_url, lambda conn: list_executions(conn, flt, limit=limit))
    items = [redacted(item.model_dump(mode="json")) for item in page.items]
    if as_json:
        listed = [{**item, "url": targets.trace_url(item["correlation_id"])} for item in items]
        body = {"items": listed, "next_cursor": page.next_cursor, "since": flt.since,
                "until": flt.until}  # fmt: skip
        typer.echo(json.dumps(to_jsonable_python(body), indent=2))
        return
    console.print(executions_table(page.items, wide=wide, width=console.width))
    more = " (more: --limit)" if page.next_cursor else ""
    console.print(f"[dim]{len(items)} in the last {since}{more}[/]", highlight=False)


AGENT_WIDTH = 20
DURATION_WIDTH = 10
"""``59 min 59 s``'s width but for one digit: minutes show whole, the prompt takes the rest."""
_FIXED_WIDTH = 14 + 8 + AGENT_WIDTH + 11 + DURATION_WIDTH + 2 * 5
"""started, id, agent, status, duration and the gaps between the six columns."""


def executions_table(items: list[Any], *, wide: bool = False, width: int = 100) -> Any:
    """A Rich table of executions that fits ``width`` columns (100 by default): short ids,
    one line per row, each child under its parent (indented); ``wide`` shows full ids and
    whole prompts."""
    from rich.markup import escape
    from rich.table import Table

    from omniclaude.api.viewer.render import nest_children, shorten
    from omniclaude.api.viewer.waterfall import format_duration
    from omniclaude.storage.queries import short_id

    table = Table(box=None, header_style="bold", pad_edge=False)
    overflow: Literal["fold", "ellipsis"] = "fold" if wide else "ellipsis"
    # Fixed columns keep their width (Rich would shrink them first); the prompt takes the rest.
    table.add_column("started (UTC)", no_wrap=True, min_width=14)
    table.add_column("id", no_wrap=True, min_width=36 if wide else 8)
    table.add_column(
        "agent", no_wrap=not wide, max_width=None if wide else AGENT_WIDTH, overflow=overflow
    )
    table.add_column("status", no_wrap=True, min_width=11)
    table.add_column("duration", no_wrap=True, justify="right", min_width=DURATION_WIDTH)
    costed = any(getattr(row, "llm_calls", 0) for row in items)
    if costed:  # only where LLM calls were recorded (Claude Code sessions)
        table.add_column("cost", no_wrap=True, justify="right", min_width=8)
    if costed and wide:
        table.add_column("tokens", no_wrap=True, justify="right")
    fixed = _FIXED_WIDTH + (8 + 2 if costed else 0)
    prompt_width = None if wide else max(10, width - fixed)
    table.add_column("prompt", no_wrap=not wide, overflow=overflow, max_width=prompt_width)
    colours = {"success": "green", "failed": "red", "in_progress": "cyan", "cancelled": "yellow"}
    for depth, row in nest_children(items):
        colour = colours.get(row.status, "")
        marker = "  " * (depth - 1) + "└ " if depth else ""
        orphan = "↳ " if not depth and row.parent_correlation_id is not None else ""
        table.add_row(
            row.created_at.strftime("%m-%d %H:%M:%S"),
            str(row.correlation_id) if wide else short_id(row.correlation_id),
            escape(marker + orphan + row.agent_name),
            f"[{colour}]{row.status}[/]",
            format_duration(row.duration_ms),
            *([_cost_cell(row)] if costed else []),
            *([f"{row.total_tokens:,}" if row.llm_calls else ""] if costed and wide else []),
            escape(shorten(row.user_prompt, 10_000 if wide else 200)),
        )
    return table


def _cost_cell(row: Any) -> str:
    """``$0.0732*`` (* estimated), ``unpriced``, or nothing without LLM calls."""
    if not getattr(row, "llm_calls", 0):
        return ""
    if row.cost_usd is None:
        return "unpriced"
    return f"${row.cost_usd:.4f}" + ("" if row.cost_exactness == "exact" else "*")


def register(app: typer.Typer) -> None:
    """Add the ``trace`` and ``executions`` commands to the CLI."""
    app.command("trace")(trace)
    app.command("executions")(executions)
