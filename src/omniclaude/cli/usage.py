"""``omniclaude usage``: LLM tokens and cost per day, session, model, project or agent.

The ccusage-style report, from the database: every LLM call once (a subagent's sidechain
calls included, deduplicated by their request), priced from the price table (or exactly,
when OpenTelemetry said so). Reads PostgreSQL like ``omniclaude executions``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail
from omniclaude.cli.views import DataDirOption, _database, _run

__all__ = ["parse_since", "parse_window", "register", "usage"]

_GROUPS = {"daily": "day", "day": "day", "session": "session", "model": "model",
           "project": "project", "agent": "agent"}  # fmt: skip
_COLUMNS = ("key", "calls", "input_tokens", "output_tokens", "cache_creation_input_tokens",
            "cache_read_input_tokens", "total_tokens", "cost_usd", "unpriced_calls",
            "estimated_calls", "exact_calls", "sidechain_calls", "sessions", "first_at",
            "last_at")  # fmt: skip


def parse_since(text: str | None) -> tuple[str | None, datetime | None]:
    """``--since``: a range (``7d``, ``24h``…) or a date/time (``2026-11-01``, ISO, UTC when
    no zone is given). Returns ``(range, since)``, one of them set.

    Raises:
        ValueError: neither (the message says what is accepted).
    """
    from omniclaude.storage.queries import RANGES

    if text is None:
        return None, None
    if text in RANGES:
        return text, None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        ranges = ", ".join(RANGES)
        raise ValueError(
            f"{text!r} is neither a range ({ranges}) nor a date (YYYY-MM-DD)"
        ) from None
    return None, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """``--since``/``--until`` as the read layer's window (``since <= t < until``; the last
    24 hours by default); a bad value exits 2 naming its option."""
    from omniclaude.events.limits import instant_problem
    from omniclaude.storage.queries import InvalidFilterError, resolve_window

    bounds: dict[str, tuple[str | None, datetime | None]] = {}
    for option, text in (("since", since), ("until", until)):
        try:
            bounds[option] = parse_since(text)
        except ValueError as exc:
            fail(f"--{option}: {exc}", code=2)
        moment = bounds[option][1]
        problem = None if moment is None else instant_problem(moment)
        if problem is not None:
            fail(f"--{option}: {problem}", code=2)
    range_, start = bounds["since"]
    if bounds["until"][0] is not None:
        fail(f"--until: {until!r} is a range; give a date or time", code=2)
    try:
        return resolve_window(range_=range_, since=start, until=bounds["until"][1])
    except InvalidFilterError as exc:
        fail(f"--{exc.field}: {str(exc).partition(': ')[2]}", code=2)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _table(report: Any) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, show_footer=True)
    total = report.total
    first = {"day": "day (UTC)"}.get(report.group_by.value, report.group_by.value)
    columns = (
        (first, lambda r: escape(r.key[:44]), "total"),
        ("calls", lambda r: f"{r.calls:,}", f"{total.calls:,}"),
        ("input", lambda r: f"{r.input_tokens:,}", f"{total.input_tokens:,}"),
        ("output", lambda r: f"{r.output_tokens:,}", f"{total.output_tokens:,}"),
        ("cache write", lambda r: f"{r.cache_creation_input_tokens:,}",
         f"{total.cache_creation_input_tokens:,}"),
        ("cache read", lambda r: f"{r.cache_read_input_tokens:,}",
         f"{total.cache_read_input_tokens:,}"),
        ("cost (USD)", _cost, _cost(total)),
    )  # fmt: skip
    cells: list[tuple[str, Callable[[Any], str], str]] = list(columns)
    for name, _, foot in cells:
        table.add_column(name, footer=foot, justify="left" if name == first else "right")
    for row in report.rows:
        table.add_row(*(cell(row) for _, cell, _ in cells))
    return table


def _cost(row: Any) -> str:
    text = f"{row.cost_usd:,.4f}"
    if row.unpriced_calls:
        text += f" +{row.unpriced_calls} unpriced"
    elif row.calls and row.exact_calls < row.calls:
        text += "*"
    return text


def usage(
    ctx: typer.Context,
    group: Annotated[
        str, typer.Argument(help="daily, session, model, project or agent.")
    ] = "daily",
    *,
    since: Annotated[
        str | None,
        typer.Option(help="A range (15m, 1h, 6h, 24h, 7d, 30d) or a date: 2026-11-01 (UTC)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End of the window (a date or time; default now).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="At most this many rows, 1 to 10,000 (default 1,000; days oldest first, "
            "others costliest first)."
        ),
    ] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one row per group).")] = False,
) -> None:
    """LLM calls, tokens and cost per day, session, model, project or agent (last 30 days
    unless --since). Cost marked * is an estimate (tokens x the price table)."""
    from omniclaude.storage.queries import InvalidFilterError, UsageQuery, usage_report

    if group not in _GROUPS:
        fail(f"GROUP: {group!r} is not one of {', '.join(_GROUPS)}", code=2)
    bounds: dict[str, tuple[str | None, datetime | None]] = {}
    for option, text in (("since", since), ("until", until)):
        try:
            bounds[option] = parse_since(text)
        except ValueError as exc:
            fail(f"--{option}: {exc}", code=2)
    range_, start = bounds["since"]
    end = bounds["until"][1]
    try:
        query = UsageQuery.build(
            range_=range_ or (None if start else "30d"), since=start, until=end,
            group_by=_GROUPS[group], model=model, project=project, limit=limit,
        )  # fmt: skip
    except InvalidFilterError as exc:
        fail(f"--{exc.field}: {str(exc).partition(': ')[2]}", code=2)
    database_url, _ = _database(ctx, data_dir)
    report = _run(database_url, lambda conn: usage_report(conn, query))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    if as_csv:
        typer.echo(_csv([r.model_dump(mode="json") for r in report.rows]), nl=False)
        return
    console.print(_table(report))
    window = f"{query.since:%Y-%m-%d %H:%M} to {query.until:%Y-%m-%d %H:%M} UTC"
    shown = f"{len(report.rows)}" + (
        f" of {report.groups:,} (--limit)" if report.groups > len(report.rows) else ""
    )
    console.print(f"[dim]{shown} {report.group_by.value}(s), {window}; "
                  "* estimated from the price table[/]", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``usage`` command to the CLI."""
    app.command("usage")(usage)
