"""LLM calls in PostgreSQL: one row per API response, a better cost replaces a worse one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from omniclaude.events import CostSource, LlmCall, llm_call_id
from omniclaude.storage.writers import copy_events, enable_copy, write_events

END = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _call(cid: uuid.UUID, **fields: Any) -> LlmCall:
    values: dict[str, Any] = {
        "event_id": llm_call_id(request_id="req_1", message_id="msg_1"),
        "correlation_id": cid,
        "model": "claude-sonnet-4-5",
        "input_tokens": 10,
        "output_tokens": 200,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 4000,
        "request_id": "req_1",
        "message_id": "msg_1",
        "tool_use_ids": ["toolu_a"],
        "stop_reason": "tool_use",
        "cost_usd": 0.01,
        "cost_source": CostSource.ESTIMATE,
        "source": "transcript",
        "timestamp": END,
        "started_at": END - timedelta(seconds=3),
        "duration_ms": 3000.0,
    }
    values.update(fields)
    return LlmCall(**values)


async def _row(conn: asyncpg.Connection, event_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM agent_llm_calls WHERE event_id = $1", event_id)
    assert row is not None, f"LLM call {event_id} was not stored"
    return row


@pytest.mark.covers("table:agent_llm_calls", "event:llm_call")
async def test_one_response_told_three_times_is_one_row(
    postgres_connection: asyncpg.Connection,
) -> None:
    """The same (message.id, requestId) written again — insert or COPY path — stays one row."""
    call = _call(uuid.uuid4())
    await write_events(postgres_connection, [call])
    await write_events(postgres_connection, [call])
    await enable_copy(postgres_connection)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with postgres_connection.transaction():
            await copy_events(postgres_connection, [call])
    count = await postgres_connection.fetchval(
        "SELECT count(*) FROM agent_llm_calls WHERE request_id = 'req_1'"
    )
    assert count == 1
    row = await _row(postgres_connection, call.event_id)
    assert row["total_tokens"] == 10 + 200 + 300 + 4000
    assert row["started_at"] == END - timedelta(seconds=3)
    assert row["created_at"] == END


@pytest.mark.covers("table:agent_llm_calls")
async def test_an_exact_cost_replaces_the_estimate_and_never_the_reverse(
    postgres_connection: asyncpg.Connection,
) -> None:
    """OTel's exact figure (same request id, no message id) replaces the transcript's."""
    cid = uuid.uuid4()
    estimate = _call(cid)
    exact = _call(
        cid, event_id=llm_call_id(request_id="req_1", message_id=None), message_id=None,
        tool_use_ids=[], stop_reason=None, cost_usd=0.0125, cost_source=CostSource.EXACT,
        source="otel", output_tokens=201,
    )  # fmt: skip
    assert exact.event_id == estimate.event_id, "OTel and the transcript name one request"
    await write_events(postgres_connection, [estimate])
    await write_events(postgres_connection, [exact])
    row = await _row(postgres_connection, estimate.event_id)
    assert (row["cost_source"], row["cost_usd"]) == ("exact", Decimal("0.0125"))
    assert row["output_tokens"] == 201
    assert row["message_id"] == "msg_1", "the transcript's ids were lost"
    assert row["tool_use_ids"] == ["toolu_a"]
    await write_events(postgres_connection, [estimate])  # a late re-read of the transcript
    row = await _row(postgres_connection, estimate.event_id)
    assert (row["cost_source"], row["cost_usd"]) == ("exact", Decimal("0.0125"))


@pytest.mark.covers("table:agent_llm_calls")
async def test_both_tellings_in_one_batch_keep_the_exact_cost_in_either_order(
    postgres_connection: asyncpg.Connection,
) -> None:
    """A batch telling one call twice is written row by row, in order (one statement could
    not merge them); a batch of distinct calls in one statement: the same rows either way."""
    for first_exact in (False, True):
        cid = uuid.uuid4()
        estimate = _call(cid)
        exact = _call(
            cid, event_id=estimate.event_id, message_id=None, tool_use_ids=[],
            stop_reason=None, cost_usd=0.0125, cost_source=CostSource.EXACT, source="otel",
        )  # fmt: skip
        other = _call(cid, event_id=uuid.uuid4(), cost_usd=0.0033)
        batch = [exact, estimate, other] if first_exact else [estimate, exact, other]
        await write_events(postgres_connection, batch)
        row = await _row(postgres_connection, estimate.event_id)
        assert (row["cost_source"], row["cost_usd"]) == ("exact", Decimal("0.0125"))
        assert (await _row(postgres_connection, other.event_id))["cost_usd"] == Decimal("0.0033")
    distinct = [_call(uuid.uuid4(), event_id=uuid.uuid4(), cost_usd=0.1 + n / 7) for n in range(5)]
    await write_events(postgres_connection, distinct)
    for call in distinct:
        stored = await _row(postgres_connection, call.event_id)
        assert stored["cost_usd"] == Decimal(str(call.cost_usd)).quantize(Decimal("1e-10"))


@pytest.mark.covers("table:agent_llm_calls")
async def test_otel_first_then_the_transcript_fills_the_missing_ids(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Told by OTel first, the call keeps its exact cost and gains the transcript's ids."""
    cid = uuid.uuid4()
    exact = _call(
        cid, message_id=None, tool_use_ids=[], stop_reason=None, cost_usd=0.02,
        cost_source=CostSource.EXACT, source="otel",
    )  # fmt: skip
    await write_events(postgres_connection, [exact])
    await write_events(postgres_connection, [_call(cid)])
    row = await _row(postgres_connection, exact.event_id)
    assert (row["cost_source"], row["cost_usd"], row["source"]) == (
        "exact",
        Decimal("0.02"),
        "otel",
    )
    assert (row["message_id"], row["stop_reason"], row["tool_use_ids"]) == (
        "msg_1",
        "tool_use",
        ["toolu_a"],
    )


async def test_an_unpriced_call_has_no_cost(postgres_connection: asyncpg.Connection) -> None:
    """An unknown model is stored unpriced with a NULL cost, never a guess."""
    call = _call(
        uuid.uuid4(), event_id=llm_call_id(request_id="req_2", message_id=None),
        request_id="req_2", model="some-new-model", cost_usd=None,
        cost_source=CostSource.UNPRICED,
    )  # fmt: skip
    await write_events(postgres_connection, [call])
    row = await _row(postgres_connection, call.event_id)
    assert (row["cost_source"], row["cost_usd"]) == ("unpriced", None)
    with pytest.raises(asyncpg.CheckViolationError):
        await postgres_connection.execute(
            "UPDATE agent_llm_calls SET cost_usd = 1 WHERE event_id = $1", call.event_id
        )
