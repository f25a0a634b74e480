"""The service's lifecycle with in-memory clients: start, ingest, signals, stop, failures."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from omniclaude.consuming import IngestService
from omniclaude.consuming import service as service_module
from omniclaude.errors import DeliveryError
from omniclaude.kafka import topics as kafka_topics
from omniclaude.settings import ConsumerSettings
from tests.fixtures.waiting import wait_for
from tests.unit.consuming.fakes import FakeKafkaConsumer, FakeKafkaProducer, FakeStore
from tests.unit.consuming.records import TP, bare_action, record


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the broker clients, topic creation and the store with in-memory ones."""
    import aiokafka

    created: list[list[str]] = []
    stores: list[FakeStore] = []

    async def ensure_topics(clients: Any, names: Any, *, partitions: int, **_: Any) -> list[str]:
        created.append(list(names))
        return []

    def make_store(dsn: str, **_options: object) -> FakeStore:
        stores.append(FakeStore([]))
        return stores[-1]

    FakeKafkaConsumer.made.clear()
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", FakeKafkaConsumer)
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", FakeKafkaProducer)
    monkeypatch.setattr(kafka_topics, "ensure_topics", ensure_topics)
    monkeypatch.setattr(service_module, "EventStore", make_store)
    monkeypatch.setattr(service_module, "tune_gc", lambda: None)
    return {"created": created, "stores": stores}


def _service(**kwargs: Any) -> IngestService:
    return IngestService(
        bootstrap_servers=["127.0.0.1:9"], database_url="postgresql://u@127.0.0.1/db",
        topic_prefix="p-", consumer=ConsumerSettings(batch_max_ms=5, health_port=0),
        serve_health=True, **kwargs,
    )  # fmt: skip


async def test_start_ingest_and_stop(fakes: dict[str, Any]) -> None:
    """Topics and DLQs are created, records become rows, stop is clean and idempotent."""
    service = _service(consumer_options={"session_timeout_ms": 3000, "enable_auto_commit": True})
    async with service:
        consumer = FakeKafkaConsumer.made[0]
        assert consumer.options["enable_auto_commit"] is False, "auto-commit must stay off"
        assert consumer.options["auto_offset_reset"] == "earliest"
        assert consumer.options["session_timeout_ms"] == 3000
        assert "p-agent-actions-dlq" in fakes["created"][0]
        assert service.health()[0]
        assert service.ready()[0]
        assert service.health_port
        consumer.feed([record(bare_action(str(uuid.uuid4())), topic="p-agent-actions")])

        async def written() -> bool:
            return service.events_written == {"p-agent-actions": 1}

        await wait_for(written, what="the row")
        assert service.last_commit_time is not None
        assert consumer.commits[-1] == {TP("p-agent-actions", 0): 1}
        await service.start()  # a second start is a no-op
    assert consumer.stopped
    assert not service.health()[0]
    await service.stop()


async def test_run_stops_cleanly_on_sigterm(fakes: dict[str, Any]) -> None:
    """run() returns after SIGTERM, having stopped the clients (the CLI then exits 0)."""
    service = _service()
    runner = asyncio.create_task(service.run())

    async def running() -> bool:
        return service.health()[0]

    await wait_for(running, what="the service to run")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(runner, 10)
    assert FakeKafkaConsumer.made[0].stopped


async def test_an_unreachable_broker_fails_start_with_delivery_error(
    fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No broker at start: one DeliveryError naming the bootstrap servers."""

    async def unreachable(*args: Any, **kwargs: Any) -> list[str]:
        raise KafkaConnectionError("connect failed")

    monkeypatch.setattr(kafka_topics, "ensure_topics", unreachable)
    service = _service()
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1:9"):
        await service.start()
    assert not service.health()[0]


async def test_a_crashed_loop_is_reported_by_stop(fakes: dict[str, Any]) -> None:
    """A bug that kills the loop makes /health fail and stop() re-raise it."""
    service = _service()
    await service.start()
    consumer = FakeKafkaConsumer.made[0]
    consumer.fetch_errors = [RuntimeError("bug")]

    async def dead() -> bool:
        return not service.health()[0]

    await wait_for(dead, what="the loop to die")
    with pytest.raises(RuntimeError, match="bug"):
        await service.stop()


async def test_a_stuck_database_does_not_block_stop_forever(fakes: dict[str, Any]) -> None:
    """With the database away, stop gives up after its timeout; the batch is redelivered."""
    service = _service(stop_timeout_s=0.2)
    await service.start()
    fakes["stores"][0].up.clear()
    FakeKafkaConsumer.made[0].feed(
        [record(bare_action(str(uuid.uuid4())), topic="p-agent-actions")]
    )

    async def retrying() -> bool:
        return fakes["stores"][0].failures > 0

    await wait_for(retrying, what="the write to fail")
    await service.stop()
    assert FakeKafkaConsumer.made[0].commits == [], "an offset was committed for an unwritten batch"


async def test_revocation_drains_and_assignment_is_logged(fakes: dict[str, Any]) -> None:
    """The rebalance listener settles fetched records before partitions are revoked."""
    service = _service()
    await service.start()
    consumer = FakeKafkaConsumer.made[0]
    consumer.feed([record(bare_action(str(uuid.uuid4())), topic="p-agent-actions")])
    await consumer.listener.on_partitions_revoked(frozenset(consumer.assigned))
    await consumer.listener.on_partitions_revoked(frozenset())

    async def written() -> bool:
        return bool(consumer.commits)

    await wait_for(written, what="the commit")
    await service.stop()
