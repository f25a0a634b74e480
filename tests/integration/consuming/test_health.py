"""The running service's /health, /ready and /metrics over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from omniclaude.consuming import IngestService
from omniclaude.events import TOPICS
from omniclaude.settings import TopicSettings
from tests.fixtures.waiting import wait_for


@pytest.mark.covers(
    "topic:agent-actions",
)
async def test_metrics_report_what_was_consumed_written_and_committed(
    ingest_service: IngestService, kafka_producer: Any, topic_prefix: str
) -> None:
    """After ingesting, the counters, the lag gauge and the commit time are exported."""
    topic = f"{topic_prefix}agent-actions"
    cid = str(uuid.uuid4())
    for i in range(20):
        body = {"correlation_id": cid, "action_type": "success", "action_name": f"s{i}"}
        await kafka_producer.send(topic, json.dumps(body).encode(), partition=1)
    await kafka_producer.send(topic, b"garbage", partition=1)
    await kafka_producer.flush()

    async def settled() -> bool:
        return ingest_service.events_written.get(topic) == 20 and ingest_service.dead_lettered == 1

    await wait_for(settled, what="20 rows and one dead letter")
    base = f"http://127.0.0.1:{ingest_service.health_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["assigned_partitions"] == len(TOPICS) * TopicSettings().partitions
    text = metrics.text
    assert f'omniclaude_ingest_events_consumed_total{{topic="{topic}"}} 21.0' in text
    assert f'omniclaude_ingest_events_written_total{{topic="{topic}"}} 20.0' in text
    assert f'omniclaude_ingest_dead_letters_total{{stage="decode",topic="{topic}"}} 1.0' in text
    assert f'omniclaude_ingest_consumer_lag_messages{{partition="1",topic="{topic}"}} 0.0' in text
    assert "omniclaude_ingest_batch_size_events_count" in text
    last_commit = next(
        line for line in text.splitlines()
        if line.startswith("omniclaude_ingest_last_commit_timestamp_seconds ")
    )  # fmt: skip
    assert float(last_commit.split()[1]) > 0
