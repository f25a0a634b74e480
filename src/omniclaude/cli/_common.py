"""Shared CLI plumbing: settings built once per invocation, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from omniclaude.errors import ConfigurationError
from omniclaude.settings import Settings, load_settings

__all__ = ["AppState", "console", "err_console", "fail", "rows_progress", "settings_from"]

console = Console()
err_console = Console(stderr=True)


def rows_progress() -> Any:
    """A Rich progress display of row counts on stderr (description, bar, done/total rows,
    elapsed, remaining): use it as a context manager, one task per table."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("rows"), TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    return Progress(*columns, console=err_console)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@dataclass
class AppState:
    """Per-invocation state: the config file and the settings built from it (once)."""

    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        """Build the settings once; a bad value exits with one line naming the variable."""
        if self._settings is None or overrides:
            try:
                built = load_settings(self.config_file, **overrides)
            except ConfigurationError as exc:
                fail(str(exc), code=2)
            if overrides:
                return built
            self._settings = built
        return self._settings


def settings_from(ctx: typer.Context, **overrides: Any) -> Settings:
    """Return the settings for this invocation (see :class:`AppState`)."""
    state = ctx.find_root().obj
    if not isinstance(state, AppState):
        state = AppState()
        ctx.find_root().obj = state
    return state.settings(**overrides)
