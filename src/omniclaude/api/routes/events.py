"""``POST /events``: publish a batch of events for clients that cannot speak Kafka."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from omniclaude.api.deps import IngestKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import EventBatch, EventBatchResponse, unstorable
from omniclaude.errors import EventValidationError
from omniclaude.events import CATALOG, EventBase, decode_mapping

__all__ = ["router"]

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

_FLUSH_TIMEOUT_S = 5.0


async def _publish_durably(sink: Any, events: list[EventBase]) -> None:
    """Hand the events over so that a 202 means they are durable: on the local disk
    (the Kafka sink's outbox) or committed (the PostgreSQL sink); other sinks are flushed."""
    send_durably = getattr(sink, "send_durably", None)
    if send_durably is not None:
        await send_durably(events)
        return
    await sink.send_many(events)
    await sink.flush(_FLUSH_TIMEOUT_S)


_KNOWN = {kind.event_type for kind in CATALOG}


@router.post("/events", status_code=status.HTTP_202_ACCEPTED, response_model=EventBatchResponse)
async def publish_events(body: EventBatch, state: State, _: IngestKey) -> Any:
    """Validate each event with the shared codec and publish the valid ones through the
    durable sink (Kafka with its local outbox, or PostgreSQL). Invalid items are listed with
    the field at fault; nothing valid is dropped. 202 when at least one event was accepted,
    422 (with every item's problem) when none was. Needs ``ingest``.

    Send an ``event_id`` with each event to make retries idempotent."""
    if body.default_type is not None and body.default_type not in _KNOWN:
        raise http_error(422, "body.default_type", f"unknown event type {body.default_type!r}")
    accepted: list[EventBase] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(body.events):
        where = f"body.events[{index}]"
        problem = unstorable(item, where)
        if problem:
            field, _sep, message = problem.partition(": ")
            errors.append({"index": index, "field": field, "message": message})
            continue
        try:
            accepted.append(decode_mapping(item, default_type=body.default_type))
        except EventValidationError as exc:
            field = f"{where}.{exc.field}" if exc.field else where
            errors.append({"index": index, "field": field, "message": str(exc)})
    state.metrics.events.labels("rejected").inc(len(errors))
    if not accepted:
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": text,
                "errors": [{"field": e["field"], "message": e["message"]} for e in errors],
            },
            status_code=422,
        )
    await _publish_durably(state.sink, accepted)
    state.metrics.events.labels("accepted").inc(len(accepted))
    return {
        "accepted": len(accepted),
        "rejected": len(errors),
        "event_ids": [e.event_id for e in accepted],
        "errors": errors,
    }
