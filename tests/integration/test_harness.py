"""The test harness itself: real services, isolated databases and topics, markers, waiting,
and the local-service process management of ``omniclaude.stack``."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from omniclaude.events.codec import dumps
from omniclaude.stack.postgres import EmbeddedPostgres, PostgresStartError, version_of_data_dir
from omniclaude.stack.tansu import BrokerStartError, TansuBroker, kafka_brokers
from tests.fixtures.kafka import ConsumerFactory, KafkaService
from tests.fixtures.plugin import markers_for
from tests.fixtures.postgres import (
    PostgresService,
    TemplateDatabase,
    database_url_for,
    embedded_data_dir,
)
from tests.fixtures.waiting import wait_for

# ---------------------------------------------------------------------- PostgreSQL


async def test_a_real_postgresql_answers(
    postgres_connection: asyncpg.Connection, postgres_service: PostgresService
) -> None:
    """The session's server is a real PostgreSQL that runs SQL."""
    version = await postgres_connection.fetchval("SELECT version()")
    assert version.startswith("PostgreSQL ")
    assert postgres_service.kind in {"env", "testcontainers", "embedded"}
    assert (postgres_service.server is not None) == (postgres_service.kind == "embedded")


async def _only_own_rows_visible(conn: Any, owner: str) -> None:
    # CREATE TABLE fails if another test's scratch table were visible in this database.
    await conn.execute("CREATE TABLE scratch (owner text NOT NULL)")
    await conn.execute("INSERT INTO scratch (owner) VALUES ($1), ($1)", owner)
    owners = [row["owner"] for row in await conn.fetch("SELECT owner FROM scratch")]
    assert owners == [owner, owner]


async def test_first_test_sees_only_its_own_rows(postgres_connection: asyncpg.Connection) -> None:
    """Rows one test writes are invisible to another test (per-test database)."""
    await _only_own_rows_visible(postgres_connection, "first")


async def test_second_test_sees_only_its_own_rows(db_pool: Any) -> None:
    """The same holds through the per-test pool: a fresh database, no rows from elsewhere."""
    async with db_pool.acquire() as conn:
        await _only_own_rows_visible(conn, "second")


async def test_per_test_database_is_a_migrated_copy_of_the_template(
    postgres_connection: asyncpg.Connection,
    migrated_template: TemplateDatabase,
    database_url: str,
) -> None:
    """The test's database is not the template, yet has the migrated tables."""
    name = await postgres_connection.fetchval("SELECT current_database()")
    assert name.startswith("test_")
    assert name != migrated_template.name
    assert migrated_template.name.startswith("omniclaude_tpl_")
    assert urlsplit(database_url).path == f"/{name}"
    assert await postgres_connection.fetchval("SELECT to_regclass('agent_actions')") is not None


async def test_connections_have_the_json_codecs(postgres_connection: asyncpg.Connection) -> None:
    """jsonb comes back as Python objects, as init_connection registers (when it exists)."""
    value = await postgres_connection.fetchval("SELECT '{\"a\": [1, 2]}'::jsonb")
    assert value == {"a": [1, 2]}


def test_database_url_for_replaces_only_the_database() -> None:
    """Host and socket URLs get the new database; user, host, port and query are kept."""
    assert (
        database_url_for("postgresql://postgres@127.0.0.1:5432/postgres", "test_ab12")
        == "postgresql://postgres@127.0.0.1:5432/test_ab12"
    )
    assert (
        database_url_for("postgresql://postgres@/postgres?host=/var/run/postgresql", "test_ab12")
        == "postgresql://postgres@/test_ab12?host=/var/run/postgresql"
    )
    assert (
        database_url_for("postgres://u:p%40ss@h:1/db?sslmode=disable&dbname=db", "x")
        == "postgres://u:p%40ss@h:1/x?sslmode=disable"
    )
    assert database_url_for("postgresql://h", "x") == "postgresql://h/x"


# ---------------------------------------------------------------------- Kafka


async def test_kafka_round_trips_bytes_exactly(
    kafka_producer: AIOKafkaProducer, kafka_consumer_factory: ConsumerFactory, topic_prefix: str
) -> None:
    """A produced record is consumed byte-for-byte: value, key and headers."""
    topic = f"{topic_prefix}roundtrip"
    value = bytes(range(256)) + "é—✓".encode()
    await kafka_producer.send_and_wait(topic, value, key="k-1", headers=[("h", b"\x00\xff")])
    consumer = await kafka_consumer_factory(topic)
    record = await wait_for(lambda: _first_record(consumer), what=f"a record on {topic}")
    assert record.value == value
    assert record.key == b"k-1"
    assert list(record.headers) == [("h", b"\x00\xff")]


async def _first_record(consumer: AIOKafkaConsumer) -> Any:
    batch = await consumer.getmany(timeout_ms=200)
    records = [record for records in batch.values() for record in records]
    return records[0] if records else None


async def test_kafka_producer_serialises_dicts_with_the_codec(
    kafka_producer: AIOKafkaProducer, kafka_consumer_factory: ConsumerFactory, topic_prefix: str
) -> None:
    """Dict values (with a UUID inside) are sent as omniclaude.events.codec.dumps bytes."""
    topic = f"{topic_prefix}dicts"
    payload = {"id": uuid.uuid4(), "n": 1, "nested": {"ok": True}}
    await kafka_producer.send_and_wait(topic, payload, key=str(payload["id"]))
    consumer = await kafka_consumer_factory(topic)
    record = await wait_for(lambda: _first_record(consumer), what=f"a record on {topic}")
    assert record.value == dumps(payload)
    assert record.key == str(payload["id"]).encode()


async def test_consumer_group_commits_offsets(
    kafka_service: KafkaService,
    kafka_admin: AIOKafkaAdminClient,
    kafka_producer: AIOKafkaProducer,
    kafka_consumer_factory: ConsumerFactory,
    topic_prefix: str,
) -> None:
    """A consumer in a group gets the partition assigned, reads and commits an offset."""
    topic = f"{topic_prefix}grouped"
    await kafka_admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await kafka_producer.send_and_wait(topic, b"one")
    await kafka_producer.send_and_wait(topic, b"two")
    consumer = await kafka_consumer_factory(
        topic, group_id=f"{topic_prefix}group", enable_auto_commit=False
    )
    seen: list[bytes] = []

    async def both() -> bool:
        batch = await consumer.getmany(timeout_ms=200)
        seen.extend(r.value for records in batch.values() for r in records)
        return len(seen) >= 2

    await wait_for(both, what="two records through the group")
    assert seen == [b"one", b"two"]
    await consumer.commit()
    assert await consumer.committed(TopicPartition(topic, 0)) == 2


async def test_each_test_gets_fresh_topic_names(
    topic_prefix: str, kafka_admin: AIOKafkaAdminClient
) -> None:
    """No topic on the broker carries this test's prefix before the test makes one."""
    assert topic_prefix.startswith("t")
    assert topic_prefix.endswith(".")
    topics = await kafka_admin.list_topics()
    assert not [t for t in topics if t.startswith(topic_prefix)]


# ---------------------------------------------------------------------- markers and waiting


def test_markers_follow_the_directory_and_the_fixtures(
    request: pytest.FixtureRequest, database_url: str
) -> None:
    """This test is marked integration and database (it uses a PostgreSQL fixture), not kafka."""
    names = {mark.name for mark in request.node.iter_markers()}
    assert {"integration", "database"} <= names
    assert "kafka" not in names
    assert markers_for(Path("unit/x/test_a.py"), set()) == ["unit"]
    assert markers_for(Path("system/test_a.py"), set()) == ["system", "database", "kafka"]
    assert markers_for(Path("chaos/test_a.py"), {"kafka_producer"}) == ["slow", "kafka"]
    assert markers_for(Path("load/test_a.py"), {"db_pool"}) == ["slow", "database"]
    assert markers_for(Path("integration/c/test_a.py"), {"postgres_service", "kafka_service"}) == [
        "integration",
        "database",
        "kafka",
    ]


async def test_wait_for_returns_the_first_truthy_value() -> None:
    """wait_for polls until the predicate gives something truthy and returns it."""
    calls = 0

    async def third_time() -> int | None:
        nonlocal calls
        calls += 1
        return calls if calls >= 3 else None

    assert await wait_for(third_time, what="the third call", timeout_s=5, interval_s=0.001) == 3


async def test_wait_for_times_out_with_the_last_value() -> None:
    """wait_for raises AssertionError naming what it waited for and the last value seen."""

    async def never() -> list[int]:
        return []

    with pytest.raises(AssertionError, match=r"timed out after 0.1s waiting for nothing; last"):
        await wait_for(never, what="nothing", timeout_s=0.1, interval_s=0.01)


async def test_wait_for_cuts_off_a_hanging_check() -> None:
    """A predicate call that hangs past the deadline ends in AssertionError, not a hang."""

    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(AssertionError, match="still running"):
        await wait_for(hang, what="a hanging check", timeout_s=0.1)


# ---------------------------------------------------------------------- omniclaude.stack


@pytest.fixture
def pg_data() -> Iterator[Path]:
    """A data directory path outside /tmp/pytest-of-root (see embedded_data_dir)."""
    with embedded_data_dir() as path:
        yield path


async def test_embedded_postgres_survives_kill_and_keeps_its_port(pg_data: Path) -> None:
    """After SIGKILL, start() recovers the data directory on the same port; commits survive."""
    server = EmbeddedPostgres(pg_data, fast=True)
    try:
        server.start()
        port, url = server.port, server.url
        assert version_of_data_dir(pg_data) == "18"
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE TABLE kept AS SELECT 42 AS answer")
        finally:
            await conn.close()
        server.kill()
        assert not server.is_running()
        assert server.pid is None
        server.start()
        assert (server.port, server.url) == (port, url)
        conn = await asyncpg.connect(server.url_for("postgres"))
        try:
            assert await conn.fetchval("SELECT answer FROM kept") == 42
        finally:
            await conn.close()
    finally:
        server.stop()
        server.stop()  # idempotent
    assert server.pid is None


def test_embedded_postgres_reports_the_log_when_it_cannot_start(pg_data: Path) -> None:
    """A server that cannot bind its port raises PostgresStartError with the log tail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = EmbeddedPostgres(pg_data, port=squatter.getsockname()[1], fast=True)
        with pytest.raises(PostgresStartError, match="Address already in use") as failure:
            server.start(timeout_s=20)
    assert failure.value.log_tail
    assert not server.is_running()


def test_embedded_postgres_refuses_a_data_dir_of_another_version(pg_data: Path) -> None:
    """A data directory initialised by another major version is refused, not corrupted."""
    data = pg_data
    data.mkdir()
    (data / "PG_VERSION").write_text("9\n")
    with pytest.raises(PostgresStartError, match="PostgreSQL 9 cluster"):
        EmbeddedPostgres(data, fast=True).start()


async def test_tansu_restarts_empty_on_the_same_port(tmp_path: Path) -> None:
    """Tansu answers Kafka requests; after a kill it restarts on the same port, with no topics."""
    broker = TansuBroker(log_path=tmp_path / "tansu.log")
    try:
        broker.start()
        bootstrap = broker.bootstrap
        assert kafka_brokers(bootstrap)[0].port == broker.port
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("before-kill", b"x")
        finally:
            await producer.stop()
        broker.kill()
        assert not broker.is_running()
        broker.start()
        assert broker.bootstrap == bootstrap
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            assert "before-kill" not in await admin.list_topics()
        finally:
            await admin.close()
    finally:
        broker.stop()
        broker.stop()  # idempotent
    assert broker.pid is None
    assert (tmp_path / "tansu.log").exists()  # a log we were given is kept


def test_tansu_reports_the_log_when_it_cannot_start() -> None:
    """A broker whose port is taken raises BrokerStartError carrying its log."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = TansuBroker(port=squatter.getsockname()[1])
        with pytest.raises(BrokerStartError) as failure:
            broker.start(timeout_s=20)
    assert failure.value.log_tail
    assert not broker.is_running()
    log = broker.log_path
    broker.stop()
    assert log is not None
    assert not log.exists()  # a temporary log is removed by stop()
