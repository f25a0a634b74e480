"""OTLP metric points as time-series rows: ``agent_metric_points``, partitioned by day.

* One row per data point received on ``POST /v1/metrics`` (``metric_point`` events): the
  series (``series_key``, ``metric_name``, attributes, resource), its kind and temporality,
  the value (a sum's or gauge's; a histogram's sum with its count, min, max and buckets).
* Keyed like every event table, ``(correlation_id, created_at, event_id)``, partitioned by
  range of ``created_at`` (the point's time) with the same layout and functions as 0003; the
  partitions of today and the days ahead are created here, later ones by the writers and the
  consumer's maintenance.
* Indexes: BRIN on time; ``(metric_name, created_at)`` for the overview's figures;
  ``(series_key, started_at, created_at)`` for a cumulative series' previous point.

Revision ID: 0008_metric_points
Revises: 0007_tool_rollups
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Final

from omniclaude.events import utc_now
from omniclaude.storage.migrations._script import fetch, fetchval, run_script
from omniclaude.storage.partitions import (
    DAY,
    Partition,
    PartitionPolicy,
    day_of,
    partition_name,
    plan_range,
)

revision = "0008_metric_points"
down_revision = "0007_tool_rollups"
branch_labels = None
depends_on = None

TABLE: Final = "agent_metric_points"

CREATE = f"""
CREATE TABLE {TABLE} (
    event_id       uuid NOT NULL,
    correlation_id uuid NOT NULL,
    session_id     text,
    metric_name    text NOT NULL,
    kind           text NOT NULL,
    temporality    text,
    is_monotonic   boolean,
    unit           text,
    series_key     text NOT NULL,
    value          double precision,
    count          bigint,
    min_value      double precision,
    max_value      double precision,
    buckets        jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    attributes     jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    resource       jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source         text NOT NULL DEFAULT 'otel',
    schema_version integer NOT NULL DEFAULT 1,
    producer       jsonb,
    metadata       jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    started_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT {TABLE}_kind CHECK (kind IN ('sum', 'gauge', 'histogram',
        'exponential_histogram', 'summary')),
    CONSTRAINT {TABLE}_temporality CHECK (temporality IN ('delta', 'cumulative')),
    CONSTRAINT {TABLE}_pkey PRIMARY KEY (correlation_id, created_at, event_id)
) PARTITION BY RANGE (created_at);
CREATE INDEX {TABLE}_created_brin ON {TABLE} USING brin (created_at);
CREATE INDEX {TABLE}_name_created ON {TABLE} (metric_name, created_at);
CREATE INDEX {TABLE}_series ON {TABLE} (series_key, started_at, created_at);
CREATE INDEX {TABLE}_session ON {TABLE} (session_id) WHERE session_id IS NOT NULL;
"""


def _partitions() -> list[Partition]:
    rows = fetch(
        "SELECT partition_name, range_start, range_end, detach_pending, is_default "
        "FROM omniclaude_partitions($1::regclass)",
        TABLE,
    )
    return [Partition(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def upgrade() -> None:
    """Create the table and the partitions of today and the days ahead."""
    run_script(CREATE)
    now = utc_now()
    policy = PartitionPolicy()
    existing = _partitions()
    for offset in range(policy.ahead_days + 1):
        day = day_of(now) + offset * DAY
        start, end = plan_range(day, existing, daily_from=policy.daily_from(now))
        name = fetchval(
            "SELECT omniclaude_create_partition($1::regclass, $2, $3, $4)",
            TABLE, partition_name(TABLE, start, end), start, end,
        )  # fmt: skip
        existing.append(Partition(name, start, end))


def downgrade() -> None:
    """Drop the table (its partitions go with it)."""
    run_script(f"DROP TABLE {TABLE};")
