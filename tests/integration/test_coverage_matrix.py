"""The coverage matrix checks itself: every table, topic, endpoint and event type the code
defines has at least one real-service test declaring ``@pytest.mark.covers(...)`` for it."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from omniclaude.api.app import create_app
from omniclaude.settings import Settings
from tests.matrix.inventory import (
    covered_items,
    covers_problems,
    endpoint_items,
    event_items,
    missing,
    stale,
    table_items,
    topic_items,
)

SPEC_MATRIX = {
    # The spec's "Test Matrix": Kafka → Database, API → Database, and the two joins.
    "topic:agent-actions",
    "topic:agent-routing-decisions",
    "topic:intelligence-events",
    "table:agent_actions",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_execution_logs",
    "endpoint:POST /route",
    "endpoint:POST /execute",
    "join:agent_execution_logs-agent_actions",
    "join:agent_routing_decisions-agent_manifest_injections",
}


async def _migrated_tables(conn: asyncpg.Connection) -> list[str]:
    """The migrated tables (a partitioned table counts once: its partitions are not listed)."""
    rows = await conn.fetch(
        "SELECT c.relname AS table_name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    )
    return [row["table_name"] for row in rows]


def _endpoints() -> set[str]:
    app = create_app(Settings(database_url=None, kafka_bootstrap=None))
    return endpoint_items(app.openapi())


async def test_everything_the_code_defines_has_a_real_service_test(
    postgres_connection: asyncpg.Connection,
) -> None:
    """No table, topic, endpoint or event type lacks an integration or system test."""
    inventory = (
        table_items(await _migrated_tables(postgres_connection))
        | topic_items()
        | event_items()
        | _endpoints()
    )
    covered = covered_items()
    wrong = stale(inventory, covered)
    assert not wrong, f"tests claim to cover things the code does not define: {wrong}"
    gaps = missing(inventory, covered)
    assert not gaps, (
        "no integration/system test covers: " + ", ".join(gaps)
        + ' — add @pytest.mark.covers("<item>") to the test that exercises it'
    )  # fmt: skip


def test_the_specs_matrix_is_covered() -> None:
    """The spec's matrix (Kafka → DB per topic, API → DB per endpoint, both joins) is green."""
    gaps = missing(SPEC_MATRIX, covered_items())
    assert not gaps, "the spec's test matrix has no test for: " + ", ".join(gaps)


async def test_a_new_table_without_a_test_turns_the_matrix_red(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Registering a dummy table (really created by DDL) makes the matrix report it."""
    before = table_items(await _migrated_tables(postgres_connection))
    await postgres_connection.execute("CREATE TABLE agent_dummy_events (event_id uuid)")
    after = table_items(await _migrated_tables(postgres_connection))
    covered = covered_items()
    assert set(missing(after, covered)) - set(missing(before, covered)) == {
        "table:agent_dummy_events"
    }


def test_new_topics_endpoints_and_event_types_without_tests_are_reported() -> None:
    """A dummy topic, endpoint or event type added to the inventory shows up as a gap."""

    dummy_api = {"paths": {"/dummy": {"get": {}, "parameters": []}}}
    dummies = {"topic:dummy-topic", "event:dummy_event"} | endpoint_items(dummy_api)
    assert dummies == {"topic:dummy-topic", "event:dummy_event", "endpoint:GET /dummy"}
    inventory = topic_items() | event_items()
    covered = covered_items()
    assert set(missing(inventory | dummies, covered)) - set(missing(inventory, covered)) == dummies


def test_covers_marks_are_found_in_decorators_and_pytestmark(tmp_path: Path) -> None:
    """The scanner reads both @pytest.mark.covers decorators and module-level pytestmark."""
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        'pytestmark = [pytest.mark.covers("topic:a")]\n'
        '@pytest.mark.covers("table:b", "event:c")\n'
        "def test_x():\n    pass\n"
        "def helper():\n    pass\n"
    )
    found = covered_items([tmp_path])
    assert found == {
        "topic:a": ["test_sample.py::test_x"],
        "table:b": ["test_sample.py::test_x"],
        "event:c": ["test_sample.py::test_x"],
    }


def test_every_covers_mark_is_readable() -> None:
    """covers() marks use literal kind:name strings, so the matrix cannot be fooled."""
    problems = covers_problems()
    assert not problems, "unreadable covers marks:\n" + "\n".join(problems)
