"""The read layer's pure parts: the one filter, its window, cursors, short ids, and the
statements it composes (SQL behaviour itself: tests/integration/api/test_queries.py)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniclaude.events import ExecutionStatus
from omniclaude.storage import queries
from omniclaude.storage.queries import executions, filters, ids

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class RecordingDB:
    """Records every statement and its arguments; answers with ``rows`` (none for the LLM
    usage of a page: these executions made no LLM call)."""

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows = rows or []
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        self.calls.append((query, args))
        return [] if "agent_llm_calls" in query else self.rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self.calls.append((query, args))
        return None

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.calls.append((query, args))
        return None


def test_cursor_round_trip_and_refusals() -> None:
    """A cursor decodes to what it encoded; anything else is refused naming the field."""
    stamp, ident = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), uuid.uuid4()
    assert queries.decode_cursor(queries.encode_cursor(stamp, ident)) == (stamp, ident)
    naive = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{ident}".encode()).decode()
    for bad in ("!!!", base64.urlsafe_b64encode(b"x|y").decode(), naive):
        with pytest.raises(queries.InvalidCursorError, match=r"^after: "):
            queries.decode_cursor(bad, "after")


def test_the_window_is_half_open_and_defaults_to_24_hours() -> None:
    """No since: the range (24 h by default) before until; no until: now."""
    flt = queries.ExecutionFilter.build(now=NOW)
    assert (flt.since, flt.until) == (NOW - timedelta(hours=24), NOW)
    flt = queries.ExecutionFilter.build(range_="15m", until=NOW)
    assert flt.since == NOW - timedelta(minutes=15)
    since = NOW - timedelta(days=3)
    assert queries.ExecutionFilter.build(range_="1h", since=since, until=NOW).since == since


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"range_": "2w"}, "range"),
        ({"since": NOW, "until": NOW}, "since"),
        ({"since": datetime(2026, 1, 1)}, "since"),  # noqa: DTZ001 - the naive time refused
        ({"status": "completed"}, "status"),
    ],
)
def test_bad_filter_values_are_refused_naming_the_parameter(
    kwargs: dict[str, Any], field: str
) -> None:
    """An unknown range, an empty or naive window, a status outside the vocabulary."""
    with pytest.raises(queries.InvalidFilterError) as caught:
        queries.ExecutionFilter.build(**kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_the_status_vocabulary_is_the_databases() -> None:
    """The filter takes the stored statuses, nothing else."""
    flt = queries.ExecutionFilter.build(status="in_progress")
    assert flt.status is ExecutionStatus.IN_PROGRESS


def test_like_patterns_are_escaped() -> None:
    """User text never acts as a LIKE wildcard."""
    assert queries.escape_like("50%_a\\b") == "50\\%\\_a\\\\b"


def test_short_ids_are_hex_prefixes_of_uuids() -> None:
    """8+ hex digits (dashes ignored) are a short id; its range covers every UUID it starts."""
    cid = uuid.UUID("3f2a9c1e-4b7d-4e8f-9a0b-1c2d3e4f5a6b")
    assert ids.parse_id(str(cid)) == cid
    assert ids.parse_id("3F2A9C1E") == "3f2a9c1e"
    assert ids.parse_id("3f2a9c1e-4b") == "3f2a9c1e4b"
    low, high = filters.uuid_range("3f2a9c1e")
    assert low <= cid <= high
    assert (low, high) == (
        uuid.UUID("3f2a9c1e-0000-0000-0000-000000000000"),
        uuid.UUID("3f2a9c1e-ffff-ffff-ffff-ffffffffffff"),
    )
    assert ids.short_id(cid) == "3f2a9c1e"
    for bad in ("3f2a9c1", "not-an-id", "3f2a9c1g"):
        with pytest.raises(queries.InvalidFilterError, match=r"^correlation_id: "):
            ids.parse_id(bad)


async def test_an_ambiguous_short_id_names_the_candidates() -> None:
    """Two executions starting with the prefix: the error lists both and says what to do."""
    first = uuid.UUID("3f2a9c1e-0000-4000-8000-000000000001")
    second = uuid.UUID("3f2a9c1e-0000-4000-8000-000000000002")
    db = RecordingDB([{"correlation_id": first}, {"correlation_id": second}])
    with pytest.raises(queries.AmbiguousIdError) as caught:
        await queries.resolve_correlation_id(db, "3f2a9c1e", field="path.correlation_id")
    message = str(caught.value)
    assert message.startswith("path.correlation_id: '3f2a9c1e' is the start of several ids")
    assert str(first) in message
    assert str(second) in message
    full = uuid.uuid4()
    assert await queries.resolve_correlation_id(RecordingDB(), str(full)) == full


async def test_only_the_filters_set_reach_the_statement_and_all_as_parameters() -> None:
    """No value is formatted into SQL; an unset filter adds no condition."""
    db = RecordingDB()
    await queries.list_executions(db, queries.ExecutionFilter.build(now=NOW), limit=10)
    ((plain, args),) = db.calls
    assert args == (NOW - timedelta(hours=24), NOW, 11)
    assert "agent_name =" not in plain
    assert "ILIKE" not in plain

    parent = uuid.uuid4()
    flt = queries.ExecutionFilter.build(
        now=NOW, agent="a'; DROP TABLE x; --", status="failed", parent=parent,
        session="sess_1", text="3f2a9c1e", top_level=True,
    )  # fmt: skip
    after = (NOW - timedelta(minutes=5), uuid.uuid4())
    db = RecordingDB()
    await queries.list_executions(db, flt, limit=5, cursor=after)
    ((sql, args),) = db.calls
    assert "DROP TABLE" not in sql, "a value was formatted into the statement"
    assert executions.SEARCH_TEXT in sql, "text search does not use the indexed expression"
    assert args[2:6] == ("a'; DROP TABLE x; --", "failed", parent, "sess\\_1%")
    assert args[6:8] == ("%3f2a9c1e%", "3f2a9c1e%")
    assert args[8:10] == filters.uuid_range("3f2a9c1e")
    assert args[-3:] == (*after, 6)
    assert "l.parent_correlation_id IS NULL" in sql


async def test_a_page_cursor_is_the_last_row_position() -> None:
    """More rows than the limit: the cursor points after the last row shown."""
    rows = [
        {
            "correlation_id": uuid.uuid4(),
            "agent_name": "a",
            "status": "success",
            "created_at": NOW - timedelta(minutes=i),
            "last_event_at": NOW,
            "child_count": 0,
        }
        for i in range(3)
    ]
    page = await queries.list_executions(
        RecordingDB(rows), queries.ExecutionFilter.build(now=NOW), limit=2
    )
    assert [r.correlation_id for r in page.items] == [r["correlation_id"] for r in rows[:2]]
    assert page.next_cursor is not None
    assert queries.decode_cursor(page.next_cursor) == (
        rows[1]["created_at"],
        rows[1]["correlation_id"],
    )


def test_the_usage_query_resolves_its_window_like_every_list() -> None:
    """Same window rules; an unknown grouping is refused naming group_by."""
    query = queries.UsageQuery.build(now=NOW, group_by="model")
    assert (query.since, query.until) == (NOW - timedelta(hours=24), NOW)
    with pytest.raises(queries.InvalidFilterError, match=r"^group_by: "):
        queries.UsageQuery.build(group_by="week")
    assert queries.UsageQuery.build(now=NOW).limit == 1_000
    assert queries.UsageQuery.build(now=NOW, limit=10_000).limit == 10_000
    for wrong in (0, -1, 10_001):
        with pytest.raises(queries.InvalidFilterError, match=r"^limit: must be 1 to 10,000"):
            queries.UsageQuery.build(now=NOW, limit=wrong)
