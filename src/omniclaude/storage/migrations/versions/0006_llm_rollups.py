"""LLM rollups without the session: what the overview and the usage report sum and count.

``rollup_llm_hour`` (0005) is keyed by session as well: at a busy team's volume it holds
about 99k rows for 24 hours, so every usage total sorted that many. This adds:

* ``rollup_llm_sums_hour`` and ``rollup_llm_sums_day`` (per UTC hour / day, model, project,
  agent: the calls, tokens, cost and how priced, as ``rollup_llm_hour`` without the session):
  a window reads whole days from the second and its ragged ends from the first.
* ``rollup_llm_sessions_day`` (per UTC day, dimension, value, session: a 24-bit mask of the
  hours of that day with a call): exact distinct session counts for any window of whole
  hours (the dimensions: ``all`` with value ``''``, ``model``, ``project``, ``agent``).

Kept in the writing transaction by the same statement trigger as ``rollup_llm_hour`` (the
functions are replaced: one statement per rollup, rows in key order), including a better
cost's difference (the sessions do not change then). Stored calls are rolled up once, here
(a progress bar).

Revision ID: 0006_llm_rollups
Revises: 0005_rollups
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib
from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0006_llm_rollups"
down_revision = "0005_rollups"
branch_labels = None
depends_on = None

_R5 = importlib.import_module("omniclaude.storage.migrations.versions.0005_rollups")

_SUMS_COLUMNS = """
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
    PRIMARY KEY (bucket, model, project, agent_name)"""

TABLES = f"""
CREATE TABLE rollup_llm_sums_hour (
    bucket     timestamptz NOT NULL,
    model      text NOT NULL,
    project    text NOT NULL,
    agent_name text NOT NULL,{_SUMS_COLUMNS}
);
CREATE TABLE rollup_llm_sums_day (
    bucket     timestamptz NOT NULL,
    model      text NOT NULL,
    project    text NOT NULL,
    agent_name text NOT NULL,{_SUMS_COLUMNS}
);
CREATE TABLE rollup_llm_sessions_day (
    bucket     timestamptz NOT NULL,
    dimension  text NOT NULL,
    value      text NOT NULL,
    session_id text NOT NULL,
    hours      integer NOT NULL,
    PRIMARY KEY (bucket, dimension, value, session_id)
);
"""

SUMS_TABLES: Final = {"hour": "rollup_llm_sums_hour", "day": "rollup_llm_sums_day"}
_NAMES = (
    "bucket, model, project, agent_name, calls, input_tokens, output_tokens,"
    " cache_creation_input_tokens, cache_read_input_tokens, cost_usd, unpriced_calls,"
    " estimated_calls, exact_calls, sidechain_calls, first_at, last_at"
)
_PROJECT = "coalesce(project_name, project_path, '')"


def sums_select(unit: str, rows: str) -> str:
    """The sums of ``rows`` (LLM call rows) per ``unit`` (hour or day), model, project, agent."""
    return f"""
    SELECT date_trunc('{unit}', created_at, 'UTC') AS bucket, model, {_PROJECT} AS project,
           coalesce(agent_name, '') AS agent_name,
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
      FROM {rows} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


_SUMS_UPSERT = _R5.LLM_UPSERT.replace(
    "(bucket, model, project, agent_name, session_id)", "(bucket, model, project, agent_name)"
)

SESSIONS_SELECT = f"""
    SELECT date_trunc('day', created_at, 'UTC') AS bucket, d.dimension, d.value, session_id,
           bit_or(1 << extract(hour FROM created_at AT TIME ZONE 'UTC')::int) AS hours
      FROM {{rows}} CROSS JOIN LATERAL (VALUES
           ('all', ''), ('model', model), ('project', {_PROJECT}),
           ('agent', coalesce(agent_name, ''))) AS d(dimension, value)
     WHERE session_id <> ''
     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""
"""Which hours of each UTC day each session had calls in, per dimension's value (a session
never named is not counted, as the usage report's ``count(DISTINCT nullif(session_id, ''))``)."""
_SESSIONS_UPSERT = """
    ON CONFLICT (bucket, dimension, value, session_id) DO UPDATE SET
        hours = r.hours | EXCLUDED.hours WHERE (r.hours | EXCLUDED.hours) <> r.hours"""


def _inserts(rows: str) -> str:
    return "".join(
        f"\n    INSERT INTO {table} AS r ({_NAMES}){sums_select(unit, rows)}{_SUMS_UPSERT};"
        for unit, table in SUMS_TABLES.items()
    ) + (
        "\n    INSERT INTO rollup_llm_sessions_day AS r (bucket, dimension, value, session_id,"
        f" hours){SESSIONS_SELECT.format(rows=rows)}{_SESSIONS_UPSERT};"
    )


def _updates(unit: str, table: str) -> str:
    """A better cost's difference, as 0005's update trigger applies it to rollup_llm_hour."""
    return f"""
    INSERT INTO {table} AS r (bucket, model, project, agent_name, calls, input_tokens,
        output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd,
        unpriced_calls, estimated_calls, exact_calls, sidechain_calls)
    SELECT date_trunc('{unit}', n.created_at, 'UTC'), n.model,
           coalesce(n.project_name, n.project_path, ''), coalesce(n.agent_name, ''), 0,
           sum(n.input_tokens - o.input_tokens), sum(n.output_tokens - o.output_tokens),
           sum(n.cache_creation_input_tokens - o.cache_creation_input_tokens),
           sum(n.cache_read_input_tokens - o.cache_read_input_tokens),
           sum(coalesce(n.cost_usd, 0) - coalesce(o.cost_usd, 0)),
           sum((n.cost_source = 'unpriced')::int - (o.cost_source = 'unpriced')::int),
           sum((n.cost_source = 'estimate')::int - (o.cost_source = 'estimate')::int),
           sum((n.cost_source = 'exact')::int - (o.cost_source = 'exact')::int), 0
      FROM new_rows n JOIN old_rows o USING (correlation_id, created_at, event_id)
     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    {_SUMS_UPSERT.replace("calls = r.calls + EXCLUDED.calls,", "calls = r.calls,")};"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\n    RETURN NULL;\nEND\n$$;\n"
    )


_INSERT_0005 = (
    _R5._minute("llm", "false")
    + "\n    INSERT INTO rollup_llm_hour AS r (bucket, model, project, agent_name,"
    " session_id, calls, input_tokens, output_tokens, cache_creation_input_tokens,"
    " cache_read_input_tokens, cost_usd, unpriced_calls, estimated_calls, exact_calls,"
    " sidechain_calls, first_at, last_at)" + _R5.LLM_SELECT.format(rows="new_rows")
    + _R5.LLM_UPSERT + ";"
)  # fmt: skip


def _update_0005() -> str:
    """0005's update trigger body (its function's text, as that migration wrote it)."""
    marker = (
        "CREATE FUNCTION omniclaude_rollup_llm_updates() RETURNS trigger LANGUAGE plpgsql AS $$"
    )
    text: str = _R5.TRIGGERS
    body = text[text.index(marker) + len(marker) :]
    body = body[body.index("BEGIN") + len("BEGIN") : body.index("RETURN NULL;")]
    return body.rstrip()


TRIGGERS = _function("omniclaude_rollup_llm_calls", _INSERT_0005 + _inserts("new_rows")) + (
    _function(
        "omniclaude_rollup_llm_updates",
        _update_0005() + "".join(_updates(u, t) for u, t in SUMS_TABLES.items()),
    )
)
TRIGGERS_0005 = _function("omniclaude_rollup_llm_calls", _INSERT_0005) + _function(
    "omniclaude_rollup_llm_updates", _update_0005()
)


def upgrade() -> None:
    """Create the rollups, roll up the stored calls, and keep them by the LLM triggers."""
    run_script(TABLES)
    total = int(fetchval("SELECT count(*) FROM agent_llm_calls"))
    with task("agent_llm_calls: rollups without the session", total) as advance:
        for unit, table in SUMS_TABLES.items():
            run_script(f"INSERT INTO {table} ({_NAMES}){sums_select(unit, 'agent_llm_calls')};")
            advance(total // 3)
        run_script(
            "INSERT INTO rollup_llm_sessions_day (bucket, dimension, value, session_id, hours)"
            + SESSIONS_SELECT.format(rows="agent_llm_calls")
            + ";"
        )
        advance(total - 2 * (total // 3))
    run_script(TRIGGERS)


def downgrade() -> None:
    """Back to 0005's triggers; drop the rollups."""
    run_script(TRIGGERS_0005)
    run_script("DROP TABLE rollup_llm_sessions_day, rollup_llm_sums_day, rollup_llm_sums_hour;")
