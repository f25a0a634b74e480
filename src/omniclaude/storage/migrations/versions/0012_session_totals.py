"""LLM sums per session over all its calls: the usage report by session without grouping.

The report by session (0010) grouped a window's per-day and session rows by session: about
32k rows into 20k sessions for a busy week, most of the report's time. Most sessions of a
window lie wholly inside it (their first and last call in its hours: every session that
started after the window began, for a window ending now), and for those the window's sums are
the session's sums over all its calls. ``rollup_llm_session_totals`` holds them, one row per
session (``''`` when a call has none), with its first and last call's time; the report reads
the sessions wholly inside by an index on ``(first_at, last_at)`` and only the others (those
that cross the window's start or end) from the per-day rows and the hours.

Kept in the writing transaction by two statement triggers of its own on ``agent_llm_calls``
(named to fire after the others: ``agent_llm_calls_rollup_session_totals`` on insert,
``agent_llm_calls_rollup_updates_session_totals`` for a better cost's difference; a call's
time never changes on update). Stored calls are rolled up from 0010's per-day and session
rollup (exact), with a progress bar. Retention of rollups does not prune it: a session whose
early days were deleted still has its first call's time, so it is never taken as wholly inside
a later window (its row counts only for windows that hold all its calls).

Revision ID: 0012_session_totals
Revises: 0011_execution_days
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib
from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0012_session_totals"
down_revision = "0011_execution_days"
branch_labels = None
depends_on = None

_R10 = importlib.import_module("omniclaude.storage.migrations.versions.0010_llm_session_sums")

TABLE: Final = "rollup_llm_session_totals"

TABLES = f"""
CREATE TABLE {TABLE} (
    session_id                  text PRIMARY KEY,
    calls                       bigint NOT NULL DEFAULT 0,
    input_tokens                bigint NOT NULL DEFAULT 0,
    output_tokens               bigint NOT NULL DEFAULT 0,
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd                    numeric(24, 10) NOT NULL DEFAULT 0,
    unpriced_calls              bigint NOT NULL DEFAULT 0,
    estimated_calls             bigint NOT NULL DEFAULT 0,
    exact_calls                 bigint NOT NULL DEFAULT 0,
    sidechain_calls             bigint NOT NULL DEFAULT 0,
    first_at                    timestamptz,
    last_at                     timestamptz
);
"""
INDEXES = (
    f"CREATE INDEX {TABLE}_span ON {TABLE} (first_at, last_at);\n"
    f"CREATE INDEX {TABLE}_last ON {TABLE} (last_at, first_at);"
)
"""The sessions wholly inside a window (by their first call), and those that cross its start
(by their last call: the few that began before it)."""

NAMES: Final = _R10.NAMES.replace("bucket, ", "", 1)


def totals_select(rows: str) -> str:
    """The sums of ``rows`` (LLM call rows) per session (``''``: none)."""
    select: str = _R10.session_sums_select(rows)
    return select.replace(
        "date_trunc('day', created_at, 'UTC') AS bucket,\n           ", "", 1
    ).replace("GROUP BY 1, 2 ORDER BY 1, 2", "GROUP BY 1 ORDER BY 1")


FROM_DAYS: Final = """
    SELECT session_id, sum(calls), sum(input_tokens), sum(output_tokens),
           sum(cache_creation_input_tokens), sum(cache_read_input_tokens), sum(cost_usd),
           sum(unpriced_calls), sum(estimated_calls), sum(exact_calls), sum(sidechain_calls),
           min(first_at), max(last_at)
      FROM rollup_llm_session_sums_day GROUP BY 1"""
"""The same figures from 0010's exact per-day and session rollup (its days summed)."""

_UPSERT = _R10._UPSERT.replace("(bucket, session_id)", "(session_id)")
_UPDATES = (
    _R10._UPDATES.replace(_R10.TABLE, TABLE)
    .replace("(bucket, session_id, calls,", "(session_id, calls,")
    .replace("date_trunc('day', n.created_at, 'UTC'), coalesce(n.session_id, '')",
             "coalesce(n.session_id, '')")
    .replace("GROUP BY 1, 2 ORDER BY 1, 2", "GROUP BY 1 ORDER BY 1")
    .replace("ON CONFLICT (bucket, session_id)", "ON CONFLICT (session_id)")
)  # fmt: skip
"""A better cost's difference (the session and the call's time never change), as 0010's."""

_CHECKS = (
    (_UPSERT, "ON CONFLICT (session_id)"),
    (_UPDATES, "ON CONFLICT (session_id)"),
    (_UPDATES, "SELECT coalesce(n.session_id, ''), 0,"),
    (totals_select("new_rows"), "GROUP BY 1 ORDER BY 1"),
)
_STALE = any(part not in text for text, part in _CHECKS) or "AS bucket" in totals_select("r")
if _STALE:  # pragma: no cover - a frozen text changed
    raise RuntimeError("0010's statements are not as 0012 expects them")


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\n    RETURN NULL;\nEND\n$$;\n"
    )


TRIGGERS = (
    _function(
        "omniclaude_rollup_llm_session_totals",
        f"\n    INSERT INTO {TABLE} AS r ({NAMES}){totals_select('new_rows')}{_UPSERT};",
    )
    + _function("omniclaude_rollup_llm_session_totals_updates", _UPDATES)
    + "CREATE TRIGGER agent_llm_calls_rollup_session_totals AFTER INSERT ON agent_llm_calls"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION omniclaude_rollup_llm_session_totals();\n"
    "CREATE TRIGGER agent_llm_calls_rollup_updates_session_totals AFTER UPDATE"
    " ON agent_llm_calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION omniclaude_rollup_llm_session_totals_updates();\n"
)


def upgrade() -> None:
    """Create the totals, fill them from the per-day rollup, keep them by their triggers."""
    run_script(TABLES)
    total = int(fetchval(f"SELECT count(*) FROM {_R10.TABLE}"))
    with task("rollup_llm_session_sums_day: per session", total) as advance:
        run_script(f"INSERT INTO {TABLE} ({NAMES}){FROM_DAYS};")
        run_script(INDEXES)
        advance(total)
    run_script(TRIGGERS)


def downgrade() -> None:
    """Drop the triggers, their functions and the totals."""
    run_script(
        "DROP TRIGGER agent_llm_calls_rollup_updates_session_totals ON agent_llm_calls;\n"
        "DROP TRIGGER agent_llm_calls_rollup_session_totals ON agent_llm_calls;\n"
        "DROP FUNCTION omniclaude_rollup_llm_session_totals_updates();\n"
        "DROP FUNCTION omniclaude_rollup_llm_session_totals();\n"
        f"DROP TABLE {TABLE};"
    )
