"""``omniclaude up``, ``down`` and ``status``: the local stack, one command each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from omniclaude.cli._common import AppState, console, err_console, fail, settings_from

__all__ = ["down", "register", "status", "up"]

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the stack keeps its data (OMNICLAUDE_DATA_DIR; default "
        "~/.local/share/omniclaude).",
    ),
]


def _data_dir(ctx: typer.Context, data_dir: Path | None) -> Path:
    return (data_dir or settings_from(ctx).data_dir).expanduser().absolute()


def _config_file(ctx: typer.Context) -> Path | None:
    state = ctx.find_root().obj
    return state.config_file if isinstance(state, AppState) else None


def _print_ready(state: Any, *, detached: bool) -> None:
    from omniclaude.stack.control import BROKER_NOTE
    from omniclaude.stack.keys import read_viewer_key

    key = read_viewer_key(Path(state.data_dir))
    console.print("[bold green]OmniClaude is up.[/]")
    rows = [
        ("viewer", state.viewer_url),
        ("api", state.api_url),
        ("postgres", state.database_url),
        ("kafka", state.kafka_bootstrap),
    ]
    for name, value in rows:
        console.print(f"  {name:<11} {value}", highlight=False)
    if key and (detached or sys.stdout.isatty()):
        console.print(
            f"  {'viewer key':<11} {key}  [dim](read scope; also in {state.viewer_key_file})[/]",
            highlight=False,
        )
    elif key:  # output going to a file (the detached supervisor's log): never the key itself
        console.print(f"  {'viewer key':<11} in {state.viewer_key_file}", highlight=False)
    console.print(f"[dim]{BROKER_NOTE}[/]")
    console.print("Next: [bold]omniclaude demo[/] records a few agent sessions to look at.")
    if detached:
        console.print(
            "Stop it with [bold]omniclaude down[/]; see it with [bold]omniclaude status[/]."
        )
    else:
        console.print("Press [bold]Ctrl-C[/] to stop everything.")


def up(
    ctx: typer.Context,
    *,
    data_dir: DataDirOption = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background and return.")
    ] = False,
    api_port: Annotated[
        int | None, typer.Option(help="API and viewer port (OMNICLAUDE_API__PORT; 0 = any).")
    ] = None,
    pg_port: Annotated[
        int | None, typer.Option(help="Embedded PostgreSQL port (default 15432; 0 = any).")
    ] = None,
    kafka_port: Annotated[
        int | None, typer.Option(help="Embedded Kafka (Tansu) port (default 19092; 0 = any).")
    ] = None,
    consumer_port: Annotated[
        int | None,
        typer.Option(help="Consumer health/metrics port (OMNICLAUDE_CONSUMER__HEALTH_PORT)."),
    ] = None,
    emitter: Annotated[
        bool, typer.Option("--emitter/--no-emitter", help="Run the Claude Code hook emitter.")
    ] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds each component may take to become ready.")
    ] = 90.0,
) -> None:
    """Start PostgreSQL, Kafka, the consumer, the emitter and the API with the viewer.

    With OMNICLAUDE_DATABASE_URL and OMNICLAUDE_KAFKA_BOOTSTRAP set, those services are used
    instead of the embedded ones. Ctrl-C stops everything cleanly.
    """
    from dataclasses import replace

    from omniclaude.errors import StackError
    from omniclaude.logs import configure_service_logging
    from omniclaude.stack.config import StackConfig
    from omniclaude.stack.supervisor import Supervisor

    settings = settings_from(ctx)
    configure_service_logging(settings, service="supervisor")
    config = StackConfig.from_settings(
        settings,
        data_dir=data_dir,
        pg_port=pg_port,
        kafka_port=kafka_port,
        api_port=api_port,
        consumer_port=consumer_port,
        with_emitter=emitter,
        config_file=_config_file(ctx),
    )
    config = replace(config, start_timeout_s=timeout)
    _refuse_if_running(config.data_dir)
    if detach:
        _detach(config)
        return
    console.print(f"Starting OmniClaude (data in {config.data_dir}) ...", highlight=False)
    supervisor = Supervisor(
        config, progress=lambda line: console.print(line, highlight=False), topics=settings.topics
    )
    try:
        supervisor.run(on_ready=lambda state: _print_ready(state, detached=False))
    except StackError as exc:
        fail(str(exc).splitlines()[0])
    console.print("OmniClaude stopped.")


def _refuse_if_running(data_dir: Path) -> None:
    """Fail, touching nothing, when a stack already runs from ``data_dir``.

    The supervisor checks again when it takes the lock (two ``up`` at once): this check only
    makes the usual case say so before printing anything else.
    """
    from omniclaude.stack.preflight import StackLock

    lock = StackLock(data_dir)
    if lock.held_by_other():
        holder = lock.holder()
        fail(
            f"a stack is already running from {data_dir}"
            + (f" (supervisor pid {holder.pid})" if holder else "")
            + "; see `omniclaude status`, or stop it with `omniclaude down`"
        )


def _detach(config: Any) -> None:
    """Start the supervisor in the background; return once it is ready (or say why not)."""
    from omniclaude.stack.children import log_tail, omniclaude_argv, stop_process
    from omniclaude.stack.state import Phase, ProcessRef, load_state, stack_dir

    args = ["up", "--data-dir", str(config.data_dir), "--timeout", str(config.start_timeout_s)]
    args += ["--api-port", str(config.api_port), "--consumer-port", str(config.consumer_port)]
    args += ["--pg-port", str(config.pg_port), "--kafka-port", str(config.kafka_port)]
    args += [] if config.with_emitter else ["--no-emitter"]
    env = dict(os.environ)
    if config.config_file is not None:
        env["OMNICLAUDE_CONFIG_FILE"] = str(config.config_file)
    log_file = stack_dir(config.data_dir) / "logs" / "supervisor.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
            omniclaude_argv(*args),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    console.print(f"Starting OmniClaude in the background (data in {config.data_dir}) ...")
    shown: set[str] = set()
    deadline = time.monotonic() + config.start_timeout_s * 4 + 60
    while True:
        state = load_state(config.data_dir)
        ours = state is not None and state.supervisor and state.supervisor.pid == process.pid
        if state is not None and ours:
            for component in state.components:
                visible = component.phase in (Phase.RUNNING, Phase.EXTERNAL) and component.address
                if visible and component.name not in shown:
                    shown.add(component.name)
                    console.print(
                        f"  {component.name:<10} {component.phase}  {component.address}",
                        highlight=False,
                    )
            if state.phase is Phase.RUNNING:
                _print_ready(state, detached=True)
                return
            if state.phase is Phase.FAILED:
                fail(state.error or f"the stack failed to start; see {log_file}")
        code = process.poll()
        if code is not None:
            tail = log_tail(log_file, lines=1)
            fail(f"the stack exited during start-up (code {code}): {tail}; full log: {log_file}")
        if time.monotonic() > deadline:
            # Stop our supervisor only (it stops what it started): the data dir may belong
            # to another stack, if ours never got the lock.
            ref = ProcessRef.of(process.pid)
            if ref is not None:
                stop_process(ref, timeout_s=60.0, group=False)
            process.wait()
            fail(f"the stack did not become ready in time; see {log_file}")
        time.sleep(0.2)


def status(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show each component's state and address (exit code 3 when the stack is not running)."""
    from rich.table import Table

    from omniclaude.stack.control import stack_status

    report = stack_status(_data_dir(ctx, data_dir))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        raise typer.Exit(0 if report["running"] else 3)
    if not report["components"]:
        if report["supervisor_pid"]:
            console.print(
                f"A supervisor (pid {report['supervisor_pid']}) holds {report['data_dir']} "
                "but has written no state yet (starting?); `omniclaude down` stops it."
            )
        else:
            console.print(
                f"No stack is running from {report['data_dir']}. Start one with `omniclaude up`."
            )
        _print_processes(report["processes"])
        raise typer.Exit(3)
    headline = "running" if report["running"] else report["phase"]
    console.print(f"OmniClaude stack: [bold]{headline}[/] (data in {report['data_dir']})")
    if report.get("error"):
        err_console.print(f"[red]last start failed:[/] {report['error']}", highlight=False)
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("component", "state", "address", "pid", "note"):
        table.add_column(column)
    for name, item in report["components"].items():
        colour = {"running": "green", "external": "cyan"}.get(item["state"], "yellow")
        note = item["detail"] or ""
        if item["restarts"]:
            note = f"{note} ({item['restarts']} restarts)".strip()
        table.add_row(
            name,
            f"[{colour}]{item['state']}[/]",
            item["address"] or "",
            str(item["pid"] or ""),
            note,
        )
    console.print(table)
    _print_processes(report["processes"])
    for note in report["notes"]:
        console.print(f"[dim]{note}[/]")
    raise typer.Exit(0 if report["running"] else 3)


def _print_processes(processes: list[dict[str, Any]]) -> None:
    """List the other OmniClaude processes of the data dir (``down`` stops them too)."""
    if not processes:
        return
    console.print(
        "Other OmniClaude processes of this data directory (`omniclaude down` stops them):"
    )
    for item in processes:
        console.print(
            f"  {item['role']:<10} pid {item['pid']:<8} started by {item['started_by']}: "
            f"{item['detail']}",
            highlight=False,
        )


def down(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a clean stop before killing.")
    ] = 60.0,
) -> None:
    """Stop the stack started with `omniclaude up` (PostgreSQL keeps its data)."""
    from omniclaude.stack.control import stop_stack

    where = _data_dir(ctx, data_dir)
    stopped = stop_stack(where, timeout_s=timeout)
    if not stopped:
        console.print(f"No stack was running from {where}.", highlight=False)
        return
    console.print(f"OmniClaude stopped ({where}).", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``up``, ``down`` and ``status`` commands to the CLI."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
