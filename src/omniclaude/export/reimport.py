"""Read an export back into a database, through the idempotent writers.

A JSON-lines or Parquet file of one table (named ``<table>.jsonl`` / ``<table>.parquet`` as
``omniclaude export`` names them, or told with ``table=``), or a directory of them. Rows go
in batches through :meth:`~omniclaude.storage.writers.TableWriter.write_records`: the
partitions they need are made, LLM calls aligned, and a row already stored adds nothing, so
importing the same file twice adds no row the second time. Every batch is one transaction.

``agent_execution_logs`` is not written: the summaries are maintained from the lifecycle
events (``agent_execution_events``) by the database's trigger, so importing those rebuilds
them (and the rollups); a summaries file is reported as skipped. CSV is for other tools and
is not read back (NULL and text are told apart only by quoting).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

from omniclaude.errors import OmniClaudeError
from omniclaude.export.formats import Format
from omniclaude.storage.partitions import PartitionCache
from omniclaude.storage.queries.export import EXPORT_TABLES, SUMMARY_TABLE
from omniclaude.storage.writers import WRITERS

__all__ = ["BATCH_ROWS", "ExportFileError", "ImportResult", "import_file", "import_path"]

BATCH_ROWS: Final = 1000
"""Rows per transaction."""

_SUFFIXES: Final = {".jsonl": Format.JSONL, ".ndjson": Format.JSONL, ".parquet": Format.PARQUET}


class ExportFileError(OmniClaudeError, ValueError):
    """A file cannot be imported; the message names the file, and the line or column."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What importing one file did."""

    path: Path
    table: str
    rows: int
    """Rows read from the file."""
    added: int
    """Rows that were not stored yet (0 for a second import of the same file)."""
    skipped: str | None = None
    """Why the file was not written (the summaries), else None."""


def _table_of(path: Path, table: str | None) -> str:
    name = table or path.name.split(".", 1)[0]
    if name not in EXPORT_TABLES:
        raise ExportFileError(
            f"{path}: table {name!r} is not one of {', '.join(EXPORT_TABLES)} "
            "(name the file <table>.jsonl or pass the table)"
        )
    return name


def _format_of(path: Path) -> Format:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ExportFileError(
            f"{path}: cannot import {path.suffix or 'a file without extension'} "
            "(jsonl or parquet only; CSV is not read back)"
        )
    return fmt


def _jsonl_batches(path: Path, table: str, batch_rows: int) -> Iterator[list[dict[str, Any]]]:
    expected = set(EXPORT_TABLES[table])
    batch: list[dict[str, Any]] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ExportFileError(f"{path}: line {number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ExportFileError(f"{path}: line {number}: not a JSON object")
            if record.keys() != expected:
                unknown = sorted(set(record) - expected)
                missing = sorted(expected - set(record))
                what = f"unknown column {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
                raise ExportFileError(f"{path}: line {number}: {what} (a {table} row)")
            batch.append(record)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
    if batch:
        yield batch


def _parquet_batches(path: Path, table: str, batch_rows: int) -> Iterator[list[dict[str, Any]]]:
    try:
        source = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise ExportFileError(f"{path}: not a Parquet file ({exc})") from None
    expected = set(EXPORT_TABLES[table])
    names = set(source.schema_arrow.names)
    if names != expected:
        unknown, missing = sorted(names - expected), sorted(expected - names)
        what = f"unknown column {unknown[0]!r}" if unknown else f"no column {missing[0]!r}"
        raise ExportFileError(f"{path}: {what} (a {table} export)")
    meta = source.schema_arrow.metadata or {}
    json_columns = json.loads(meta.get(b"omniclaude.json_columns", b"[]"))
    for batch in source.iter_batches(batch_size=batch_rows):
        records = batch.to_pylist()
        for record in records:
            for column in json_columns:
                text = record[column]
                if text is not None:
                    record[column] = json.loads(text)
        yield records


async def import_file(
    conn: Any,
    path: Path,
    *,
    table: str | None = None,
    batch_rows: int = BATCH_ROWS,
    partitions: PartitionCache | None = None,
    advance: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import one export file (see the module docstring).

    Args:
        conn: an ``asyncpg.Connection`` with the shared codecs.
        path: a ``.jsonl`` or ``.parquet`` file.
        table: its table (default: from the file name).
        batch_rows: rows per transaction.
        partitions: what is known of the partitions (default: ask the catalogue).
        advance: told how many rows each batch held (a progress bar).

    Raises:
        ExportFileError: not an export of a known table, or a malformed line (names it).
        asyncpg.PostgresError: the database refused a row (the batch is not written).
    """
    name = _table_of(path, table)
    fmt = _format_of(path)
    if not path.is_file():  # noqa: ASYNC240 - the CLI's own loop; files are read in it too
        raise ExportFileError(f"{path}: no such file")
    batches = (_jsonl_batches if fmt is Format.JSONL else _parquet_batches)(path, name, batch_rows)
    if name == SUMMARY_TABLE:
        rows = sum(len(batch) for batch in batches)
        return ImportResult(path, name, rows, 0, "rebuilt from agent_execution_events")
    writer = WRITERS[name]
    partitions = partitions if partitions is not None else PartitionCache()
    rows = added = 0
    for batch in batches:
        try:
            async with conn.transaction():
                added += await writer.write_records(conn, batch, partitions)
        except ValueError as exc:
            raise ExportFileError(f"{path}: rows {rows + 1}..{rows + len(batch)}: {exc}") from exc
        rows += len(batch)
        if advance is not None:
            advance(len(batch))
    return ImportResult(path, name, rows, added)


def import_order(paths: list[Path]) -> list[Path]:
    """Export files in the order to import them: the event tables first (the summaries'
    lifecycle events before anything), then anything else."""
    rank = {table: index for index, table in enumerate(EXPORT_TABLES)}
    return sorted(paths, key=lambda p: (rank.get(p.name.split(".", 1)[0], len(rank)), p.name))


def files_of(path: Path) -> list[Path]:
    """The files an import of ``path`` reads: ``path`` itself, or a directory's exports.

    Raises:
        ExportFileError: a directory without any ``<table>.jsonl``/``.parquet``, or no such path.
    """
    if path.is_dir():
        found = [
            p for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in _SUFFIXES
            and p.name.split(".", 1)[0] in EXPORT_TABLES
        ]  # fmt: skip
        if not found:
            raise ExportFileError(f"{path}: no <table>.jsonl or <table>.parquet file in it")
        return import_order(found)
    if not path.exists():
        raise ExportFileError(f"{path}: no such file or directory")
    return [path]


async def import_path(
    conn: Any,
    path: Path,
    *,
    table: str | None = None,
    batch_rows: int = BATCH_ROWS,
    advance: Callable[[Path], Callable[[int], object] | None] | None = None,
) -> list[ImportResult]:
    """Import a file, or every export file of a directory (see :func:`files_of`).

    Args:
        advance: given each file before it is read, returns its progress callback.
    """
    partitions = PartitionCache()
    return [
        await import_file(
            conn, file, table=table, batch_rows=batch_rows, partitions=partitions,
            advance=advance(file) if advance is not None else None,
        )
        for file in files_of(path)
    ]  # fmt: skip
