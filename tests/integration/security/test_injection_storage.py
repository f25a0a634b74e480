"""SQL injection through the storage paths: every string field of every event type.

For each catalogued event type, events whose every string position (top-level fields, list
items, nested models, JSON keys and values, the producer, an unknown extra field) holds an
injection payload are written by the real writers, and published to Kafka for the real
consumer. Proved: each string is stored verbatim (also in the trigger-maintained execution
summary), each event is one row, and nothing else in the database changed — row counts of
every table, a canary table, the public functions, views and roles, the API keys.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.events import CATALOG, decode_mapping
from omniclaude.settings import TopicSettings
from omniclaude.storage.writers import write_events
from tests.integration.security.support import (
    Case,
    event_cases,
    install_canary,
    snapshot,
    stored_problems,
)
from tests.load.verify import TABLE_OF, wait_until_stored

pytestmark = pytest.mark.covers(
    "event:agent_action", "event:execution_started", "event:execution_progress",
    "event:execution_completed", "event:execution_failed", "event:routing_decision",
    "event:manifest_injection", "event:agent_transformation",
    "table:agent_actions", "table:agent_execution_events", "table:agent_execution_logs",
    "table:agent_routing_decisions", "table:agent_manifest_injections",
    "table:agent_transformation_events",
    "topic:agent-actions", "topic:agent-routing-decisions", "topic:intelligence-events",
    "topic:agent-execution-logs", "topic:agent-transformations",
)  # fmt: skip


def _expected_growth(cases: list[Case]) -> dict[str, int]:
    growth: dict[str, int] = {}
    for payload, _ in cases:
        table = TABLE_OF[payload["event_type"]]
        growth[table] = growth.get(table, 0) + 1
    lifecycle = [p for p, _ in cases if TABLE_OF[p["event_type"]] == "agent_execution_events"]
    growth["agent_execution_logs"] = len({p["correlation_id"] for p in lifecycle})
    return growth


def _assert_nothing_else_changed(
    before: dict[str, Any], after: dict[str, Any], growth: dict[str, int]
) -> None:
    expected = {t: n + growth.get(t, 0) for t, n in before["counts"].items()}
    changed = {t: (expected[t], n) for t, n in after["counts"].items() if expected.get(t) != n}
    assert not changed, f"row counts (expected, found) changed beyond the events: {changed}"
    for key in ("canary", "functions", "views", "roles", "api_keys"):
        assert after[key] == before[key], f"{key} changed: {before[key]!r} -> {after[key]!r}"


async def test_injection_strings_are_stored_verbatim_by_the_writers(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Every string field of every event type, written by ``write_events``: verbatim, one
    row each, and not one other row, table, function, role or key changed."""
    db = postgres_connection
    await install_canary(db)
    before = await snapshot(db)
    cases = event_cases()
    await write_events(db, [decode_mapping(payload) for payload, _ in cases])
    problems = await stored_problems(db, cases)
    assert not problems, f"{len(problems)} strings not stored verbatim: {problems[:8]}"
    _assert_nothing_else_changed(before, await snapshot(db), _expected_growth(cases))


async def test_injection_strings_are_stored_verbatim_by_the_consumer(
    kafka_producer: Any,
    ingest_service: IngestService,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """The same events as raw JSON on their Kafka topics, through the real consumer:
    verbatim, one row each, nothing else changed, nothing dead-lettered."""
    db = postgres_connection
    await install_canary(db)
    before = await snapshot(db)
    cases = event_cases()
    topics = TopicSettings()
    topic_of = {k.event_type: f"{topic_prefix}{getattr(topics, k.topic.key)}" for k in CATALOG}
    for payload, _ in cases:
        await kafka_producer.send(topic_of[payload["event_type"]], payload,
                                  key=payload["correlation_id"])  # fmt: skip
    await kafka_producer.flush()
    expected = {uuid.UUID(p["event_id"]): p["event_type"] for p, _ in cases}
    await wait_until_stored(db, expected, what="the injection events", timeout_s=60)
    problems = await stored_problems(db, cases)
    assert not problems, f"{len(problems)} strings not stored verbatim: {problems[:8]}"
    assert ingest_service.dead_lettered == 0, "an injection event went to the dead letters"
    _assert_nothing_else_changed(before, await snapshot(db), _expected_growth(cases))
