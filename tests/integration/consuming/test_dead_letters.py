"""Poison records go to <topic>-dlq with the reason, and the partition goes on."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming import Header, IngestService
from tests.fixtures.kafka import ConsumerFactory
from tests.fixtures.waiting import wait_for


def _action(cid: uuid.UUID, name: str, **extra: Any) -> bytes:
    body = {"correlation_id": str(cid), "action_type": "tool_call", "action_name": name, **extra}
    return json.dumps(body).encode()


@pytest.mark.covers(
    "topic:agent-actions",
    "feature:agent-actions-dlq",
    "table:agent_actions",
)
async def test_poison_records_are_dead_lettered_with_the_reason(
    ingest_service: IngestService,
    kafka_producer: Any,
    kafka_consumer_factory: ConsumerFactory,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """Undecodable, invalid and database-refused records reach the DLQ; good ones land."""
    topic = f"{topic_prefix}agent-actions"
    cid = uuid.uuid4()
    # The contract refuses everything PostgreSQL would (a NUL is a decode-stage refusal that
    # names the field): to see the store stage, this database refuses one name of its own.
    await postgres_connection.execute(
        "ALTER TABLE agent_actions ADD CONSTRAINT test_refuses CHECK (action_name <> 'refused')"
    )
    poison = {
        b"not json": ("EventValidationError", "decode", "not valid JSON"),
        b"[1, 2]": ("EventValidationError", "decode", "expected a JSON object"),
        _action(cid, "x", action_type="bogus"): ("EventValidationError", "decode", "action_type"),
        json.dumps({"event_type": "nope", "correlation_id": str(cid)}).encode(): (
            "UnknownEventTypeError", "decode", "unknown event type",
        ),
        _action(cid, "nul", action_details={"out": "a\u0000b"}): (
            "EventValidationError", "decode", "action_details.out: contains a NUL character",
        ),
        _action(cid, "refused"): (None, "store", ""),
    }  # fmt: skip
    good = [_action(cid, f"good-{i}") for i in range(5)]
    # Everything on one partition: the poison sits between good records.
    for value in [good[0], *poison, *good[1:]]:
        await kafka_producer.send_and_wait(topic, value, partition=0, key=b"k")

    async def landed() -> bool:
        count = await postgres_connection.fetchval(
            "SELECT count(*) FROM agent_actions WHERE correlation_id = $1", cid
        )
        return count == len(good) and ingest_service.dead_lettered == len(poison)

    await wait_for(landed, what="the good rows and the dead letters", timeout_s=30)

    reader = await kafka_consumer_factory(f"{topic}-dlq", group_id=f"{topic_prefix}dlq-reader")
    letters: dict[bytes, dict[str, bytes]] = {}

    async def read_all() -> bool:
        batches = await reader.getmany(timeout_ms=200)
        for records in batches.values():
            for rec in records:
                letters[rec.value] = dict(rec.headers)
        return len(letters) == len(poison)

    await wait_for(read_all, what="every dead letter on the DLQ topic")
    assert set(letters) == set(poison), "a poison record is missing from the DLQ"
    for value, (error_class, stage, needle) in poison.items():
        headers = letters[value]
        if error_class is not None:
            assert headers[Header.ERROR_CLASS].decode() == error_class
        assert headers[Header.STAGE].decode() == stage
        assert needle in headers[Header.ERROR_MESSAGE].decode()
        assert headers[Header.ORIGINAL_TOPIC].decode() == topic
        assert headers[Header.ORIGINAL_PARTITION] == b"0"
        assert int(headers[Header.ORIGINAL_OFFSET]) >= 1
        assert headers[Header.FAILED_AT]
    store_letter = letters[_action(cid, "refused")]
    assert store_letter[Header.ERROR_CLASS].endswith(b"Error")
    assert ingest_service.ready()[0], "a poison record made the service unready"
