"""Several consumer processes share the partitions; one killed mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.events import TOPICS
from omniclaude.settings import TopicSettings
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for

EVENTS = 6000
ALL_PARTITIONS = len(TOPICS) * TopicSettings().partitions  # every topic family


def _consume_command() -> list[str]:
    script = Path(sys.executable).with_name("omniclaude")
    if script.exists():
        return [str(script), "consume"]
    return [sys.executable, "-c", "from omniclaude._entry import main; main()", "consume"]


class ConsumerProcess:
    """``omniclaude consume`` in a child process, configured through the environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            _consume_command(), env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    async def exit_code(self, timeout_s: float) -> int:
        async def exited() -> int | None:
            code = self.proc.poll()
            return None if code is None else code + 1000  # make 0 truthy

        return (
            await wait_for(exited, what="the consumer process to exit", timeout_s=timeout_s) - 1000
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()


@pytest.fixture
def consumer_process(
    kafka_service: KafkaService, database_url: str, topic_prefix: str, tmp_path: Path
) -> Iterator[Any]:
    """``start(group_id)`` → a running ``omniclaude consume`` for this test's topics."""
    started: list[ConsumerProcess] = []

    def start(group_id: str) -> ConsumerProcess:
        env = {
            **os.environ,
            "OMNICLAUDE_DATABASE_URL": database_url,
            "OMNICLAUDE_KAFKA_BOOTSTRAP": kafka_service.bootstrap,
            "OMNICLAUDE_TOPIC_PREFIX": topic_prefix,
            "OMNICLAUDE_CONSUMER__GROUP_ID": group_id,
            "OMNICLAUDE_CONSUMER__BATCH_MAX_MS": "20",
            "OMNICLAUDE_CONSUMER__BATCH_MAX_EVENTS": "200",
            "OMNICLAUDE_CONSUMER__HEALTH_PORT": "0",
        }
        env.pop("OMNICLAUDE_CONFIG_FILE", None)
        started.append(ConsumerProcess(env, tmp_path / f"consumer-{len(started)}.log"))
        return started[-1]

    yield start
    for process in started:
        process.close()


async def _names(conn: asyncpg.Connection, cid: uuid.UUID) -> list[str]:
    rows = await conn.fetch("SELECT action_name FROM agent_actions WHERE correlation_id = $1", cid)
    return [row["action_name"] for row in rows]


@pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)
async def test_two_consumers_one_killed_mid_stream_store_every_event_once(
    ingest_service_factory: IngestServiceFactory,
    consumer_process: Any,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """A second member SIGKILLed while events flow: its partitions move to the survivor,
    which re-reads the uncommitted part; every event is in the database exactly once."""
    group = f"{topic_prefix}scale"
    victim = consumer_process(group)
    survivor = await ingest_service_factory(consumer={"group_id": group})

    async def shared() -> bool:
        assigned = survivor.ready()[1]["assigned_partitions"]
        return 0 < assigned < ALL_PARTITIONS

    await wait_for(shared, what="both members to share the partitions", timeout_s=60)
    topic = f"{topic_prefix}agent-actions"
    cid = uuid.uuid4()

    async def produce(start: int, stop: int) -> None:
        for i in range(start, stop):
            # No event_id: the ids are derived from the record's position, so a record
            # redelivered to the survivor is recognised.
            body = {"correlation_id": str(cid), "action_type": "tool_call", "action_name": f"e{i}"}
            await kafka_producer.send(topic, json.dumps(body).encode(), key=str(i).encode())
            if i % 200 == 0:
                await kafka_producer.flush()
        await kafka_producer.flush()

    producing = asyncio.create_task(produce(0, EVENTS))

    async def victim_working() -> bool:
        count = len(await _names(postgres_connection, cid))
        return count >= EVENTS // 4 and sum(survivor.events_written.values()) < count

    await wait_for(victim_working, what="both members to be writing", timeout_s=60)
    victim.signal(signal.SIGKILL)
    await producing

    async def everything() -> bool:
        return len(await _names(postgres_connection, cid)) >= EVENTS and (
            survivor.ready()[1]["assigned_partitions"] == ALL_PARTITIONS
        )

    await wait_for(everything, what="every event after the kill", timeout_s=120)
    names = await _names(postgres_connection, cid)
    missing = {f"e{i}" for i in range(EVENTS)} - set(names)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert len(names) == EVENTS, f"{len(names) - EVENTS} events stored twice"
    assert await victim.exit_code(5) == -signal.SIGKILL


@pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)
async def test_sigterm_finishes_the_batch_commits_and_exits_0(
    consumer_process: Any,
    kafka_producer: Any,
    kafka_consumer_factory: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """``omniclaude consume`` stops on SIGTERM with exit code 0 and its offsets committed."""
    from aiokafka import TopicPartition

    group = f"{topic_prefix}term"
    process = consumer_process(group)
    topic = f"{topic_prefix}agent-actions"
    cid = uuid.uuid4()
    for i in range(500):
        body = {"correlation_id": str(cid), "action_type": "decision", "action_name": f"e{i}"}
        await kafka_producer.send(topic, json.dumps(body).encode(), partition=i % 3)
    await kafka_producer.flush()

    async def stored() -> bool:
        return len(await _names(postgres_connection, cid)) == 500

    await wait_for(stored, what="the events to be stored", timeout_s=60)
    process.signal(signal.SIGTERM)
    assert await process.exit_code(30) == 0, process.output()
    assert "signal received" in process.output()
    reader = await kafka_consumer_factory(group_id=group, enable_auto_commit=False)
    for partition in range(3):
        tp = TopicPartition(topic, partition)
        published = len(range(partition, 500, 3))  # the records sent to this partition
        assert await reader.committed(tp) == published, f"offsets of {tp} were not committed"
