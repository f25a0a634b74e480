"""LLM sums per UTC day and session: the usage report by session, and filtered by session.

``rollup_llm_hour`` (0005) is keyed by hour, model, project, agent and session (686k rows for
a busy team's month): the report by session read and grouped all of a window's rows. This
adds ``rollup_llm_session_sums_day`` (per UTC day and session, ``''`` when a call has none:
the calls, tokens, cost and how priced, as ``rollup_llm_hour``; 85k rows for that month),
with an index on ``(session_id, bucket)`` for a report filtered by session. A window reads its
whole days here and its ragged ends from ``rollup_llm_hour``.

Kept in the writing transaction by two statement triggers of its own on ``agent_llm_calls``
(after 0005's, by name: ``agent_llm_calls_rollup_session_sums`` on insert,
``agent_llm_calls_rollup_updates_session_sums`` for a better cost's difference), so the
functions 0005, 0006 and 0009 wrote stay as they are; rows upserted in key order. Stored
calls are rolled up from ``rollup_llm_hour`` (exact, and smaller than the raw calls), with a
progress bar.

Revision ID: 0010_llm_session_sums
Revises: 0009_session_cells
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib
from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0010_llm_session_sums"
down_revision = "0009_session_cells"
branch_labels = None
depends_on = None

_R5 = importlib.import_module("omniclaude.storage.migrations.versions.0005_rollups")

TABLE: Final = "rollup_llm_session_sums_day"

TABLES = f"""
CREATE TABLE {TABLE} (
    bucket                      timestamptz NOT NULL,
    session_id                  text NOT NULL,
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
    last_at                     timestamptz,
    PRIMARY KEY (bucket, session_id)
);
"""
INDEX = f"CREATE INDEX {TABLE}_session ON {TABLE} (session_id, bucket);"

NAMES: Final = (
    "bucket, session_id, calls, input_tokens, output_tokens, cache_creation_input_tokens,"
    " cache_read_input_tokens, cost_usd, unpriced_calls, estimated_calls, exact_calls,"
    " sidechain_calls, first_at, last_at"
)


def session_sums_select(rows: str) -> str:
    """The sums of ``rows`` (LLM call rows) per UTC day and session (``''``: none)."""
    return f"""
    SELECT date_trunc('day', created_at, 'UTC') AS bucket,
           coalesce(session_id, '') AS session_id,
           count(*) AS calls, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           sum(cache_creation_input_tokens) AS cache_creation_input_tokens,
           sum(cache_read_input_tokens) AS cache_read_input_tokens,
           coalesce(sum(cost_usd), 0) AS cost_usd,
           count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_calls,
           count(*) FILTER (WHERE cost_source = 'estimate') AS estimated_calls,
           count(*) FILTER (WHERE cost_source = 'exact') AS exact_calls,
           count(*) FILTER (WHERE is_sidechain) AS sidechain_calls,
           min(created_at) AS first_at, max(created_at) AS last_at
      FROM {rows} GROUP BY 1, 2 ORDER BY 1, 2"""


FROM_HOURS: Final = """
    SELECT date_trunc('day', bucket, 'UTC'), session_id, sum(calls), sum(input_tokens),
           sum(output_tokens), sum(cache_creation_input_tokens), sum(cache_read_input_tokens),
           sum(cost_usd), sum(unpriced_calls), sum(estimated_calls), sum(exact_calls),
           sum(sidechain_calls), min(first_at), max(last_at)
      FROM rollup_llm_hour GROUP BY 1, 2"""
"""The same figures from 0005's exact hourly rollup (its models, projects and agents summed)."""

_UPSERT = _R5.LLM_UPSERT.replace(
    "(bucket, model, project, agent_name, session_id)", "(bucket, session_id)"
)

_UPDATES = f"""
    INSERT INTO {TABLE} AS r (bucket, session_id, calls, input_tokens, output_tokens,
        cache_creation_input_tokens, cache_read_input_tokens, cost_usd, unpriced_calls,
        estimated_calls, exact_calls, sidechain_calls)
    SELECT date_trunc('day', n.created_at, 'UTC'), coalesce(n.session_id, ''), 0,
           sum(n.input_tokens - o.input_tokens), sum(n.output_tokens - o.output_tokens),
           sum(n.cache_creation_input_tokens - o.cache_creation_input_tokens),
           sum(n.cache_read_input_tokens - o.cache_read_input_tokens),
           sum(coalesce(n.cost_usd, 0) - coalesce(o.cost_usd, 0)),
           sum((n.cost_source = 'unpriced')::int - (o.cost_source = 'unpriced')::int),
           sum((n.cost_source = 'estimate')::int - (o.cost_source = 'estimate')::int),
           sum((n.cost_source = 'exact')::int - (o.cost_source = 'exact')::int), 0
      FROM new_rows n JOIN old_rows o USING (correlation_id, created_at, event_id)
     GROUP BY 1, 2 ORDER BY 1, 2
    {_UPSERT.replace("calls = r.calls + EXCLUDED.calls,", "calls = r.calls,")};"""
"""A better cost's difference (the key never changes), as 0005's update trigger applies it."""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\n    RETURN NULL;\nEND\n$$;\n"
    )


TRIGGERS = (
    _function(
        "omniclaude_rollup_llm_session_sums",
        f"\n    INSERT INTO {TABLE} AS r ({NAMES}){session_sums_select('new_rows')}{_UPSERT};",
    )
    + _function("omniclaude_rollup_llm_session_sums_updates", _UPDATES)
    + "CREATE TRIGGER agent_llm_calls_rollup_session_sums AFTER INSERT ON agent_llm_calls"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION omniclaude_rollup_llm_session_sums();\n"
    "CREATE TRIGGER agent_llm_calls_rollup_updates_session_sums AFTER UPDATE ON agent_llm_calls"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION omniclaude_rollup_llm_session_sums_updates();\n"
)
"""Triggers of their own, named to fire after 0005's (PostgreSQL fires a table's triggers of
one event in name order): every writer locks the rollups' rows in one order."""


def upgrade() -> None:
    """Create the rollup, fill it from the hourly one, keep it by triggers of its own."""
    run_script(TABLES)
    total = int(fetchval("SELECT count(*) FROM rollup_llm_hour"))
    with task("rollup_llm_hour: per day and session", total) as advance:
        run_script(f"INSERT INTO {TABLE} ({NAMES}){FROM_HOURS};")
        run_script(INDEX)
        advance(total)
    run_script(TRIGGERS)


def downgrade() -> None:
    """Drop the triggers, their functions and the rollup."""
    run_script(
        "DROP TRIGGER agent_llm_calls_rollup_updates_session_sums ON agent_llm_calls;\n"
        "DROP TRIGGER agent_llm_calls_rollup_session_sums ON agent_llm_calls;\n"
        "DROP FUNCTION omniclaude_rollup_llm_session_sums_updates();\n"
        "DROP FUNCTION omniclaude_rollup_llm_session_sums();\n"
        f"DROP TABLE {TABLE};"
    )
