"""``omniclaude export`` and ``omniclaude import`` against real PostgreSQL: an export re-imports
to the same rows (counts and content), a second import adds nothing, CSV quotes what needs
quoting, Parquet has the declared schema, and the window is ``since <= created_at < until``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from omniclaude.cli import _register_all, app
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
    llm_call_id,
)
from omniclaude.storage.pool import connect
from omniclaude.storage.queries.export import EXPORT_TABLES, SUMMARY_TABLE, export_order
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_execution_events",
    "table:agent_transformation_events",
    "table:agent_llm_calls",
    "table:agent_execution_logs",
)

SINCE = datetime(2026, 11, 28, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
ACTIONS = 5000
TRICKY = ('comma, "quoted" and\nnewline', "naïve café — ☃ 日本", "", "tab\there", "back\\slash")
"""Text the CSV must carry intact (an empty string is not NULL)."""


def _execution(index: int, at: datetime) -> list[EventBase]:
    """Every event type of one execution at ``at`` (three of four finish; one fails)."""
    cid = uuid.UUID(int=index + 1)
    end = at + timedelta(seconds=40)
    events: list[EventBase] = [
        ExecutionStarted(correlation_id=cid, agent_name=f"agent-{index % 3}", timestamp=at,
                         user_prompt=TRICKY[index % len(TRICKY)] + f" #{index}",
                         session_id=f"s-{index % 4}", metadata={"n": index}),
        ExecutionProgress(correlation_id=cid, stage="working", percent=50,
                          timestamp=at + timedelta(seconds=1)),
        RoutingDecision(correlation_id=cid, user_request=f"do {index}, \"now\"",
                        selected_agent="agent-1", confidence_score=Decimal("0.8125"),
                        routing_strategy="enhanced", routing_time_ms=1.5,
                        alternatives=[{"agent_name": "agent-2", "confidence": 0.25}],
                        matched_triggers=["do", 'say "hi"'], timestamp=at),
        ManifestInjection(correlation_id=cid, agent_name="agent-1",
                          sections=[{"name": "agent_definition", "size_bytes": 120,
                                     "source": "registry", "query_time_ms": 0.5}],
                          total_query_time_ms=0.5, timestamp=at + timedelta(seconds=2)),
        AgentTransformation(correlation_id=cid, source_agent="polymorphic-agent",
                            target_agent="agent-1", transformation_reason="specialise",
                            confidence=Decimal("0.75"), timestamp=at + timedelta(seconds=3)),
        LlmCall(event_id=llm_call_id(request_id=f"req_{index}", message_id=f"msg_{index}"),
                correlation_id=cid, model="claude-sonnet-4-5", provider="anthropic",
                input_tokens=12, output_tokens=345 + index, cache_read_input_tokens=20000,
                request_id=f"req_{index}", message_id=f"msg_{index}",
                tool_use_ids=["toolu_1", "toolu,2"], duration_ms=2500.0,
                cost_usd=0.0123456789, cost_source="estimate", source="transcript",
                timestamp=at + timedelta(seconds=5), started_at=at + timedelta(seconds=2.5)),
    ]  # fmt: skip
    if index % 4 == 3:
        events.append(ExecutionFailed(correlation_id=cid, timestamp=end, error_type="Boom",
                                      error_message="disk, \"full\"\n"))  # fmt: skip
    else:
        events.append(ExecutionCompleted(correlation_id=cid, timestamp=end,
                                         result={"files": index}))  # fmt: skip
    return events


def _dataset() -> list[EventBase]:
    """5000 actions and 40 executions over three days (three partitions), tricky text, one
    action exactly at ``SINCE`` and one exactly at ``UNTIL`` (outside the window)."""
    events: list[EventBase] = []
    span = (UNTIL - SINCE).total_seconds()
    for i in range(40):
        events += _execution(i, SINCE + timedelta(seconds=span * i / 40 + 5))
    for i in range(ACTIONS):
        at = SINCE + timedelta(seconds=span * i / ACTIONS)
        events.append(AgentAction(
            correlation_id=uuid.UUID(int=(i % 40) + 1), agent_name=None if i % 7 == 0 else "a",
            action_type="tool_call", action_name=TRICKY[i % len(TRICKY)] or "x",
            action_details={"command": TRICKY[i % len(TRICKY)], "i": i, "ok": i % 2 == 0},
            duration_ms=None if i % 5 == 0 else i / 8, session_id=TRICKY[i % len(TRICKY)],
            tool_use_id=f"toolu_{i}", timestamp=at,
        ))  # fmt: skip
    events.append(AgentAction(correlation_id=uuid.UUID(int=1), action_type="decision",
                              action_name="at-until", timestamp=UNTIL))  # fmt: skip
    return events


async def _seed(url: str) -> None:
    conn = await connect(url)
    try:
        events = _dataset()
        for start in range(0, len(events), 1000):
            await write_events(conn, events[start : start + 1000])
    finally:
        await conn.close()


async def _contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every exported column of every row in the window, per table, in export order (the
    summaries without ``execution_id``, which each database draws itself)."""
    conn = await connect(url)
    try:
        out = {}
        for table, columns in EXPORT_TABLES.items():
            chosen = [c for c in columns if c != "execution_id"]
            order = ", ".join(export_order(table))
            rows = await conn.fetch(
                f"SELECT {', '.join(chosen)} FROM {table} "
                f"WHERE created_at >= $1 AND created_at < $2 ORDER BY {order}",
                SINCE, UNTIL,
            )  # fmt: skip
            out[table] = [tuple(row) for row in rows]
        return out
    finally:
        await conn.close()


def _cli(url: str, *args: str) -> Result:
    """Run the CLI (call it in a thread of its own: it runs its own event loop)."""
    _register_all()
    env = {"OMNICLAUDE_DATABASE_URL": url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


async def _run_cli(url: str, *args: str) -> Result:
    result = await asyncio.to_thread(_cli, url, *args)
    assert result.exit_code == 0, f"omniclaude {' '.join(args)}: {result.output}"
    return result


def _window() -> tuple[str, ...]:
    return ("--since", SINCE.isoformat(), "--until", UNTIL.isoformat())


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
async def test_an_export_reimports_to_the_same_rows_and_twice_adds_nothing(
    database_url: str, second_database_url: str, tmp_path: Path, fmt: str
) -> None:
    """Every table exported (one file each) and imported into an empty database gives the
    same counts and the same content; importing the same files again adds no row."""
    await _seed(database_url)
    out = tmp_path / "export"
    await _run_cli(database_url, "export", *_window(), "--format", fmt, "--output", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in EXPORT_TABLES)
    source = await _contents(database_url)
    assert len(source["agent_actions"]) == ACTIONS, "the action at `until` is outside"
    assert all(source.values()), f"a table without rows: {[t for t, r in source.items() if not r]}"

    first = await _run_cli(second_database_url, "import", str(out))
    assert f"agent_actions: {ACTIONS:,} rows read, {ACTIONS:,} added" in first.output
    assert f"{SUMMARY_TABLE}: 40 rows not written (rebuilt from" in first.output
    copied = await _contents(second_database_url)
    for table, rows in source.items():
        assert len(copied[table]) == len(rows), f"{table}: {len(copied[table])} of {len(rows)}"
        assert copied[table] == rows, f"{table}: a row differs after the round trip"

    again = await _run_cli(second_database_url, "import", str(out))
    assert f"{ACTIONS:,} rows read, 0 added ({ACTIONS:,} already stored)" in again.output
    assert await _contents(second_database_url) == source, "a second import changed rows"


async def test_csv_quotes_commas_quotes_newlines_and_keeps_null_apart_from_empty(
    database_url: str, tmp_path: Path
) -> None:
    """The CSV has the exported columns as header; text with commas, quotes, newlines and
    non-ASCII comes back intact; NULL is an unquoted empty field, "" a quoted one; JSON
    columns and arrays are JSON text."""
    await _seed(database_url)
    path = tmp_path / "actions.csv"
    await _run_cli(
        database_url, "export", *_window(), "--format", "csv", "--table", "agent_actions",
        "--output", str(path),
    )  # fmt: skip
    raw = path.read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert list(rows[0]) == list(EXPORT_TABLES["agent_actions"])
    assert len(rows) == ACTIONS
    for i, row in enumerate(rows):
        assert row["action_name"] == (TRICKY[i % len(TRICKY)] or "x"), f"row {i}"
        assert row["session_id"] == TRICKY[i % len(TRICKY)], f"row {i}: {row['session_id']!r}"
        assert json.loads(row["action_details"])["command"] == TRICKY[i % len(TRICKY)]
        assert row["created_at"].endswith("Z"), row["created_at"]
    typed = pa_csv.read_csv(
        io.BytesIO(raw.encode()),
        convert_options=pa_csv.ConvertOptions(
            strings_can_be_null=True, quoted_strings_can_be_null=False,
            column_types={"agent_name": pa.string(), "session_id": pa.string()},
        ),
    ).to_pydict()  # fmt: skip
    for i in range(len(TRICKY) * 7):
        assert typed["agent_name"][i] == (None if i % 7 == 0 else "a"), f"row {i}: NULL vs text"
        assert typed["session_id"][i] == TRICKY[i % len(TRICKY)], f"row {i}: '' read as NULL"

    routing = tmp_path / "routing.csv"
    await _run_cli(
        database_url, "export", *_window(), "--format", "csv",
        "--table", "agent_routing_decisions", "--output", str(routing),
    )  # fmt: skip
    first = next(csv.DictReader(io.StringIO(routing.read_text("utf-8"), newline="")))
    assert json.loads(first["matched_triggers"]) == ["do", 'say "hi"']
    assert first["confidence_score"] == "0.8125"


async def test_parquet_has_the_declared_schema(database_url: str, tmp_path: Path) -> None:
    """pyarrow reads the Parquet file: times are timestamp[us, UTC], ids and JSON strings,
    arrays list<string>, numeric exact decimals; row groups of at most 10,000 rows."""
    await _seed(database_url)
    await _run_cli(database_url, "export", *_window(), "--format", "parquet", "-o", str(tmp_path))
    llm = pq.ParquetFile(tmp_path / "agent_llm_calls.parquet")
    schema = llm.schema_arrow
    assert schema.names == list(EXPORT_TABLES["agent_llm_calls"])
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("event_id").type == pa.string()
    assert schema.field("cost_usd").type == pa.decimal128(20, 10)
    assert schema.field("tool_use_ids").type == pa.list_(pa.string())
    assert schema.field("input_tokens").type == pa.int64()
    assert schema.field("usage").type == pa.string()
    table = llm.read()
    assert table.num_rows == 40
    assert table.column("cost_usd")[0].as_py() == Decimal("0.0123456789")
    assert table.column("tool_use_ids")[0].as_py() == ["toolu_1", "toolu,2"]
    actions = pq.ParquetFile(tmp_path / "agent_actions.parquet")
    assert actions.metadata.num_rows == ACTIONS
    assert actions.metadata.num_row_groups >= 3, "one row group per partition chunk at least"
    assert all(
        actions.metadata.row_group(i).num_rows <= 10_000
        for i in range(actions.metadata.num_row_groups)
    )
    details = json.loads(actions.read(columns=["action_details"]).column(0)[1].as_py())
    assert details["i"] == 1


async def test_the_window_is_since_inclusive_until_exclusive(
    database_url: str, tmp_path: Path
) -> None:
    """An action at exactly ``since`` is exported, one at exactly ``until`` is not; standard
    output takes one table."""
    await _seed(database_url)
    result = await _run_cli(
        database_url, "export", *_window(), "--table", "agent_actions", "--output", "-"
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == ACTIONS
    assert datetime.fromisoformat(lines[0]["created_at"]) == SINCE
    assert all(datetime.fromisoformat(r["created_at"]) < UNTIL for r in lines)
    keys = [(r["created_at"], r["correlation_id"], r["event_id"]) for r in lines]
    assert keys == sorted(keys), "rows are not in (created_at, correlation_id, event_id) order"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xml"), "--format: 'xml' is not one of jsonl, csv, parquet"),
        (("--since", "yesterday"), "--since: 'yesterday' is neither a range"),
        (("--since", "2026-12-02", "--until", "2026-12-01"), "--since: must be earlier"),
        (("--until", "7d"), "--until: '7d' is a range"),
        (("--table", "api_keys"), "--table: 'api_keys' is not one of agent_actions"),
        (("--output", "-"), "--output: - (standard output) takes one table"),
    ],
)
async def test_bad_options_are_refused_naming_them(
    database_url: str, args: tuple[str, ...], message: str
) -> None:
    """Each bad option exits 2 with one line naming it, before anything is read."""
    result = await asyncio.to_thread(_cli, database_url, "export", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


async def test_import_refuses_what_is_not_an_export(database_url: str, tmp_path: Path) -> None:
    """A file of an unknown table, a line that is not a row of its table and a CSV file are
    refused with the file and line named; nothing of a bad batch is written."""
    bad = tmp_path / "agent_actions.jsonl"
    bad.write_text('{"event_id": "x"}\n')
    result = await asyncio.to_thread(_cli, database_url, "import", str(bad))
    assert result.exit_code == 2
    assert "line 1: unknown column" in result.output or "line 1: no " in result.output
    for name, message in (("other.jsonl", "table 'other' is not one of"),
                          ("agent_actions.csv", "CSV is not read back")):  # fmt: skip
        path = tmp_path / name
        path.write_text("a\n")
        result = await asyncio.to_thread(_cli, database_url, "import", str(path))
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
