"""Running the test CLI of the stack's unit tests (the ``cli`` fixture is in conftest.py)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

__all__ = ["run_cli"]


def run_cli(app: typer.Typer, *args: str) -> tuple[int, str]:
    """Invoke ``app`` with ``args``; return the exit code and the output."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output
