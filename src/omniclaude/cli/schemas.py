"""``omniclaude schemas``: export the JSON Schema of every event."""

from __future__ import annotations

from pathlib import Path

import typer

from omniclaude.cli._common import console

schemas_app = typer.Typer(help="Event JSON Schemas.", no_args_is_help=True)


@schemas_app.command("export")
def export(directory: Path = typer.Argument(Path("schemas"))) -> None:
    """Write one JSON Schema file per event type and version into DIRECTORY."""
    from omniclaude.events.schemas import export_schemas

    for path in export_schemas(directory):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``schemas`` commands to the CLI."""
    app.add_typer(schemas_app, name="schemas")
