"""Scan a whole database for PII and secrets that should have been redacted.

Every text, varchar, text[] and JSON column of every table in the ``public`` schema is read
and checked with the SDK's own redactor (:mod:`omniclaude.publishing.redaction`): a value
leaks when redacting it again would change it — a string one of ``DEFAULT_PATTERNS``
matches (cards only when Luhn-valid), a JSON value under a sensitive key that is not the
marker, or a Luhn-valid card number stored as a JSON integer. Redaction is idempotent, so
anything that went through a sink is clean by construction; a hit means some path wrote
without redacting.

Each :class:`Leak` names the table, column, row (``event_id`` or the first key column), the
JSON path and the pattern, never the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from omniclaude.publishing.redaction import DEFAULT_PATTERNS, REDACTED, Redactor, luhn_valid

__all__ = ["TEXT_TYPES", "Leak", "find_leaks", "pattern_names", "scan_database"]

TEXT_TYPES = frozenset({"text", "character varying", "json", "jsonb", "_text", "_varchar"})
"""Column types (``udt_name`` for arrays, ``data_type`` otherwise) the scan reads."""
_ID_COLUMNS = ("event_id", "key_id", "correlation_id", "id")
_SKIP_TABLES = frozenset({"alembic_version"})
_REDACTOR = Redactor()
_COMPILED = {name: re.compile(pattern) for name, pattern in DEFAULT_PATTERNS.items()}


@dataclass(frozen=True, slots=True)
class Leak:
    """One value that should have been redacted."""

    table: str
    column: str
    row: str
    path: str
    kind: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}{self.path}"
        return f"{where} of row {self.row}: {self.kind}"


def pattern_names(text: str) -> list[str]:
    """The names of the default patterns ``text`` holds (``card_number`` only if Luhn-valid)."""
    names = []
    for name, pattern in _COMPILED.items():
        matches = pattern.finditer(text)
        if name == "card_number":
            if any(luhn_valid(m.group()) for m in matches):
                names.append(name)
        elif next(matches, None) is not None:
            names.append(name)
    return names


def find_leaks(value: Any, path: str = "") -> list[tuple[str, str]]:  # noqa: PLR0911
    """Return ``(path, kind)`` for every unredacted secret inside ``value``.

    Args:
        value: a column value: a string, a list, or decoded JSON.
        path: the path of ``value`` (``.action_details.tool_input``) for the report.
    """
    if isinstance(value, str):
        if _REDACTOR.redact_text(value) != value:
            return [(path, "pattern " + ",".join(pattern_names(value) or ["(combined)"]))]
        return []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [(path, "card number (integer)")] if _REDACTOR.redact(value) != value else []
    if isinstance(value, Mapping):
        found: list[tuple[str, str]] = []
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(key, str) and _REDACTOR.is_sensitive_key(key):
                if item not in (None, "", REDACTED) and not isinstance(item, bool):
                    found.append((where, f"unredacted value under sensitive key {key!r}"))
                continue
            if isinstance(key, str):
                found += [(f"{where}(key)", kind) for _, kind in find_leaks(key)]
            found += find_leaks(item, where)
        return found
    if isinstance(value, list | tuple):
        return [leak for i, item in enumerate(value) for leak in find_leaks(item, f"{path}[{i}]")]
    return []


def _ident(name: str) -> str:
    """Quote an identifier read from the catalogue (never from input)."""
    return '"' + name.replace('"', '""') + '"'


async def text_columns(db: Any) -> dict[str, list[str]]:
    """Every scanned column of every public table: ``{table: [column, ...]}``."""
    rows = await db.fetch(
        "SELECT c.table_name, c.column_name, c.data_type, c.udt_name"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    )
    columns: dict[str, list[str]] = {}
    for row in rows:
        if row["table_name"] in _SKIP_TABLES:
            continue
        if row["data_type"] in TEXT_TYPES or row["udt_name"] in TEXT_TYPES:
            columns.setdefault(row["table_name"], []).append(row["column_name"])
    return columns


async def _id_column(db: Any, table: str) -> str | None:
    names = {
        r["column_name"]
        for r in await db.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1",
            table,
        )
    }
    return next((c for c in _ID_COLUMNS if c in names), None)


async def scan_database(db: Any, *, tables: Iterable[str] | None = None) -> tuple[list[Leak], int]:
    """Scan every text and JSON column of every table (or of ``tables``).

    Args:
        db: an asyncpg connection or pool with the JSON codecs installed.
        tables: limit the scan to these tables.

    Returns:
        The leaks found, and how many values were scanned.
    """
    columns = await text_columns(db)
    wanted = set(tables) if tables is not None else set(columns)
    leaks: list[Leak] = []
    scanned = 0
    for table in sorted(wanted & set(columns)):
        id_column = await _id_column(db, table)
        selected = ", ".join(_ident(c) for c in columns[table])
        id_expr = f"{_ident(id_column)}::text" if id_column else "ctid::text"
        query = f"SELECT {id_expr} AS row_id, {selected} FROM {_ident(table)}"
        for row in await db.fetch(query):
            for column in columns[table]:
                value = row[column]
                if value is None:
                    continue
                scanned += 1
                for path, kind in find_leaks(value):
                    leaks.append(Leak(table, column, str(row["row_id"]), path, kind))
    return leaks, scanned
