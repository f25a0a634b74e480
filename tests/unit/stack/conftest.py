"""Shared fixtures of the stack's unit tests: a CLI with the stack, view and demo commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from omniclaude.cli import demo, stack, views

__all__ = ["cli"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """A CLI with the stack, view and demo commands, and a private data directory."""
    for name in ("OMNICLAUDE_DATABASE_URL", "OMNICLAUDE_KAFKA_BOOTSTRAP", "OMNICLAUDE_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMNICLAUDE_DATA_DIR", str(tmp_path))
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    for module in (stack, views, demo):
        module.register(app)
    return app
