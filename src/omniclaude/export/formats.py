"""The export formats: rows of the read layer's export (``storage.queries.export``) to bytes.

One :class:`Encoder` per file (or HTTP response), fed one chunk of rows at a time, each
chunk encoded on its own (bounded memory; safe to run in a worker thread, one call at a time):

* **jsonl**: one JSON object per line, as PostgreSQL writes it (exact numerics, UTC ISO-8601
  times, JSON columns nested, arrays as arrays).
* **csv**: RFC 4180 through Arrow's CSV writer: a header row, every string quoted (``"``
  doubled inside), an empty unquoted field for NULL (so NULL and ``""`` differ, as in
  PostgreSQL's ``COPY``), times ``2026-12-02 07:05:37.123456Z``, JSON columns and arrays as
  JSON text, UTF-8.
* **parquet**: one row group per chunk, zstd-compressed; ids and JSON columns are strings
  (JSON text), arrays ``list<string>``, times ``timestamp[us, UTC]``, ``numeric(p,s)``
  ``decimal128(p,s)`` (exact). The footer comes last: a file is readable once complete.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from omniclaude.storage.queries.export import Column, Shape

__all__ = [
    "MEDIA_TYPES",
    "Encoder",
    "Format",
    "arrow_schema",
    "make_encoder",
]


class Format(StrEnum):
    """An export format (also the file extension)."""

    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


MEDIA_TYPES: Final[dict[Format, str]] = {
    Format.JSONL: "application/x-ndjson",
    Format.CSV: "text/csv; charset=utf-8",
    Format.PARQUET: "application/vnd.apache.parquet",
}
"""The ``Content-Type`` of each format."""

CHUNK_ROWS: Final[dict[Format, int]] = {
    Format.JSONL: 1000,
    Format.CSV: 1000,
    Format.PARQUET: 10_000,
}
"""Rows per chunk (a Parquet row group: large enough to compress and scan well)."""

_SCALARS: Final[dict[str, pa.DataType]] = {
    "uuid": pa.string(),
    "text": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "boolean": pa.bool_(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}


def _arrow_type(column: Column, *, flat: bool) -> pa.DataType:
    kind = column.type
    if kind.endswith("[]"):
        return (
            pa.string()
            if flat
            else pa.list_(_arrow_type(Column(column.name, kind[:-2]), flat=True))
        )
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind.startswith("numeric(") and kind.endswith(")"):
        precision, _, scale = kind[len("numeric(") : -1].partition(",")
        return pa.decimal128(int(precision), int(scale or 0))
    raise LookupError(f"{column.name}: no export type for the column type {kind!r}")


def arrow_schema(table: str, columns: Sequence[Column], *, flat: bool = False) -> pa.Schema:
    """The Arrow schema of ``table``'s export (``flat``: arrays as JSON text, for CSV).

    The schema's metadata names the table and the JSON-text columns (``omniclaude.table``,
    ``omniclaude.json_columns``), which the re-import reads back.

    Raises:
        LookupError: a column of a type the export does not know.
    """
    fields = [pa.field(c.name, _arrow_type(c, flat=flat)) for c in columns]
    json_columns = [c.name for c in columns if c.is_json]
    metadata = {"omniclaude.table": table, "omniclaude.json_columns": json.dumps(json_columns)}
    return pa.schema(fields, metadata=metadata)


class Encoder(Protocol):
    """Turns chunks of rows into the bytes of one file."""

    shape: Shape
    """The row shape it takes from :func:`~omniclaude.storage.queries.export.stream_rows`."""
    chunk_rows: int
    """How many rows to give it at once."""

    def begin(self) -> bytes:
        """The bytes before any row (a header)."""
        ...

    def encode(self, rows: Sequence[Any]) -> bytes:
        """The bytes of one chunk of rows."""
        ...

    def end(self) -> bytes:
        """The bytes after the last row (a footer)."""
        ...


class _Sink:
    """A write-only file Arrow writes into; :meth:`drain` takes what was written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _JsonLines:
    shape = Shape.JSON
    chunk_rows = CHUNK_ROWS[Format.JSONL]

    def begin(self) -> bytes:
        return b""

    def encode(self, rows: Sequence[Any]) -> bytes:
        return ("\n".join(row[0] for row in rows) + "\n").encode() if rows else b""

    def end(self) -> bytes:
        return b""


def _batch(schema: pa.Schema, rows: Sequence[Any], lists_as_json: bool) -> pa.RecordBatch:
    arrays = []
    for index, field in enumerate(schema):
        values = [row[index] for row in rows]
        if lists_as_json and field.type == pa.string():
            values = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in values
            ]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _Csv:
    shape = Shape.VALUES
    chunk_rows = CHUNK_ROWS[Format.CSV]

    def __init__(self, table: str, columns: Sequence[Column]) -> None:
        self._schema = arrow_schema(table, columns, flat=True)
        self._sink = _Sink()
        options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
        self._writer = pa_csv.CSVWriter(self._sink, self._schema, write_options=options)

    def begin(self) -> bytes:
        return self._sink.drain()

    def encode(self, rows: Sequence[Any]) -> bytes:
        if rows:
            self._writer.write_batch(_batch(self._schema, rows, lists_as_json=True))
        return self._sink.drain()

    def end(self) -> bytes:
        self._writer.close()
        return self._sink.drain()


class _Parquet:
    shape = Shape.VALUES
    chunk_rows = CHUNK_ROWS[Format.PARQUET]

    def __init__(self, table: str, columns: Sequence[Column]) -> None:
        self._schema = arrow_schema(table, columns)
        self._sink = _Sink()
        self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd")

    def begin(self) -> bytes:
        return self._sink.drain()

    def encode(self, rows: Sequence[Any]) -> bytes:
        if rows:
            self._writer.write_batch(_batch(self._schema, rows, lists_as_json=False))
        return self._sink.drain()

    def end(self) -> bytes:
        self._writer.close()
        return self._sink.drain()


def make_encoder(fmt: Format, table: str, columns: Sequence[Column]) -> Encoder:
    """A fresh encoder of ``table``'s rows (``columns``: from ``export_columns``) in ``fmt``.

    Raises:
        LookupError: a column of a type the export does not know (CSV, Parquet).
    """
    if fmt is Format.JSONL:
        return _JsonLines()
    if fmt is Format.CSV:
        return _Csv(table, columns)
    return _Parquet(table, columns)
