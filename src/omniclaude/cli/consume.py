"""``omniclaude consume``: run the ingestion service (Kafka topics into PostgreSQL)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from omniclaude.cli._common import fail, settings_from

__all__ = ["consume", "register"]


def _apply(settings: Any, **changes: Any) -> Any:
    """Return ``settings`` with the given consumer fields changed (None: unchanged)."""
    from omniclaude.settings import ConsumerSettings

    update = {name: value for name, value in changes.items() if value is not None}
    if not update:
        return settings
    try:
        consumer = ConsumerSettings(**{**settings.consumer.model_dump(), **update})
    except ValueError as exc:
        fail(f"invalid option: {exc}", code=2)
    return settings.model_copy(update={"consumer": consumer})


def consume(
    ctx: typer.Context,
    *,
    group_id: Annotated[
        str | None, typer.Option(help="Consumer group (OMNICLAUDE_CONSUMER__GROUP_ID).")
    ] = None,
    batch_max_events: Annotated[
        int | None, typer.Option(help="Events per batch (OMNICLAUDE_CONSUMER__BATCH_MAX_EVENTS).")
    ] = None,
    batch_max_ms: Annotated[
        int | None, typer.Option(help="Batch time window (OMNICLAUDE_CONSUMER__BATCH_MAX_MS).")
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(help="Port of /health, /ready, /metrics (OMNICLAUDE_CONSUMER__HEALTH_PORT)."),
    ] = None,
    health: Annotated[
        bool, typer.Option("--health/--no-health", help="Serve the health and metrics endpoint.")
    ] = True,
) -> None:
    """Consume every event topic into its PostgreSQL table until SIGTERM or SIGINT.

    Creates missing topics first. Offsets are committed only after the rows are; bad records
    go to <topic>-dlq with the reason. Run several (one per partition at most) to scale out.
    """
    import asyncio

    from omniclaude.consuming import IngestService
    from omniclaude.errors import OmniClaudeError

    settings = _apply(
        settings_from(ctx),
        group_id=group_id,
        batch_max_events=batch_max_events,
        batch_max_ms=batch_max_ms,
        health_port=health_port,
    )
    if settings.database_url is None:
        fail("OMNICLAUDE_DATABASE_URL: not set; point it at a migrated PostgreSQL database", 2)
    if not settings.kafka_bootstrap:
        fail("OMNICLAUDE_KAFKA_BOOTSTRAP: not set; point it at a Kafka broker (host:port)", 2)
    from omniclaude.logs import configure_service_logging

    configure_service_logging(settings, service="consumer")
    service = IngestService.from_settings(settings, serve_health=health)
    try:
        asyncio.run(service.run())
    except OmniClaudeError as exc:
        fail(str(exc))
    except OSError as exc:
        where = f"{settings.consumer.health_host}:{settings.consumer.health_port}"
        fail(f"health endpoint {where}: {exc}")


def register(app: typer.Typer) -> None:
    """Add the ``consume`` command to the CLI."""
    app.command("consume")(consume)
