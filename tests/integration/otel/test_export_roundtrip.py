"""OmniClaude → OTLP → a second OmniClaude: a toy agent's trace recorded into one database is
sent by ``omniclaude export-otlp`` (a subprocess, as a user runs it) to another OmniClaude —
its own API (uvicorn), topics, consumer and fresh database — and every row of the tree is the
same in both.

Two toys: the SDK's (our loggers, straight to Kafka: every kind of row) and a GenAI agent
instrumented with the OpenTelemetry SDK, sent to the first OmniClaude's ``/v1/traces``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from omniclaude.otel.ids import correlation_id_for_trace
from omniclaude.publishing import KafkaSink
from omniclaude.storage.pool import connect
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.kafka import KafkaService
from tests.fixtures.otel import toy_agent_spans
from tests.fixtures.serving import api_key, served
from tests.integration.otel.toy import Toy, export_otlp, record_toy_agent, stored, table_rows

pytestmark = pytest.mark.covers("endpoint:POST /v1/traces")

STORAGE_MADE = frozenset({"execution_id", "ingested_at", "inserted_at", "updated_at", "producer"})
"""Columns each database fills itself (a serial id, when the row was written or updated)."""


@contextlib.contextmanager
def omniclaude_api(
    kafka: KafkaService, database_url: str, prefix: str, home: Path
) -> Iterator[str]:
    """An OmniClaude API on ``database_url``, publishing to the topics of ``prefix``,
    served by uvicorn (its lifespan builds its own sink and pool, in its own thread)."""
    from omniclaude.api import create_app
    from omniclaude.settings import Settings

    settings = Settings(
        database_url=database_url, kafka_bootstrap=kafka.bootstrap, topic_prefix=prefix,
        data_dir=home / "data", spool_dir=home / "spool",
    )  # fmt: skip
    with served(create_app(settings)) as url:
        yield url


async def record_otel_toy(url: str, key: str) -> Toy:
    """The OTel SDK's GenAI toy agent, exported to ``url``'s /v1/traces."""
    spans = toy_agent_spans()
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    try:
        result = await asyncio.to_thread(exporter.export, spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    assert result is SpanExportResult.SUCCESS, result
    context = spans[0].context
    assert context is not None
    root = correlation_id_for_trace(context.trace_id.to_bytes(16, "big"))
    # Two executions, two chat calls, the tool call, the HTTP span and its exception.
    return Toy(root=root, rows=2 + 2 + 3)


def differences(a: dict[str, list[dict[str, Any]]], b: dict[str, list[dict[str, Any]]]) -> str:
    """Where two databases' rows differ, column by column (the first 20)."""
    found: list[str] = []
    for table, rows in a.items():
        if len(rows) != len(b[table]):
            found.append(f"{table}: {len(rows)} rows in A, {len(b[table])} in B")
            continue
        for left, right in zip(rows, b[table], strict=True):
            row = left.get("event_id", left.get("correlation_id"))
            found.extend(
                f"{table}.{column} of {row}: A {left.get(column)!r} != B {right.get(column)!r}"
                for column in sorted(left.keys() | right.keys())
                if left.get(column) != right.get(column)
            )
    return "\n".join(found[:200]) or "no difference"


@pytest.mark.parametrize("source", ["sdk", "otel"])
async def test_a_trace_exported_to_a_second_omniclaude_is_the_same_tree(
    *,
    source: str,
    kafka_service: KafkaService,
    ingest_service_factory: IngestServiceFactory,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
    database_url: str,
    second_database_url: str,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """Executions, lifecycle events (payloads), actions, LLM calls, routing decisions,
    manifest injections and transformations: row for row and column for column equal in
    the database that recorded them and the one that imported the export."""
    await ingest_service_factory()  # A: this test's topics into its database
    if source == "sdk":
        toy = await record_toy_agent(kafka_sink)
    else:
        with omniclaude_api(kafka_service, database_url, topic_prefix, tmp_path / "a") as url_a:
            key_a = await api_key(database_url, "round-trip", ["ingest"])
            toy = await record_otel_toy(url_a, key_a)
    tree = await stored(postgres_connection, toy)

    prefix_b = f"{topic_prefix}b."
    await ingest_service_factory(
        database_url=second_database_url,
        topic_prefix=prefix_b,
        consumer={"group_id": f"{prefix_b}ingest"},
    )
    key_b = await api_key(second_database_url, "round-trip", ["ingest"])
    with omniclaude_api(kafka_service, second_database_url, prefix_b, tmp_path / "b") as url_b:
        result = await asyncio.to_thread(
            export_otlp, database_url, "--endpoint", url_b, "--since", "1h",
            "--header", f"Authorization=Bearer {key_b}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"sent 1 traces ({toy.rows} spans)" in result.stdout, result.stdout
        conn_b = await connect(second_database_url)
        try:
            tree_b = await stored(conn_b, toy)
            ids = sorted({toy.root, *(e.correlation_id for e in tree.executions)})
            rows_a = await table_rows(postgres_connection, ids, leave_out=STORAGE_MADE)
            rows_b = await table_rows(conn_b, ids, leave_out=STORAGE_MADE)
        finally:
            await conn_b.close()
    assert sorted(e.correlation_id for e in tree_b.executions) == sorted(
        e.correlation_id for e in tree.executions
    )
    assert all(rows_a[table] for table in ("agent_execution_logs", "agent_execution_events"))
    if source == "sdk":  # every kind of row
        assert all(rows_a.values()), {t: len(r) for t, r in rows_a.items()}
    assert rows_a == rows_b, differences(rows_a, rows_b)
