"""Fixtures of the publishing integration tests: a Kafka sink on the session broker, an
ingestion service writing the topics to the test's database, a private Tansu for chaos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from omniclaude.publishing import KafkaSink
from omniclaude.settings import ConsumerSettings, ProducerSettings
from tests.fixtures.kafka import KafkaService

if TYPE_CHECKING:
    from omniclaude.consuming import IngestService


def make_sink(bootstrap: str, prefix: str, spool: Path, **producer: float) -> KafkaSink:
    """A Kafka sink with short timeouts, for tests."""
    settings = ProducerSettings(linger_ms=5, **{"flush_timeout_s": 10.0, **producer})  # type: ignore[arg-type]
    return KafkaSink(
        bootstrap_servers=[bootstrap], topic_prefix=prefix, spool_dir=spool,
        producer=settings, request_timeout_ms=3000,
    )  # fmt: skip


@pytest.fixture
async def kafka_sink(
    kafka_service: KafkaService, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[KafkaSink]:
    """A started KafkaSink on the session broker with this test's topic prefix."""
    sink = make_sink(kafka_service.bootstrap, topic_prefix, tmp_path / "spool")
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


def make_ingest(
    bootstrap: str, database_url: str, prefix: str, consumer_options: dict[str, object]
) -> IngestService:
    """An ingestion service with a fresh group and short batches."""
    from omniclaude.consuming import IngestService

    return IngestService(
        bootstrap_servers=[bootstrap], database_url=database_url, topic_prefix=prefix,
        consumer=ConsumerSettings(group_id=f"{prefix}ingest", batch_max_ms=50),
        consumer_options=consumer_options,
    )  # fmt: skip


@pytest.fixture
async def ingest(
    kafka_service: KafkaService, database_url: str, topic_prefix: str
) -> AsyncIterator[IngestService]:
    """The real consumer (omniclaude.consuming) writing this test's topics to its database."""
    service = make_ingest(
        kafka_service.bootstrap, database_url, topic_prefix, dict(kafka_service.consumer_defaults)
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
