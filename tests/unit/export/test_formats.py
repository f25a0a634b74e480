"""The export's pure parts: encoders (JSON lines, CSV, Parquet) chunk by chunk, the Arrow
schema of the column types, the re-import's file checks, and the CLI's option errors."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from omniclaude.cli import _register_all, app
from omniclaude.export import ExportFileError, Format, arrow_schema, make_encoder
from omniclaude.export.reimport import _jsonl_batches, _parquet_batches, files_of, import_order
from omniclaude.storage.queries import InvalidFilterError
from omniclaude.storage.queries.export import (
    EXPORT_TABLES,
    Column,
    ExportTable,
    Shape,
    _select,
    export_order,
)
from omniclaude.storage.writers import WRITERS

COLUMNS = [
    Column("event_id", "uuid"), Column("name", "text"), Column("details", "jsonb"),
    Column("tags", "text[]"), Column("score", "numeric(5,4)"), Column("n", "bigint"),
    Column("ok", "boolean"), Column("at", "timestamp with time zone"),
]  # fmt: skip
AT = datetime(2026, 12, 1, 12, 30, 1, 250000, tzinfo=UTC)
ROWS = [
    (str(uuid.UUID(int=1)), 'a, "b"\nc', '{"k": [1, 2]}', ["x", "y,z"], Decimal("0.1234"), 7,
     True, AT),
    (str(uuid.UUID(int=2)), "", None, [], None, None, None, AT),
]  # fmt: skip


def _bytes(fmt: Format, chunks: list[list[tuple[object, ...]]]) -> bytes:
    encoder = make_encoder(fmt, "t", COLUMNS)
    return encoder.begin() + b"".join(encoder.encode(c) for c in chunks) + encoder.end()


def test_every_exported_table_is_an_export_table_with_its_writer_columns() -> None:
    """The enum, the column lists and the writers agree; the order ends in the key."""
    assert {t.value for t in ExportTable} == set(EXPORT_TABLES)
    for table, columns in EXPORT_TABLES.items():
        if table in WRITERS:
            assert set(WRITERS[table].columns) <= set(columns), table
        assert "created_at" in columns
        assert export_order(table)[0] == "created_at"
    assert "ingested_at" not in {c for cols in EXPORT_TABLES.values() for c in cols}
    with pytest.raises(InvalidFilterError, match="table: must be one of"):
        export_order("api_keys")


def test_the_statements_read_ids_and_json_as_text_and_order_by_the_key() -> None:
    """``values`` casts ids and JSON to text; ``json`` wraps the row in row_to_json."""
    values = _select("agent_actions", COLUMNS, Shape.VALUES)
    assert "event_id::text AS event_id" in values
    assert "details::text AS details" in values
    assert "tags::text" not in values
    assert values.endswith("ORDER BY created_at, correlation_id, event_id")
    assert _select("agent_actions", COLUMNS, Shape.JSON).startswith("SELECT row_to_json(r)")


def test_jsonl_is_one_line_per_row_chunk_after_chunk() -> None:
    """The JSON-lines encoder joins PostgreSQL's row texts, one per line."""
    encoder = make_encoder(Format.JSONL, "t", COLUMNS)
    assert encoder.shape is Shape.JSON
    out = encoder.begin() + encoder.encode([('{"a": 1}',), ('{"a": "x\\ny"}',)])
    out += encoder.encode([]) + encoder.encode([('{"a": 3}',)]) + encoder.end()
    assert [json.loads(line)["a"] for line in out.decode().splitlines()] == [1, "x\ny", 3]


def test_csv_quotes_strings_keeps_null_apart_and_writes_json_text() -> None:
    """A header once; every string quoted; NULL empty and unquoted; arrays as JSON text."""
    data = _bytes(Format.CSV, [ROWS[:1], ROWS[1:]])
    text = data.decode()
    assert text.splitlines()[0] == '"event_id","name","details","tags","score","n","ok","at"'
    assert text.count('"event_id"') == 1, "the header is repeated per chunk"
    table = pa_csv.read_csv(
        io.BytesIO(data),
        convert_options=pa_csv.ConvertOptions(
            strings_can_be_null=True, quoted_strings_can_be_null=False,
            column_types={"name": pa.string(), "details": pa.string(), "tags": pa.string()},
        ),
    ).to_pylist()  # fmt: skip
    assert table[0]["name"] == 'a, "b"\nc'
    assert json.loads(table[0]["tags"]) == ["x", "y,z"]
    assert json.loads(table[0]["details"]) == {"k": [1, 2]}
    assert table[1]["name"] == "", "an empty string was read as NULL"
    assert table[1]["details"] is None, "NULL was written as text"
    assert "2026-12-01 12:30:01.250000Z" in text


def test_parquet_writes_a_row_group_per_chunk_with_the_declared_types() -> None:
    """Two chunks, two row groups; decimals exact, arrays lists, times UTC microseconds."""
    data = _bytes(Format.PARQUET, [ROWS[:1], ROWS[1:]])
    source = pq.ParquetFile(io.BytesIO(data))
    assert source.metadata.num_row_groups == 2
    schema = source.schema_arrow
    assert schema.field("score").type == pa.decimal128(5, 4)
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert json.loads(schema.metadata[b"omniclaude.json_columns"]) == ["details"]
    rows = source.read().to_pylist()
    assert rows[0]["score"] == Decimal("0.1234")
    assert rows[0]["tags"] == ["x", "y,z"]
    assert rows[0]["at"] == AT
    assert rows[1]["details"] is None


def test_an_unknown_column_type_is_refused_naming_the_column() -> None:
    """A type the export has no Arrow type for fails before any row is written."""
    with pytest.raises(LookupError, match=r"where: no export type for the column type 'point'"):
        arrow_schema("t", [Column("where", "point")])
    assert arrow_schema("t", [Column("n", "numeric(20,10)")]).field("n").type == pa.decimal128(
        20, 10
    )


def test_jsonl_import_names_the_line_and_the_column(tmp_path: Path) -> None:
    """Not JSON, not an object, an unknown or a missing column: the file and line named."""
    columns = EXPORT_TABLES["agent_actions"]
    good = json.dumps(dict.fromkeys(columns))
    cases = {
        "not JSON": "{nope",
        "not a JSON object": "[1]",
        "unknown column 'extra'": json.dumps({**dict.fromkeys(columns), "extra": 1}),
        "no 'action_details'": json.dumps({c: None for c in columns if c != "action_details"}),
    }
    for message, line in cases.items():
        path = tmp_path / "agent_actions.jsonl"
        path.write_text(f"{good}\n\n{line}\n")
        with pytest.raises(ExportFileError, match=f"line 3: {message}"):
            list(_jsonl_batches(path, "agent_actions", 10))
    path.write_text("\n".join([good] * 5) + "\n")
    assert [len(b) for b in _jsonl_batches(path, "agent_actions", 2)] == [2, 2, 1]


def test_parquet_import_checks_the_columns_and_parses_json_text(tmp_path: Path) -> None:
    """A Parquet file of other columns is refused; JSON-text columns come back parsed."""
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1]}), path)
    with pytest.raises(ExportFileError, match="unknown column 'x'"):
        list(_parquet_batches(path, "agent_actions", 10))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ExportFileError, match="not a Parquet file"):
        list(_parquet_batches(tmp_path / "bad.parquet", "agent_actions", 10))
    columns = [Column(name, "jsonb" if name == "action_details" else "text")
               for name in EXPORT_TABLES["agent_actions"]]  # fmt: skip
    encoder = make_encoder(Format.PARQUET, "agent_actions", columns)
    row = tuple('{"a": 1}' if c.name == "action_details" else "v" for c in columns)
    path.write_bytes(encoder.begin() + encoder.encode([row]) + encoder.end())
    (batch,) = list(_parquet_batches(path, "agent_actions", 10))
    assert batch[0]["action_details"] == {"a": 1}


def test_a_directory_imports_its_exports_lifecycle_before_summaries(tmp_path: Path) -> None:
    """A directory's export files, in table order; other files ignored; none is an error."""
    with pytest.raises(ExportFileError, match=r"no <table>\.jsonl"):
        files_of(tmp_path)
    for name in ("agent_execution_logs.jsonl", "agent_actions.parquet", "notes.txt",
                 "other.jsonl", "agent_execution_events.jsonl"):  # fmt: skip
        (tmp_path / name).write_text("")
    assert [p.name for p in files_of(tmp_path)] == [
        "agent_actions.parquet", "agent_execution_events.jsonl", "agent_execution_logs.jsonl",
    ]  # fmt: skip
    assert import_order([tmp_path / "zz.jsonl", tmp_path / "agent_llm_calls.jsonl"])[0].name == (
        "agent_llm_calls.jsonl"
    )
    with pytest.raises(ExportFileError, match="no such file or directory"):
        files_of(tmp_path / "missing")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--format", "xml"], "--format: 'xml' is not one of"),
        (["export", "--since", "soon"], "--since: 'soon' is neither a range"),
        (["export", "--until", "1h"], "--until: '1h' is a range"),
        (["export", "--since", "2026-12-02", "--until", "2026-12-01"], "--since: must be"),
        (["export", "--since", "0001-01-01"], "--since:"),
        (["export", "--table", "viewer_sessions"], "--table: 'viewer_sessions' is not one"),
        (["export", "-o", "-"], "--output: - (standard output) takes one table"),
        (["import", "/nonexistent/x.jsonl"], "PATH: /nonexistent/x.jsonl: no such file"),
    ],
)
def test_bad_cli_options_exit_2_naming_them(args: list[str], message: str) -> None:
    """Option errors are found before any database is needed."""
    _register_all()
    result = CliRunner().invoke(app, args, env={"OMNICLAUDE_DATABASE_URL": ""})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def test_output_paths(tmp_path: Path) -> None:
    """One table to a file, several to a directory (created), a file refused for several."""
    from omniclaude.cli.export import _targets

    assert _targets(["a"], str(tmp_path / "a.csv"), "csv") == {"a": tmp_path / "a.csv"}
    out = tmp_path / "dir"
    assert _targets(["a", "b"], str(out), "jsonl") == {
        "a": out / "a.jsonl", "b": out / "b.jsonl",
    }  # fmt: skip
    assert out.is_dir()
    assert _targets(["a"], "-", "jsonl") == {"a": None}
    (tmp_path / "file").write_text("")
    with pytest.raises(typer.Exit):
        _targets(["a", "b"], str(tmp_path / "file"), "csv")


def test_the_help_names_every_table() -> None:
    """``export --help`` lists the tables it can export (kept in step with the read layer)."""
    _register_all()
    result = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for table in EXPORT_TABLES:
        assert table in result.output, f"{table} missing from export --help"
