"""``omniclaude export-otlp``: send recorded traces to an OTLP/HTTP collector as GenAI spans.

Reads PostgreSQL like ``omniclaude trace`` (``OMNICLAUDE_DATABASE_URL`` or the running local
stack's), one trace at a time, and sends each with the OpenTelemetry SDK's exporter
(:mod:`omniclaude.otel.export`; the mapping is in docs/otel.md).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, err_console, fail
from omniclaude.cli.usage import parse_window
from omniclaude.cli.views import DataDirOption, _database, _run

__all__ = ["export_otlp", "register"]


def export_otlp(
    ctx: typer.Context,
    *,
    endpoint: Annotated[
        str,
        typer.Option(
            "--endpoint",
            help="The collector: a base URL (http://host:4318, /v1/traces is added) or the "
            "full traces URL.",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(help="A range (15m ... 30d) or a date/time (UTC if no zone); default 24h."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End of the window (a date or time; default now).")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="NAME=VALUE sent with every request (repeatable)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, max=600, help="Seconds per request, retries included.")
    ] = 10.0,
    compression: Annotated[str, typer.Option(help="gzip or none.")] = "gzip",
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Send the traces whose root began in the window to an OTLP/HTTP collector, as
    OpenTelemetry GenAI spans (invoke_agent, execute_tool, chat ...)."""
    from omniclaude.otel.export import (
        ExportFailedError,
        ExportProgress,
        SpanSender,
        export_window,
    )
    from omniclaude.otel.target import parse_header, traces_endpoint

    try:
        url = traces_endpoint(endpoint)
    except ValueError as exc:
        fail(f"--endpoint: {exc}", code=2)
    headers: dict[str, str] = {}
    for text in header or []:
        try:
            name, value = parse_header(text)
        except ValueError as exc:
            fail(f"--header: {exc}", code=2)
        headers[name] = value
    if compression not in ("gzip", "none"):
        fail(f"--compression: {compression!r} is not gzip or none", code=2)
    start, end = parse_window(since, until)
    database_url, _ = _database(ctx, data_dir)
    sender = SpanSender(url, headers, timeout_s=timeout, compression=compression)

    async def work(conn: Any) -> Any:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task(f"exporting to {sender.shown}", total=None)

            def advance(p: ExportProgress) -> None:
                bar.update(task, description=f"{p.traces} traces, {p.spans} spans sent")

            try:
                return await export_window(conn, sender, start, end, on_trace=advance)
            except ExportFailedError as exc:
                return exc

    try:
        outcome = _run(database_url, work)
    finally:
        sender.close()
    window = f"{start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(outcome, ExportFailedError):
        done = outcome.progress or ExportProgress()
        resume = (
            f"; resume with --since {done.last_root_at.isoformat()}"
            if done.last_root_at is not None
            else ""
        )
        fail(f"--endpoint: {outcome} ({done.traces} traces sent before it{resume})")
    progress: ExportProgress = outcome
    if as_json:
        body = {"endpoint": sender.shown, "since": start.isoformat(), "until": end.isoformat(),
                "traces": progress.traces, "spans": progress.spans,
                "truncated": [str(t) for t in progress.truncated]}  # fmt: skip
        typer.echo(json.dumps(body, indent=2))
        return
    for root in progress.truncated:
        err_console.print(
            f"[yellow]warning:[/] trace {root} holds more executions than one read takes; "
            "its deepest or latest ones were not sent",
            highlight=False,
        )
    if not progress.traces:
        console.print(f"nothing recorded from {window}", highlight=False)
        return
    console.print(
        f"sent {progress.traces} traces ({progress.spans} spans) from {window} to {sender.shown}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``export-otlp`` command to the CLI."""
    app.command("export-otlp")(export_otlp)
