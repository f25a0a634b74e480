"""The Kafka path: KafkaSink → broker → the real consumer → PostgreSQL, the same rows as
the direct path; dead letters on the broker; the outbox re-sent after a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from omniclaude.consuming import IngestService
from omniclaude.errors import EventValidationError
from omniclaude.events import AgentAction, decode, encode
from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.publishing import ActionLogger, AgentExecutionLogger, EventPublisher, KafkaSink
from omniclaude.stack.ports import unused_port
from tests.fixtures.kafka import ConsumerFactory, KafkaService
from tests.fixtures.waiting import wait_for
from tests.integration.publishing.conftest import make_sink

pytestmark = pytest.mark.covers(
    "topic:agent-actions",
    "topic:agent-execution-logs",
    "table:agent_actions",
)


def _count(conn: asyncpg.Connection, sql: str, *args: Any):  # type: ignore[no-untyped-def]
    async def check() -> int:
        return int(await conn.fetchval(sql, *args))

    return check


async def _rows_for(
    conn: asyncpg.Connection, cid: uuid.UUID, n: int, table: str = "agent_actions"
) -> None:
    async def enough() -> bool:
        got = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE correlation_id = $1", cid)
        return int(got) >= n

    await wait_for(enough, what=f"{n} rows of {cid} in {table}", timeout_s=60)


async def test_complete_agent_lifecycle_logging_through_kafka(
    kafka_sink: KafkaSink, ingest: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """Verify all 4 event types are logged during complete agent lifecycle (via Kafka)."""
    logger = ActionLogger(sink=kafka_sink)
    correlation_id = str(uuid.uuid4())

    await logger.log_tool_call(correlation_id, "bash", {"cmd": "ls"})
    await logger.log_decision(correlation_id, "Selected agent-test")
    await logger.log_error(correlation_id, "Connection timeout")
    await logger.log_success(correlation_id, "Task completed")
    await kafka_sink.flush(10)

    await _rows_for(postgres_connection, uuid.UUID(correlation_id), 4)
    result = await postgres_connection.fetch(
        "SELECT action_type FROM agent_actions WHERE correlation_id = $1", correlation_id
    )
    action_types = {row["action_type"] for row in result}
    assert action_types == {"tool_call", "decision", "error", "success"}, "an action type was lost"


async def test_tool_call_traceability_through_kafka(
    kafka_sink: KafkaSink, ingest: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """Tool calls inside an execution join its summary row, through Kafka and the consumer."""
    async with AgentExecutionLogger(sink=kafka_sink).run("test-agent", "Test prompt") as run:
        await ActionLogger(sink=kafka_sink).log_tool_call(None, "bash", {"cmd": "ls"})
    await kafka_sink.flush(10)
    cid = run.correlation_id
    assert cid is not None

    async def joined() -> Any:
        return await postgres_connection.fetchrow(
            """
            SELECT ae.status, aa.action_type, aa.action_name
            FROM agent_execution_logs ae
            JOIN agent_actions aa ON ae.correlation_id = aa.correlation_id
            WHERE ae.correlation_id = $1 AND ae.status = 'success'
            """,
            cid,
        )

    row = await wait_for(joined, what="the tool call joined to its completed execution")
    assert (row["action_type"], row["action_name"]) == ("tool_call", "bash")


async def test_same_rows_on_both_paths(
    kafka_sink: KafkaSink, ingest: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """UUID/datetime/Decimal details and every column match between Kafka and direct."""
    ref, when = uuid.uuid4(), datetime(2025, 11, 9, 12, 0, tzinfo=UTC)
    params = {"id": ref, "at": when, "cost": Decimal("0.25")}
    via_kafka, direct = uuid.uuid4(), uuid.uuid4()
    await ActionLogger(sink=kafka_sink, agent_name="a").log_tool_call(
        via_kafka, "q", params, duration_ms=3
    )
    await ActionLogger(db=postgres_connection, agent_name="a").log_tool_call(
        direct, "q", params, duration_ms=3
    )
    await kafka_sink.flush(10)
    await _rows_for(postgres_connection, via_kafka, 1)
    columns = "agent_name, action_type, action_name, action_details, duration_ms, producer"
    rows = [
        await postgres_connection.fetchrow(
            f"SELECT {columns} FROM agent_actions WHERE correlation_id = $1", cid
        )
        for cid in (via_kafka, direct)
    ]
    assert dict(rows[0]) == dict(rows[1]), "the Kafka path stored a different row"
    assert rows[0]["action_details"]["params"] == {
        "id": str(ref), "at": "2025-11-09T12:00:00Z", "cost": "0.25",
    }  # fmt: skip


async def test_every_topic_reaches_its_table(
    kafka_sink: KafkaSink, ingest: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """Routing, manifest and transformation events published via Kafka land in their tables."""
    publisher = EventPublisher(kafka_sink)
    cid = uuid.uuid4()
    await publisher.routing_decision(
        cid, user_request="r", selected_agent="a", confidence_score=0.5,
        routing_strategy="fuzzy", routing_time_ms=1,
    )  # fmt: skip
    await publisher.manifest_injection(cid, agent_name="a", total_query_time_ms=1)
    await publisher.transformation(cid, target_agent="a")
    await kafka_sink.flush(10)
    for table in ("agent_routing_decisions", "agent_manifest_injections",
                  "agent_transformation_events"):  # fmt: skip
        await _rows_for(postgres_connection, cid, 1, table)


async def test_key_is_the_correlation_id_and_order_holds(
    kafka_sink: KafkaSink, consumer_of: Any, topic_prefix: str
) -> None:
    """One trace stays in one partition, in the order logged."""
    logger = ActionLogger(sink=kafka_sink)
    cid = uuid.uuid4()
    sent = [await logger.log_tool_call(cid, "bash", {"i": i}) for i in range(30)]
    await kafka_sink.flush(10)
    records = await consumer_of(f"{topic_prefix}agent-actions", 30)
    assert {r.key for r in records} == {str(cid).encode()}
    assert len({r.partition for r in records}) == 1, "one trace was split over partitions"
    assert [decode(r.value).event_id for r in records] == [a.event_id for a in sent]


async def test_event_size_limit_is_what_the_broker_takes(
    kafka_service: KafkaService, topic_prefix: str, tmp_path: Path, consumer_of: Any
) -> None:
    """An event of nearly MAX_EVENT_BYTES reaches the broker; one byte more is refused by the
    SDK before it is sent (EventValidationError), never dead-lettered after."""
    sink = make_sink(kafka_service.bootstrap, topic_prefix, tmp_path)
    logger = ActionLogger(sink=sink)
    async with sink:
        cid = uuid.uuid4()
        probe = AgentAction(
            correlation_id=cid, action_type="tool_call", action_name="Read",
            action_details={"content": ""},
        )  # fmt: skip
        room = MAX_EVENT_BYTES - len(encode(probe)) - 200  # the logger adds a few fields
        action = await logger.log_tool_call(cid, "Read", {"content": "x" * room})
        with pytest.raises(EventValidationError, match="bytes once encoded"):
            await logger.log_tool_call(cid, "Read", {"content": "x" * (room + 1000)})
        await sink.flush(10)
        assert sink.stats()["dead_lettered"] == 0
    (record,) = await consumer_of(f"{topic_prefix}agent-actions", 1)
    assert decode(record.value).event_id == action.event_id
    assert len(record.value) > MAX_EVENT_BYTES - 1000


async def test_outbox_from_a_run_without_broker_is_resent_by_the_next_run(
    kafka_service: KafkaService, topic_prefix: str, tmp_path: Path, consumer_of: Any
) -> None:
    """Events logged while no broker answered are delivered by the next process start."""
    spool = tmp_path / "spool"
    offline = make_sink(f"127.0.0.1:{unused_port()}", topic_prefix, spool, flush_timeout_s=0.5)
    async with offline:
        logger = ActionLogger(sink=offline)
        sent = [await logger.log_decision(uuid.uuid4(), f"d{i}") for i in range(20)]
    assert offline.stats()["outbox"] == 20
    online = make_sink(kafka_service.bootstrap, topic_prefix, spool)
    async with online:
        await online.flush(20)
        assert online.pending == 0, "the outbox was not emptied"
    records = await consumer_of(f"{topic_prefix}agent-actions", 20)
    assert sorted(decode(r.value).event_id for r in records) == sorted(a.event_id for a in sent)


@pytest.fixture
def consumer_of(kafka_consumer_factory: ConsumerFactory):  # type: ignore[no-untyped-def]
    """``await consumer_of(topic, n)`` → exactly the first n records of ``topic``."""

    async def read(topic: str, n: int) -> list[Any]:
        consumer: AIOKafkaConsumer = await kafka_consumer_factory(topic)
        records: list[Any] = []

        async def more() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
            return len(records) >= n

        await wait_for(more, what=f"{n} records on {topic}", timeout_s=30)
        assert len(records) == n, f"{topic}: expected {n} records, got {len(records)}"
        return records

    return read


async def test_dead_letters_can_be_listed_and_replayed(
    kafka_service: KafkaService, topic_prefix: str, tmp_path: Path, consumer_of: Any
) -> None:
    """dlq list finds the SDK's dead letter; dlq replay (local, full payload) re-publishes it."""
    from omniclaude.publishing import dlq
    from omniclaude.settings import TopicSettings

    sink = make_sink(kafka_service.bootstrap, topic_prefix, tmp_path)
    async with sink:
        action = AgentAction(
            correlation_id=uuid.uuid4(), action_type="decision", action_name="x" * 100
        )
        # What the sink does with an event the broker refuses for good (class name as aiokafka's).
        sink._dead_letter(sink._encode(action), "refused by the broker", "MessageSizeTooLargeError")
        await sink.flush(10)
    topics = dlq.dead_letter_topics(TopicSettings(), topic_prefix)
    (listed,) = await dlq.read_dead_letters([kafka_service.bootstrap], topics)
    assert listed.error_class == "MessageSizeTooLargeError"
    assert listed.original_topic == f"{topic_prefix}agent-actions"

    outbox = sink.outbox.path
    (local,) = dlq.local_dead_letters(outbox)
    assert local.event_id == str(action.event_id)
    assert await dlq.replay_local([kafka_service.bootstrap], outbox) == 1
    assert await dlq.replay_local([kafka_service.bootstrap], outbox) == 0, "replayed twice"
    (replayed,) = await consumer_of(f"{topic_prefix}agent-actions", 1)
    assert decode(replayed.value).event_id == action.event_id
    assert await dlq.replay_records([kafka_service.bootstrap], [listed]) == 1
