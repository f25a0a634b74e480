"""SQL injection test support: the payloads, a canary, and a snapshot of the whole database.

* :data:`INJECTIONS` — classic and PostgreSQL-specific injection strings (quotes, comments,
  stacked queries, dollar quoting, ``COPY ... TO PROGRAM``, casts, unicode). None holds a NUL
  (PostgreSQL text cannot) or anything the redactor would touch, so "stored verbatim" is exact.
* :class:`Injector` — a ``text(path)`` function for :func:`tests.load.workload.event_payload`
  giving each string position its own payload plus a tag naming the position, and
  remembering what it gave, so a lost or altered string is reported by field.
* :func:`install_canary` / :func:`snapshot` — a table the payloads try to drop or empty, and
  every table's row count, the public functions and views, and a digest of ``api_keys``: an
  injection that executed anything changes the snapshot.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from typing import Any

from tests.load.verify import TABLE_OF
from tests.load.workload import EVENT_TYPES, event_payload

Case = tuple[dict[str, Any], dict[str, str]]
"""An event payload and the injected string at each of its paths."""

__all__ = [
    "CANARY_ROWS",
    "INJECTIONS",
    "Injector",
    "event_cases",
    "install_canary",
    "snapshot",
    "stored_problems",
    "stored_strings",
    "verbatim_problems",
]

INJECTIONS: tuple[str, ...] = (
    "'; DROP TABLE canary; --",
    "Robert'); DROP TABLE agent_actions;--",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM api_keys WHERE 1=1; --",
    "' UNION SELECT key_hash, NULL FROM api_keys --",
    "$$; DROP TABLE canary; $$",
    "$tag$ ' $tag$; TRUNCATE canary; --",
    "'; COPY canary TO PROGRAM 'touch /tmp/omniclaude-pwned'; --",
    "x'::text); SELECT pg_sleep(10); --",
    "\\'; UPDATE canary SET note = 'owned'; --",
    "%' AND 1=0 UNION SELECT NULL --",
    "admin'/*",
    "*/ OR 1=1 /*",
    "E'\\x27' || chr(39) || '",
    "é ' ; — 漢字 ' 😀 \u202e ' --",
    "' ; ALTER ROLE postgres PASSWORD 'x'; --",
    ")); DROP FUNCTION IF EXISTS get_complete_trace(uuid); --",
)
"""Strings that would change the database if any were spliced into SQL."""

CANARY_ROWS = ((1, "canary one"), (2, "canary two"))


class Injector:
    """``text(path)`` for the event builder: a payload per position, tagged, remembered."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._payloads = itertools.cycle(INJECTIONS)
        self.given: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        value = f"{next(self._payloads)} [{self.label}.{path}]"
        self.given[path] = value
        return value

    def take(self) -> dict[str, str]:
        """Return what was given since the last call, and forget it."""
        given, self.given = self.given, {}
        return given


async def install_canary(db: Any) -> None:
    """Create ``canary`` with two known rows (the payloads try to drop, empty or edit it)."""
    await db.execute("CREATE TABLE canary (id int PRIMARY KEY, note text NOT NULL)")
    await db.executemany("INSERT INTO canary (id, note) VALUES ($1, $2)", CANARY_ROWS)


async def snapshot(db: Any) -> dict[str, Any]:
    """Row counts of every public table, the canary's rows, the public functions and views,
    the roles, and a digest of every ``api_keys`` row."""
    tables = [
        r["table_name"]
        for r in await db.fetch(
            # A partitioned table counts once (its partitions hold the same rows); the
            # rollups are aggregates every write updates (tests/integration/storage checks them).
            "SELECT c.relname AS table_name FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            " AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " AND c.relname NOT LIKE 'rollup\\_%' ORDER BY 1"
        )
    ]
    counts = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        counts[table] = int(await db.fetchval(f"SELECT count(*) FROM {quoted}"))
    return {
        "counts": counts,
        "canary": [tuple(r) for r in await db.fetch("SELECT id, note FROM canary ORDER BY id")],
        "functions": sorted(
            r["proname"]
            for r in await db.fetch(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'"
            )
        ),
        "views": sorted(
            r["table_name"]
            for r in await db.fetch(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
            )
        ),
        "roles": sorted(r["rolname"] for r in await db.fetch("SELECT rolname FROM pg_roles")),
        # last_used_at is refreshed by use: every other column must stay as it was.
        "api_keys": await db.fetchval(
            "SELECT md5(coalesce(string_agg(concat_ws(',', key_id, name, key_prefix, key_hash,"
            " scopes, created_at, revoked_at), '|' ORDER BY key_id), '')) FROM api_keys"
        ),
    }


def stored_strings(value: Any) -> set[str]:
    """Every string inside a row value: text, array items, JSON keys and values."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        found = set()
        for key, item in value.items():
            found |= stored_strings(key) | stored_strings(item)
        return found
    if isinstance(value, list | tuple):
        return set().union(*(stored_strings(item) for item in value)) if value else set()
    if hasattr(value, "items"):  # asyncpg.Record
        return stored_strings(dict(value.items()))
    return set()


def verbatim_problems(event_id: uuid.UUID, given: dict[str, str], rows: Iterable[Any]) -> list[str]:
    """The injected strings (by field path) that no stored row holds exactly."""
    strings: set[str] = set()
    for row in rows:
        strings |= stored_strings(row)
    return [f"{event_id} {path}" for path, value in given.items() if value not in strings]


def event_cases(rounds: int = 2) -> list[Case]:
    """``rounds`` events of every catalogued type, every string position injected."""
    cases = []
    for event_type in EVENT_TYPES:
        for round_ in range(rounds):
            injector = Injector(f"{event_type}#{round_}")
            payload = event_payload(event_type, text=injector, extra_field=True)
            cases.append((payload, injector.take()))
    return cases


async def stored_problems(db: Any, cases: list[Case]) -> list[str]:
    """Every injected string not stored verbatim, and every event not stored exactly once
    (the trigger-maintained ``agent_execution_logs`` columns are checked too)."""
    problems: list[str] = []
    for payload, given in cases:
        event_id = uuid.UUID(payload["event_id"])
        table = TABLE_OF[payload["event_type"]]
        rows = await db.fetch(f"SELECT * FROM {table} WHERE event_id = $1", event_id)
        if len(rows) != 1:
            problems.append(f"{event_id} ({payload['event_type']}): {len(rows)} rows in {table}")
        problems += verbatim_problems(event_id, given, rows)
        if table == "agent_execution_events":
            summary = await db.fetchrow(
                "SELECT * FROM agent_execution_logs WHERE correlation_id = $1",
                uuid.UUID(payload["correlation_id"]),
            )
            if summary is None:
                problems.append(f"{event_id}: no agent_execution_logs row")
                continue
            problems += [
                f"{event_id} agent_execution_logs.{path}: {summary[path]!r} != {value!r}"
                for path, value in given.items()
                if path in summary and summary[path] != value
            ]
    return problems
