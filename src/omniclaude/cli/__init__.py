"""The Typer application: thin commands that parse, build Settings, and call the package.

Each area lives in its own module exposing ``register(app)``; modules are listed in
:data:`COMMAND_MODULES` and imported when the CLI starts (never at package import).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from omniclaude.cli._common import AppState, fail

__all__ = ["COMMAND_MODULES", "app", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "omniclaude.cli.db",
    "omniclaude.cli.retention",
    "omniclaude.cli.schemas",
    "omniclaude.cli.consume",
    "omniclaude.cli.dlq",
    "omniclaude.cli.agents",
    "omniclaude.cli.keys",
    "omniclaude.cli.api",
    "omniclaude.cli.hooks",
    "omniclaude.cli.stack",
    "omniclaude.cli.views",
    "omniclaude.cli.usage",
    "omniclaude.cli.export",
    "omniclaude.cli.export_otlp",
    "omniclaude.cli.demo",
)

app = typer.Typer(
    name="omniclaude",
    help="Observability and orchestration for AI coding agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (env vars override it).")
    ] = None,
) -> None:
    """Observability and orchestration for AI coding agents."""
    import os

    from omniclaude.logs import choose_format, configure_logging

    ctx.obj = AppState(config_file=config)
    # The CLI's own commands log readable lines (warnings and up unless told otherwise); the
    # services among them (consume, api, hooks emit, up) switch to JSON lines when they start.
    configure_logging(
        fmt=choose_format(os.environ.get("OMNICLAUDE_LOG_FORMAT", "auto"), service=False),
        level=os.environ.get("OMNICLAUDE_LOG_LEVEL", "WARNING"),
    )


@app.command()
def version() -> None:
    """Print the OmniClaude version."""
    from omniclaude._version import __version__

    typer.echo(__version__)


@app.command("hook")
def _hook_placeholder() -> None:
    """Record one Claude Code hook payload from standard input (fast path)."""
    from omniclaude.hooks.fast import main as hook_main

    raise typer.Exit(hook_main([]))


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # area not built yet
            raise
        module.register(app)


def main() -> None:
    """Entry point of the full CLI."""
    _register_all()
    app()


__all__ += ["fail"]
