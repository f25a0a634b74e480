"""``omniclaude export`` and ``omniclaude import`` against real PostgreSQL: an export re-imports
to the same rows (counts and content), a second import adds nothing, CSV quotes what needs
quoting, Parquet has the declared schema, and the window is ``since <= created_at < until``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from omniclaude.storage.pool import connect
from omniclaude.storage.queries.export import EXPORT_TABLES, SUMMARY_TABLE, export_order
from tests.integration.export.data import (
    ACTIONS,
    SINCE,
    TRICKY,
    UNTIL,
    cli,
    run_cli,
    seed,
    window,
)

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_execution_events",
    "table:agent_transformation_events",
    "table:agent_llm_calls",
    "table:agent_metric_points",
    "table:agent_execution_logs",
)


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


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
async def test_an_export_reimports_to_the_same_rows_and_twice_adds_nothing(
    database_url: str, second_database_url: str, tmp_path: Path, fmt: str
) -> None:
    """Every table exported (one file each) and imported into an empty database gives the
    same counts and the same content; importing the same files again adds no row."""
    await seed(database_url)
    out = tmp_path / "export"
    await run_cli(database_url, "export", *window(), "--format", fmt, "--output", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in EXPORT_TABLES)
    source = await _contents(database_url)
    assert len(source["agent_actions"]) == ACTIONS, "the action at `until` is outside"
    assert all(source.values()), f"a table without rows: {[t for t, r in source.items() if not r]}"

    first = await run_cli(second_database_url, "import", str(out))
    assert f"agent_actions: {ACTIONS:,} rows read, {ACTIONS:,} added" in first.output
    assert f"{SUMMARY_TABLE}: 40 rows not written (rebuilt from" in first.output
    copied = await _contents(second_database_url)
    for table, rows in source.items():
        assert len(copied[table]) == len(rows), f"{table}: {len(copied[table])} of {len(rows)}"
        assert copied[table] == rows, f"{table}: a row differs after the round trip"

    again = await run_cli(second_database_url, "import", str(out))
    assert f"{ACTIONS:,} rows read, 0 added ({ACTIONS:,} already stored)" in again.output
    assert await _contents(second_database_url) == source, "a second import changed rows"


async def test_csv_quotes_commas_quotes_newlines_and_keeps_null_apart_from_empty(
    database_url: str, tmp_path: Path
) -> None:
    """The CSV has the exported columns as header; text with commas, quotes, newlines and
    non-ASCII comes back intact; NULL is an unquoted empty field, "" a quoted one; JSON
    columns and arrays are JSON text."""
    await seed(database_url)
    path = tmp_path / "actions.csv"
    await run_cli(
        database_url, "export", *window(), "--format", "csv", "--table", "agent_actions",
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
    await run_cli(
        database_url, "export", *window(), "--format", "csv",
        "--table", "agent_routing_decisions", "--output", str(routing),
    )  # fmt: skip
    first = next(csv.DictReader(io.StringIO(routing.read_text("utf-8"), newline="")))
    assert json.loads(first["matched_triggers"]) == ["do", 'say "hi"']
    assert first["confidence_score"] == "0.8125"


async def test_parquet_has_the_declared_schema(database_url: str, tmp_path: Path) -> None:
    """pyarrow reads the Parquet file: times are timestamp[us, UTC], ids and JSON strings,
    arrays list<string>, numeric exact decimals; row groups of at most 10,000 rows."""
    await seed(database_url)
    await run_cli(database_url, "export", *window(), "--format", "parquet", "-o", str(tmp_path))
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
    output takes one table, and no progress bar is drawn where stderr is not a terminal."""
    await seed(database_url)
    result = await run_cli(
        database_url, "export", *window(), "--table", "agent_actions", "--output", "-"
    )
    assert "━" not in result.output, "a progress bar drawn where stderr is no terminal"
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
    result = await asyncio.to_thread(cli, database_url, "export", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


async def test_import_refuses_what_is_not_an_export(database_url: str, tmp_path: Path) -> None:
    """A file of an unknown table, a line that is not a row of its table and a CSV file are
    refused with the file and line named; nothing of a bad batch is written."""
    bad = tmp_path / "agent_actions.jsonl"
    bad.write_text('{"event_id": "x"}\n')
    result = await asyncio.to_thread(cli, database_url, "import", str(bad))
    assert result.exit_code == 2
    assert "line 1: unknown column" in result.output or "line 1: no " in result.output
    for name, message in (("other.jsonl", "table 'other' is not one of"),
                          ("agent_actions.csv", "CSV is not read back")):  # fmt: skip
        path = tmp_path / name
        path.write_text("a\n")
        result = await asyncio.to_thread(cli, database_url, "import", str(path))
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
