"""``omniclaude demo``: record a few realistic agent sessions and print where to see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail, settings_from

__all__ = ["demo", "register"]


def demo(
    ctx: typer.Context,
    *,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory of the running stack.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the traces to reach the database.")
    ] = 60.0,
) -> None:
    """Run six agent sessions (routing, manifests, tool calls, a transformation, a parallel
    fan-out, an error and retries) through Kafka into PostgreSQL; print their viewer links."""
    import asyncio

    from omniclaude.events import utc_now
    from omniclaude.stack.demo import DemoResult, demo_sessions, run_sessions, wait_stored
    from omniclaude.stack.locate import locate

    settings = settings_from(ctx)
    where = (data_dir or settings.data_dir).expanduser().absolute()
    targets = locate(settings, where)
    if targets.kafka_bootstrap is None or targets.database_url is None:
        fail(
            "no running stack found: start one with `omniclaude up` (or set "
            "OMNICLAUDE_KAFKA_BOOTSTRAP and OMNICLAUDE_DATABASE_URL)"
        )
    database_url = targets.database_url
    run_settings = settings.model_copy(update={"kafka_bootstrap": targets.kafka_bootstrap})
    session_id = f"demo-{utc_now():%Y%m%d-%H%M%S}"
    sessions = demo_sessions(session_id)
    if not as_json:
        console.print(f"Running {len(sessions)} demo sessions (session id {session_id}) ...")

    async def run() -> list[DemoResult]:
        from omniclaude.storage.pool import create_pool

        pool = await create_pool(database_url, min_size=1, max_size=2)
        try:
            results = await run_sessions(
                sessions,
                settings=run_settings,
                workspace=where / "demo" / "sample-project",
                outbox_dir=where / "demo" / "outbox",
                db=pool,
            )
        finally:
            await pool.close()
        await wait_stored(results, database_url, timeout_s=timeout)
        return results

    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("omniclaude.publishing").setLevel(logging.ERROR)
    results = asyncio.run(run())
    rows: list[dict[str, Any]] = [
        {
            "title": r.session.title,
            "shows": r.session.shows,
            "correlation_id": str(r.correlation_id),
            "agent": r.agent,
            "status": r.status,
            "actions": r.actions,
            "children": r.children,
            "stored": r.stored,
            "url": targets.trace_url(r.correlation_id),
        }
        for r in results
    ]
    missing = [r.session.title for r in results if not r.stored]
    if as_json:
        typer.echo(json.dumps({"session_id": session_id, "traces": rows}, indent=2))
    else:
        _print_table(rows, targets.viewer_url)
    if missing:
        fail(
            f"{len(missing)} trace(s) did not reach the database within {timeout:g}s "
            f"({', '.join(missing)}): is the consumer running? see `omniclaude status`"
        )


def _print_table(rows: list[dict[str, Any]], viewer_url: str) -> None:
    """One short block per session: what it shows, how it ended, where to look."""
    from rich.markup import escape

    for row in rows:
        colour = {"success": "green", "failed": "red"}.get(str(row["status"]), "yellow")
        mark = "✓" if row["status"] == "success" else "✗"
        children = f", {row['children']} child executions" if row["children"] else ""
        title, shows = escape(str(row["title"])), escape(str(row["shows"]))
        console.print(f"[{colour}]{mark}[/] [bold]{title}[/] — {shows}")
        outcome = f"[{colour}]{row['status']}[/] · {row['actions']} actions{children}"
        console.print(f"    {row['agent']} · {outcome}", highlight=False)
        console.print(f"    {row['url']}", highlight=False, soft_wrap=True)
    console.print(
        f"Open the viewer at {viewer_url} with the key `omniclaude up` printed. "
        "The last session fails on purpose.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the CLI."""
    app.command("demo")(demo)
