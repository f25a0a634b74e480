"""The viewer's query functions: parameters passed, rows shaped (SQL itself: integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniclaude.api.viewer import queries


class RecordingDB:
    """Records every statement and its arguments; answers from a table of canned rows."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        self.calls.append((query, args))
        return self.answers.get(query, [])

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.calls.append((query, args))
        return 7


def test_like_wildcards_are_escaped() -> None:
    """%, _ and backslash match themselves in a search."""
    assert queries.escape_like(r"100%_a\b") == r"100\%\_a\\b"


async def test_list_passes_every_filter_as_a_parameter() -> None:
    """No value is formatted into SQL: each filter is a parameter, the limit one more."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cid = uuid.uuid4()
    flt = queries.ExecutionFilter(
        since=now - timedelta(hours=1), until=now, agent="a", status="failed", text=" 50% ",
        roots_only=True, before=(now, cid), limit=10,
    )  # fmt: skip
    db = RecordingDB()
    rows, total = await queries.list_executions(db, flt)
    assert (rows, total) == ([], 7)
    (list_sql, list_args), (count_sql, count_args) = db.calls
    assert count_sql == queries._COUNT_SQL
    assert list_sql == queries._LIST_SQL
    assert list_args == (flt.since, now, "a", "failed", r"50\%", "50%", True, now, cid, 11)
    assert count_args == list_args[:7]


async def test_a_trace_reads_each_table_for_the_whole_tree() -> None:
    """Descendants found by the tree query are included in every table's query."""
    root, child = uuid.uuid4(), uuid.uuid4()
    db = RecordingDB(
        {
            queries._TREE_SQL: [
                {"correlation_id": root, "agent_name": "a", "depth": 0},
                {"correlation_id": child, "agent_name": "b", "depth": 1},
                {"correlation_id": None, "depth": 0},
            ],
            queries._ACTIONS_SQL: [{"event_id": 1, "correlation_id": child}],
        }
    )
    trace = await queries.fetch_trace(db, root)
    assert [e["correlation_id"] for e in trace.executions] == [root, child]
    assert trace.actions == [{"event_id": 1, "correlation_id": child}]
    assert all(args[0] == [root, child] for sql, args in db.calls[1:]), db.calls
    assert not trace.empty


@pytest.mark.parametrize("source", queries.EVENT_SOURCES)
async def test_event_details_by_source(source: str) -> None:
    """Each source reads its own table; an execution also brings its lifecycle."""
    event_id = uuid.uuid4()
    db = RecordingDB({queries._DETAIL_SQL[source]: [{"x": 1}], queries._LIFECYCLE_SQL: [{"y": 2}]})
    row = await queries.fetch_event(db, source, event_id)
    assert row is not None
    assert row["x"] == 1
    assert ("lifecycle" in row) == (source == "execution")
    assert await queries.fetch_event(RecordingDB(), source, event_id) is None


async def test_agents_are_listed_from_the_window() -> None:
    """The agent filter's choices are the names seen in the window."""
    db = RecordingDB({queries._AGENTS_SQL: [{"agent_name": "a"}, {"agent_name": "b"}]})
    assert await queries.list_agents(db, datetime(2026, 1, 1, tzinfo=UTC)) == ["a", "b"]
