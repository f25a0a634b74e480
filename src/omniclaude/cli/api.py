"""``omniclaude api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omniclaude.cli._common import fail, settings_from

__all__ = ["api", "register"]


def api(
    ctx: typer.Context,
    *,
    host: Annotated[str | None, typer.Option(help="Interface (OMNICLAUDE_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OMNICLAUDE_API__PORT).")] = None,
    workspace: Annotated[Path, typer.Option(help="The code tree agents work on.")] = Path(),
    agent_dir: Annotated[
        list[Path] | None, typer.Option("--agent-dir", help="More agent YAML directories.")
    ] = None,
    min_confidence: Annotated[
        float | None, typer.Option(help="Router threshold below which it falls back.", min=0, max=1)
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="Log level (default: OMNICLAUDE_LOG_LEVEL, INFO).")
    ] = None,
) -> None:
    """Serve the API (routing, execution, events, traces, viewer) until Ctrl-C / SIGTERM.

    Needs OMNICLAUDE_DATABASE_URL (keys, traces) and, to publish through Kafka,
    OMNICLAUDE_KAFKA_BOOTSTRAP (else events are written to PostgreSQL directly).
    """
    import uvicorn

    from omniclaude.api import create_app
    from omniclaude.logs import configure_service_logging
    from omniclaude.routing import RouterConfig

    settings = settings_from(ctx, **({"log_level": log_level} if log_level else {}))
    if settings.database_url is None:
        fail(
            "OMNICLAUDE_DATABASE_URL: not set; the API keeps keys and traces in PostgreSQL", code=2
        )
    configure_service_logging(settings, service="api")
    if not workspace.is_dir():
        fail(f"--workspace: {workspace} is not a directory", code=2)
    config = RouterConfig(min_confidence=min_confidence) if min_confidence is not None else None
    app = create_app(
        settings, workspace=workspace, agent_dirs=agent_dir or (), router_config=config
    )
    uvicorn.run(
        app,
        host=host or settings.api.host,
        port=port if port is not None else settings.api.port,
        log_config=None,  # logging is ours (omniclaude.logs): uvicorn's lines go through it
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``api`` command to the CLI."""
    app.command("api")(api)
