"""Execution rollup per UTC day: the overview's execution counts and agents over long windows.

``rollup_executions_hour`` (0005) holds about 125k rows for a busy team's month (per hour,
agent, status, project, root or child), and the overview read it twice (its counters and its
agents): 15 ms each at 30 days. ``rollup_executions_day`` holds the same figures per UTC day;
a window reads its whole days from it and its ragged ends from the hourly one.

Kept by the lifecycle statement trigger: 0005's move of each changed execution (-1 under the
key it was counted under, +1 under its new one) now feeds both tables from the same deltas
(its function replaced). Stored executions are rolled up from the hourly rollup (exact, and
smaller than the summaries), with a progress bar.

Revision ID: 0011_execution_days
Revises: 0010_llm_session_sums
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0011_execution_days"
down_revision = "0010_llm_session_sums"
branch_labels = None
depends_on = None

_R5 = importlib.import_module("omniclaude.storage.migrations.versions.0005_rollups")

TABLES = """
CREATE TABLE rollup_executions_day (
    bucket          timestamptz NOT NULL,
    agent_name      text NOT NULL,
    status          text NOT NULL,
    project         text NOT NULL,
    is_root         boolean NOT NULL,
    executions      bigint NOT NULL DEFAULT 0,
    timed           bigint NOT NULL DEFAULT 0,
    duration_sum_ms double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, agent_name, status, project, is_root)
);
"""

_NAMES = "bucket, agent_name, status, project, is_root, executions, timed, duration_sum_ms"
_BOUNDARY = "\n    )\n    UPDATE agent_execution_logs l"
_DAYS = f"""
    ), counted_days AS (
        INSERT INTO rollup_executions_day AS r ({_NAMES})
        SELECT date_trunc('day', bucket, 'UTC'), agent_name, status, project, is_root, sum(n),
               sum(timed), sum(ms)
          FROM deltas GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        {_R5.EXECUTIONS_UPSERT}{_BOUNDARY}"""

_MOVE_0005: str = _R5.EXECUTIONS_MOVE
if _MOVE_0005.count(_BOUNDARY) != 1:  # pragma: no cover - a frozen text changed
    raise RuntimeError("0005's executions move is not as 0011 expects it")
EXECUTIONS_MOVE = _MOVE_0005.replace(_BOUNDARY, _DAYS)
"""0005's move, its deltas also upserted per day."""


def _function(move: str) -> str:
    body = _R5._minute("execution", "event_type = 'execution_failed'") + move + ";"
    return (
        "CREATE OR REPLACE FUNCTION omniclaude_rollup_execution_events() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n    RETURN NULL;\nEND\n$$;\n"
    )


TRIGGER = _function(EXECUTIONS_MOVE)
TRIGGER_0005 = _function(_MOVE_0005)

_FROM_HOURS = f"""
INSERT INTO rollup_executions_day ({_NAMES})
SELECT date_trunc('day', bucket, 'UTC'), agent_name, status, project, is_root,
       sum(executions), sum(timed), sum(duration_sum_ms)
  FROM rollup_executions_hour GROUP BY 1, 2, 3, 4, 5;
"""


def upgrade() -> None:
    """Create the daily rollup, fill it from the hourly one, keep it by the lifecycle trigger."""
    run_script(TABLES)
    total = int(fetchval("SELECT count(*) FROM rollup_executions_hour"))
    with task("rollup_executions_hour: per day", total) as advance:
        run_script(_FROM_HOURS)
        advance(total)
    run_script(TRIGGER)


def downgrade() -> None:
    """Back to 0005's trigger function; drop the daily rollup."""
    run_script(TRIGGER_0005)
    run_script("DROP TABLE rollup_executions_day;")
