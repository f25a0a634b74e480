"""``omniclaude dlq``: show and re-publish dead letters.

``list`` / ``replay`` work on the broker's dead-letter topics (``<topic>-dlq``: the SDK's and
the consumer's); with ``--local`` on the SDK outbox's dead-letter table under the spool dir.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from omniclaude.cli._common import console, fail, settings_from

__all__ = ["register"]

dlq_app = typer.Typer(help="Dead letters: events that could not be delivered or stored.",
                      no_args_is_help=True)  # fmt: skip

Local = Annotated[bool, typer.Option("--local", help="Use the SDK outbox's dead-letter table.")]
Limit = Annotated[int, typer.Option("--limit", min=1, help="At most this many dead letters.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only say what would be sent.")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
Outbox = Annotated[
    Path | None, typer.Option("--outbox", help="Outbox file (default: <spool dir>/outbox.sqlite3).")
]


def _outbox_path(ctx: typer.Context, outbox: Path | None) -> Path:
    return (
        outbox if outbox is not None else settings_from(ctx).effective_spool_dir / "outbox.sqlite3"
    )


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _broker(ctx: typer.Context, why: str = "point it at the broker (or use --local)") -> Any:
    """The cluster's clients (a ``KafkaClients``), or a clear exit when no broker is set."""
    from omniclaude.kafka import KafkaClients

    settings = settings_from(ctx)
    if not settings.bootstrap_servers:
        fail(f"OMNICLAUDE_KAFKA_BOOTSTRAP: not set; {why}", 2)
    return KafkaClients.from_settings(settings, client_id="omniclaude-cli")


def _topics(ctx: typer.Context) -> dict[str, str]:
    from omniclaude.publishing.dlq import dead_letter_topics

    settings = settings_from(ctx)
    return dead_letter_topics(settings.topics, settings.topic_prefix)


@dlq_app.command("list")
def list_(ctx: typer.Context, local: Local = False, limit: Limit = 100, as_json: AsJson = False,
          outbox: Outbox = None) -> None:  # fmt: skip
    """List dead letters with their reason, error class and original topic."""
    from omniclaude.publishing import dlq

    if local:
        path = _outbox_path(ctx, outbox)
        letters = dlq.local_dead_letters(path, limit=limit)
        for x in letters:
            row = {"id": x.id, "topic": x.topic, "event_id": x.event_id,
                   "error_class": x.error_class, "reason": x.reason, "size": len(x.value),
                   "created_at": _when(x.created_at), "published_at": _when(x.published_at),
                   "replayed_at": _when(x.replayed_at)}  # fmt: skip
            _print(row, as_json)
        if not as_json:
            console.print(f"{len(letters)} dead letter(s) in {path}")
        return
    clients, topics = _broker(ctx), _topics(ctx)
    try:
        records = asyncio.run(dlq.read_dead_letters(clients, topics, limit=limit))
    except Exception as exc:  # noqa: BLE001 - one clear line for any broker failure
        fail(f"OMNICLAUDE_KAFKA_BOOTSTRAP: cannot read dead letters: {exc}")
    for r in records:
        row = {"topic": r.topic, "partition": r.partition, "offset": r.offset,
               "original_topic": r.original_topic, "error_class": r.error_class,
               "reason": r.error_message, "size": len(r.value)}  # fmt: skip
        _print(row, as_json)
    if not as_json:
        console.print(f"{len(records)} dead letter(s) on {len(topics)} dead-letter topic(s)")


def _print(row: Mapping[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(row, default=str))
    else:
        console.print("  ".join(f"[bold]{k}[/]={v}" for k, v in row.items()), highlight=False)


@dlq_app.command("replay")
def replay(ctx: typer.Context, local: Local = False, limit: Limit = 100,
           dry_run: DryRun = False,
           outbox: Outbox = None) -> None:  # fmt: skip
    """Re-publish dead letters to their original topics (idempotent downstream)."""
    from omniclaude.publishing import dlq

    clients = _broker(ctx, "replay needs the broker")
    try:
        if local:
            path = _outbox_path(ctx, outbox)
            pending = dlq.local_dead_letters(path, include_replayed=False, limit=limit)
            if dry_run:
                console.print(f"would replay {len(pending)} local dead letter(s) from {path}")
                return
            sent = asyncio.run(dlq.replay_local(clients, path, limit=limit))
        else:
            records = asyncio.run(dlq.read_dead_letters(clients, _topics(ctx), limit=limit))
            if dry_run:
                console.print(f"would replay {len(records)} dead letter(s)")
                return
            sent = asyncio.run(dlq.replay_records(clients, records))
    except Exception as exc:  # noqa: BLE001 - one clear line for any broker failure
        fail(f"replay failed: {exc}")
    console.print(f"replayed {sent} dead letter(s)")


def register(app: typer.Typer) -> None:
    """Add the ``dlq`` commands to the CLI."""
    app.add_typer(dlq_app, name="dlq")
