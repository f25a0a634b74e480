"""Action rollups per action only: the overview's action totals and slowest tools.

``rollup_actions_hour`` (0005) is keyed by agent and project too: about 18k rows for a busy
day, 115k for a week, so the overview's action totals and tool latencies scanned that many.
Neither groups by agent or project: ``rollup_tools_hour`` and ``rollup_tools_day`` (per UTC
hour / day, action type, action name: the same figures, histogram included) hold a few
hundred rows a day; a window reads whole days from the second, its ragged ends from the
first. Kept by the actions' statement trigger (its function replaced: 0005's statements,
then these two upserts). Stored actions are rolled up from ``rollup_actions_hour`` (exact,
and 24 times smaller than the raw rows), with a progress bar.

Revision ID: 0007_tool_rollups
Revises: 0006_llm_rollups
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib
from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0007_tool_rollups"
down_revision = "0006_llm_rollups"
branch_labels = None
depends_on = None

_R5 = importlib.import_module("omniclaude.storage.migrations.versions.0005_rollups")

TOOLS_TABLES: Final = {"hour": "rollup_tools_hour", "day": "rollup_tools_day"}

TABLES = "".join(
    f"""
CREATE TABLE {table} (
    bucket          timestamptz NOT NULL,
    action_type     text NOT NULL,
    action_name     text NOT NULL,
    events          bigint NOT NULL DEFAULT 0,
    timed           bigint NOT NULL DEFAULT 0,
    duration_sum_ms double precision NOT NULL DEFAULT 0,
    duration_max_ms double precision,
    duration_hist   bigint[],
    PRIMARY KEY (bucket, action_type, action_name)
);"""
    for table in TOOLS_TABLES.values()
)

_NAMES = (
    "bucket, action_type, action_name, events, timed, duration_sum_ms, duration_max_ms,"
    " duration_hist"
)


def tools_select(unit: str, rows: str) -> str:
    """The figures of ``rows`` (agent action rows) per ``unit`` (hour, day) and action."""
    return f"""
    SELECT date_trunc('{unit}', created_at, 'UTC') AS bucket, action_type, action_name,
           count(*) AS events, count(duration_ms) AS timed,
           coalesce(sum(duration_ms), 0) AS duration_sum_ms, max(duration_ms) AS duration_max_ms,
           omniclaude_histogram(array_agg(duration_ms)) AS duration_hist
      FROM {rows} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


_BUCKETS = len(_R5.DURATION_BOUNDS_MS) + 1
_HIST_SUM = ", ".join(f"coalesce(sum(duration_hist[{i}]), 0)" for i in range(1, _BUCKETS + 1))
_FROM_HOURS = f"""
    SELECT date_trunc('{{unit}}', bucket, 'UTC'), action_type, action_name, sum(events),
           sum(timed), sum(duration_sum_ms), max(duration_max_ms),
           CASE WHEN count(duration_hist) > 0 THEN ARRAY[{_HIST_SUM}]::bigint[] END
      FROM rollup_actions_hour GROUP BY 1, 2, 3"""
"""The same figures from 0005's exact hourly rollup (its agents and projects summed)."""

_UPSERT = """
    ON CONFLICT (bucket, action_type, action_name) DO UPDATE SET
        events = r.events + EXCLUDED.events, timed = r.timed + EXCLUDED.timed,
        duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
        duration_max_ms = greatest(r.duration_max_ms, EXCLUDED.duration_max_ms),
        duration_hist = omniclaude_histogram_add(r.duration_hist, EXCLUDED.duration_hist)"""

_BODY_0005 = (
    _R5._minute("action", "action_type = 'error'")
    + "\n    INSERT INTO rollup_actions_hour AS r (bucket, agent_name, action_type,"
    " action_name, project, events, timed, duration_sum_ms, duration_max_ms,"
    " duration_hist)" + _R5.ACTIONS_SELECT.format(rows="new_rows") + _R5.ACTIONS_UPSERT + ";"
)  # fmt: skip


def _function(body: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION omniclaude_rollup_actions() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n    RETURN NULL;\nEND\n$$;\n"
    )


TRIGGER = _function(
    _BODY_0005
    + "".join(
        f"\n    INSERT INTO {table} AS r ({_NAMES}){tools_select(unit, 'new_rows')}{_UPSERT};"
        for unit, table in TOOLS_TABLES.items()
    )
)
TRIGGER_0005 = _function(_BODY_0005)


def upgrade() -> None:
    """Create the rollups, fill them from the hourly one, keep them by the actions' trigger."""
    run_script(TABLES)
    total = int(fetchval("SELECT count(*) FROM rollup_actions_hour"))
    with task("rollup_actions_hour: per action", total) as advance:
        for unit, table in TOOLS_TABLES.items():
            run_script(f"INSERT INTO {table} ({_NAMES}){_FROM_HOURS.format(unit=unit)};")
            advance(total // 2)
        advance(total - 2 * (total // 2))
    run_script(TRIGGER)


def downgrade() -> None:
    """Back to 0005's trigger; drop the rollups."""
    run_script(TRIGGER_0005)
    run_script("DROP TABLE rollup_tools_day, rollup_tools_hour;")
