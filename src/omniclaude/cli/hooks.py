"""Claude Code commands: ``hooks install|uninstall|status``, ``emitter``, ``import-transcript``.

(``omniclaude hook`` itself never reaches Typer: ``omniclaude._entry`` dispatches it first.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail, settings_from

__all__ = ["emitter", "import_transcript", "install", "register", "status", "uninstall"]

hooks_app = typer.Typer(
    name="hooks", help="Record Claude Code sessions: install the hooks, check they flow.",
    no_args_is_help=True,
)  # fmt: skip

ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", help="Project directory (its .claude/settings.json). Default: cwd."),
]
UserOption = Annotated[bool, typer.Option("--user", help="Use ~/.claude/settings.json instead.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the diff, change nothing.")]


def _settings_path(project: Path | None, user: bool) -> Path:
    if user and project is not None:
        fail("choose --project DIR or --user, not both", code=2)
    if user:
        return Path.home() / ".claude" / "settings.json"
    return (project or Path.cwd()).resolve() / ".claude" / "settings.json"


def _hook_command(ctx: typer.Context, command: str | None, console_script: bool) -> tuple[str, Any]:
    """Return the command to install and, for the launcher, a function writing it."""
    from omniclaude.hooks import fast
    from omniclaude.hooks.install import CONSOLE_COMMAND, LAUNCHER_NAME, launcher_command

    if command:
        return command, None
    if console_script:
        script = Path(sys.executable).parent / "omniclaude"
        on_path = shutil.which("omniclaude")
        if on_path and Path(on_path).resolve() == script.resolve():
            return CONSOLE_COMMAND, None
        return f"{script} hook", None
    settings = settings_from(ctx)
    launcher = settings.data_dir / "bin" / LAUNCHER_NAME
    spool = str(settings.effective_spool_dir)
    # Claude Code's environment may lack OMNICLAUDE_*: bake a non-default spool into the launcher.
    xdg = {k: v for k, v in os.environ.items() if k == "XDG_DATA_HOME"}
    baked = None if spool == fast.resolve_spool_dir(xdg) else spool

    def write() -> None:
        import py_compile

        from omniclaude.hooks.install import write_launcher

        write_launcher(
            launcher, python=sys.executable, hooks_dir=str(Path(fast.__file__).parent),
            spool_dir=baked,
        )  # fmt: skip
        with contextlib.suppress(OSError, py_compile.PyCompileError):
            py_compile.compile(fast.__file__, doraise=True)  # a cached .pyc keeps it quick

    return launcher_command(launcher, python=sys.executable), write


def _claude_version_text() -> str | None:
    """``claude --version`` output, or None when Claude Code is not on PATH or says nothing."""
    import subprocess

    claude = shutil.which("claude")
    if claude is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - a fixed argument list
            [claude, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


@hooks_app.command("install")
def install(
    ctx: typer.Context,
    *,
    project: ProjectOption = None,
    user: UserOption = False,
    dry_run: DryRunOption = False,
    command: Annotated[
        str | None, typer.Option(help="Hook command to install (default: the fast launcher).")
    ] = None,
    console_script: Annotated[
        bool, typer.Option("--console-script", help="Install `omniclaude hook` (slower).")
    ] = False,
    events: Annotated[
        str,
        typer.Option(
            help="auto (core for Claude Code < 2.1, full from 2.1.200, else standard), core, "
            "standard, full (all but MessageDisplay), all, or EVENT,EVENT..."
        ),
    ] = "auto",
    telemetry: Annotated[
        bool,
        typer.Option(
            "--telemetry",
            help="Also turn Claude Code's OTel logs and metrics on, sent to this OmniClaude's "
            "API with a new ingest key (the env block of settings.json).",
        ),
    ] = False,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(help="With --telemetry: the API's URL (default: the running stack's)."),
    ] = None,
) -> None:
    """Register the hook for every Claude Code event in settings.json (merged, never clobbered)."""
    from omniclaude.errors import ConfigurationError
    from omniclaude.hooks.install import (
        MASK,
        choose_events,
        claude_version,
        diff_text,
        installed_telemetry_key,
        masked,
        merge,
        merge_telemetry,
        read_settings_file,
        telemetry_env,
        write_settings_file,
    )

    path = _settings_path(project, user)
    version = claude_version(_claude_version_text()) if events == "auto" else None
    hook_command, write_launcher = _hook_command(ctx, command, console_script)
    try:
        chosen = choose_events(events, version)
    except ConfigurationError as exc:
        fail(str(exc), code=2)
    if otlp_endpoint is not None and not telemetry:
        fail("--otlp-endpoint: only with --telemetry", code=2)
    endpoint = (otlp_endpoint or _api_url(ctx)) if telemetry else ""
    if telemetry and not _is_http_url(endpoint):
        fail(f"--otlp-endpoint: {endpoint!r} is not an http:// or https:// URL", code=2)
    try:
        before = read_settings_file(path)
        after = merge(before, hook_command, chosen)
        key = installed_telemetry_key(before) if telemetry else None
        if telemetry:
            after = merge_telemetry(after, telemetry_env(endpoint, key or MASK))
    except ConfigurationError as exc:
        fail(str(exc))
    diff = diff_text(path, masked(before), masked(after))
    if dry_run:
        if telemetry and key is None:
            diff += "\n(a new ingest key would be created; it is shown masked)"
        typer.echo(diff or f"{path}: already installed, nothing to change")
        return
    if telemetry and key is None:
        key = _new_ingest_key(ctx)
        after = merge_telemetry(after, telemetry_env(endpoint, key))
    if write_launcher is not None:
        write_launcher()
    if diff:
        write_settings_file(path, after)
    typer.echo(f"hooks installed in {path} ({len(chosen)} events): {hook_command}")
    if telemetry:
        typer.echo(
            f"telemetry on: Claude Code sends OTel logs and metrics to {endpoint}"
            " with an ingest key kept in that file"
            + ("" if user else " (keep it out of version control)")
        )
    if version is not None and version < (2, 1):
        typer.echo("Claude Code < 2.1 found: installed the core events only (see --events)")
    typer.echo("next: start Claude Code there; `omniclaude hooks status` shows events flowing")


def _is_http_url(text: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _api_url(ctx: typer.Context) -> str:
    """The running stack's API, else the configured host and port."""
    from omniclaude.stack.locate import locate

    settings = settings_from(ctx)
    state = locate(settings).state
    if state is not None and state.api_url:
        return state.api_url
    return f"http://{settings.api.host}:{settings.api.port}"


def _new_ingest_key(ctx: typer.Context) -> str:
    """A fresh ``ingest`` key for Claude Code's telemetry (hashed in the database)."""
    from omniclaude.cli.keys import with_key_store

    _record, key = with_key_store(
        ctx, lambda store: store.create("claude-code-telemetry", ["ingest"])
    )
    return str(key)


@hooks_app.command("uninstall")
def uninstall(
    *, project: ProjectOption = None, user: UserOption = False, dry_run: DryRunOption = False
) -> None:
    """Remove the OmniClaude hook entries (and nothing else) from settings.json."""
    from omniclaude.errors import ConfigurationError
    from omniclaude.hooks.install import (
        diff_text,
        masked,
        read_settings_file,
        unmerge,
        unmerge_telemetry,
        write_settings_file,
    )

    path = _settings_path(project, user)
    try:
        before = read_settings_file(path)
    except ConfigurationError as exc:
        fail(str(exc))
    after = unmerge_telemetry(unmerge(before))
    if after == before:
        typer.echo(f"{path}: no OmniClaude hooks installed")
        return
    if dry_run:
        typer.echo(diff_text(path, masked(before), masked(after)))
        return
    write_settings_file(path, after)
    typer.echo(f"OmniClaude hooks removed from {path}")


def _status_data(ctx: typer.Context, project: Path | None) -> dict[str, Any]:
    from omniclaude.hooks.status import spool_status

    settings = settings_from(ctx)
    return spool_status(
        settings.effective_spool_dir,
        data_dir=settings.data_dir,
        settings_files=[
            _settings_path(project, user=False),
            _settings_path(None, user=True),
        ],
    )


@hooks_app.command("status")
def status(
    ctx: typer.Context,
    *,
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Say whether events are flowing: spool depth, last event, emitter, outbox, installs."""
    data = _status_data(ctx, project)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    last = data["last_event_at"] or "never"
    emitter_line = "not running"
    if data["emitter_running"]:
        who = f", started by {data['emitter_started_by']}" if data["emitter_started_by"] else ""
        doing = f": {data['emitter_detail']}" if data["emitter_detail"] else ""
        emitter_line = f"running (pid {data['emitter_pid']}{who}){doing}"
    lines = [
        f"spool:        {data['spool_dir']}",
        f"waiting:      {data['spool_records']} record(s), {data['spool_bytes']} bytes",
        f"last event:   {last}",
        f"emitter:      {emitter_line}",
        f"outbox:       {data['outbox_events']} event(s) waiting for the broker",
        f"hook errors:  {data['hook_errors']} (see {data['log_file']})",
    ]
    if data["hook_refused"]:
        lines.append(
            f"refused:      {data['hook_refused']} payload(s): the spool was full "
            "(OMNICLAUDE_SPOOL_MAX_BYTES; is the emitter shipping?)"
        )
    transcripts = data["transcripts"]
    read = transcripts["lines_read"]
    lines.append(f"transcripts:  {transcripts['followed']} followed, {read} line(s) read")
    for reason, count in transcripts["skipped"].items():
        lines.append(f"  skipped:    {count} line(s): {reason}")
    for path, events in data["installed"].items():
        lines.append(f"installed:    {path}: {len(events)} event(s)" if events else
                     f"installed:    {path}: no")  # fmt: skip
    typer.echo("\n".join(lines))


def emitter(
    ctx: typer.Context,
    *,
    spool_dir: Annotated[
        Path | None, typer.Option(help="Spool to tail (default: OMNICLAUDE_SPOOL_DIR).")
    ] = None,
    idle_exit_s: Annotated[
        float | None, typer.Option(help="Exit after this many idle seconds (default: never).")
    ] = None,
    if_not_running: Annotated[
        bool,
        typer.Option("--if-not-running", help="Exit at once if an emitter already runs."),
    ] = False,
    started_by: Annotated[
        str,
        typer.Option(hidden=True, help="Who started it (hook, stack, user), for `status`."),
    ] = "user",
) -> None:
    """Tail the hook spool and ship the events to Kafka (until SIGTERM/SIGINT)."""
    import asyncio

    from omniclaude.hooks.runner import run_emitter
    from omniclaude.logs import configure_service_logging

    settings = settings_from(ctx)
    # The sink reports an unreachable broker once; aiokafka would log every retry.
    configure_service_logging(settings, service="emitter", quiet={"aiokafka": logging.CRITICAL})
    code = asyncio.run(
        run_emitter(
            settings,
            spool_dir=spool_dir or settings.effective_spool_dir,
            idle_exit_s=idle_exit_s,
            wait_for_lock=not if_not_running,
            started_by=started_by,
        )
    )
    raise typer.Exit(code)


def import_transcript(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="A Claude Code transcript (.jsonl), or a directory: every session under it "
            "(e.g. ~/.claude/projects)."
        ),
    ],
    flush_timeout_s: Annotated[float, typer.Option(help="How long to wait for delivery.")] = 30.0,
) -> None:
    """Record past Claude Code sessions — prompts, tool calls, subagents, LLM calls and their
    cost — from their transcripts (importing twice adds nothing)."""
    import asyncio

    from omniclaude.hooks.runner import build_mapper, find_broker, package_router
    from omniclaude.hooks.transcript import discover_transcripts, import_transcripts
    from omniclaude.pricing import PricingError

    if path.is_dir():
        paths = discover_transcripts(path)
        if not paths:
            fail(f"{path}: no transcript (*.jsonl) under it", code=2)
    elif path.is_file():
        paths = [path]
    else:
        fail(f"{path}: no such file or directory", code=2)
    settings = settings_from(ctx)
    try:
        build_mapper(settings, router=None, strict_pricing=True)
    except PricingError as exc:
        fail(str(exc), code=2)
    target = find_broker(settings)
    if target is not None:
        from omniclaude.publishing.sinks.kafka import KafkaSink

        sink: Any = KafkaSink.from_settings(
            settings, bootstrap_servers=target.servers, outbox_file="import-outbox.sqlite3"
        )
    elif settings.database_url is not None:
        from omniclaude.publishing.sinks.postgres import PostgresSink

        sink = PostgresSink(dsn=settings.database_dsn())
    else:
        fail("no destination: set OMNICLAUDE_KAFKA_BOOTSTRAP or OMNICLAUDE_DATABASE_URL, "
             "or run `omniclaude up`", code=2)  # fmt: skip

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    router = package_router()
    progress = Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[name]}"), console=console, transient=True,
        disable=len(paths) == 1,
    )  # fmt: skip

    async def run() -> Any:
        with progress:
            task = progress.add_task("import", total=len(paths), name="")
            async with sink:
                return await import_transcripts(
                    paths, mapper=lambda: build_mapper(settings, router=router), sink=sink,
                    flush_timeout_s=flush_timeout_s,
                    progress=lambda p, _: progress.update(task, advance=1, name=p.name[:40]),
                )  # fmt: skip

    started = time.monotonic()
    result = asyncio.run(run())
    where = (
        f"{path}: session {result.session_id or '(none)'}" if len(paths) == 1
        else f"{path}: {len(paths)} session(s)"
    )  # fmt: skip
    typer.echo(
        f"{where}: {result.files} file(s), {result.lines} line(s), {result.payloads} hook "
        f"event(s) and {result.llm_calls} LLM call(s) → {result.events} event(s) in "
        f"{time.monotonic() - started:.1f}s",
    )
    for reason, count in sorted(result.skipped.items()):
        typer.echo(f"  skipped {count} line(s): {reason}")
    if result.pending:
        fail(f"{result.pending} event(s) not yet delivered (kept in the outbox; run again later)")


def register(app: typer.Typer) -> None:
    """Add the Claude Code commands to the CLI."""
    app.add_typer(hooks_app, name="hooks")
    app.command("emitter")(emitter)
    app.command("import-transcript")(import_transcript)
