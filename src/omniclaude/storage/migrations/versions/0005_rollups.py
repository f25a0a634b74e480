"""Rollups: small aggregates the overview, usage and executions figures read, kept exact.

* ``rollup_events_minute`` (rows per minute per source table, and its failures: error
  actions, failed executions, failed transformations),
  ``rollup_actions_hour`` (per agent, action type, action name, project: count, durations,
  a duration histogram), ``rollup_routing_hour`` (per selected agent and confidence tenth),
  ``rollup_llm_hour`` (per model, project, agent, session: tokens, cost, how priced),
  ``rollup_executions_hour`` (per agent, status, project, root or child: executions and
  their durations).
* Buckets are UTC minutes and hours, whatever the writer's session time zone.
* Maintained **in the writing transaction** by statement-level triggers with transition
  tables: they see exactly the rows the statement inserted (a redelivered event skipped by
  ``ON CONFLICT`` is not in them, so nothing is counted twice) and the rows an LLM call's
  better cost updated (old and new: the difference is applied). Each statement upserts one
  row per key, in key order (concurrent writers lock rollup rows in one order). Deletes
  (retention) fire nothing: dropping raw days never changes a rollup.
* The executions rollup counts each execution once under its current key (hour of
  ``created_at``, agent, status, project, root): ``agent_execution_logs`` remembers the key it
  was last counted under (``rolled_*``), and the lifecycle statement trigger moves it.
* Stored rows are rolled up once, here (a progress bar per table).
* ``agent_actions_errors``: the newest error actions without scanning a day's actions.

Revision ID: 0005_rollups
Revises: 0004_search_viewer_sessions
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0005_rollups"
down_revision = "0004_search_viewer_sessions"
branch_labels = None
depends_on = None

DURATION_BOUNDS_MS: Final = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 300_000, 600_000,
)  # fmt: skip
"""Upper bounds of the duration histogram's buckets (bucket 0: below 1 ms; the last: 10 min+).
Frozen here and in :mod:`omniclaude.storage.queries.rollups` (which reads them)."""

_BOUNDS_SQL = "ARRAY[" + ", ".join(f"{b}::float8" for b in DURATION_BOUNDS_MS) + "]"
_BUCKETS = len(DURATION_BOUNDS_MS) + 1

FUNCTIONS = f"""
-- The histogram of some durations (ms): one count per bucket of DURATION_BOUNDS_MS.
CREATE FUNCTION omniclaude_histogram(durations double precision[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(coalesce(c.n, 0) ORDER BY b.i)
      FROM generate_series(0, {_BUCKETS - 1}) AS b(i)
      LEFT JOIN (SELECT width_bucket(d, {_BOUNDS_SQL}) AS i, count(*) AS n
                   FROM unnest(durations) AS d WHERE d IS NOT NULL GROUP BY 1) AS c USING (i)
$$;

-- Two histograms added bucket by bucket (a missing one counts as empty).
CREATE FUNCTION omniclaude_histogram_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
        (SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
           FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)) END
$$;

-- The sum of histograms (the readers' GROUP BY).
CREATE AGGREGATE omniclaude_histogram_sum(bigint[]) (
    SFUNC = omniclaude_histogram_add, STYPE = bigint[]
);
"""

TABLES = """
CREATE TABLE rollup_events_minute (
    bucket     timestamptz NOT NULL,
    source     text NOT NULL,
    events     bigint NOT NULL DEFAULT 0,
    errors     bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, source)
);

CREATE TABLE rollup_actions_hour (
    bucket          timestamptz NOT NULL,
    agent_name      text NOT NULL,
    action_type     text NOT NULL,
    action_name     text NOT NULL,
    project         text NOT NULL,
    events          bigint NOT NULL DEFAULT 0,
    timed           bigint NOT NULL DEFAULT 0,
    duration_sum_ms double precision NOT NULL DEFAULT 0,
    duration_max_ms double precision,
    duration_hist   bigint[],
    PRIMARY KEY (bucket, agent_name, action_type, action_name, project)
);

CREATE TABLE rollup_routing_hour (
    bucket              timestamptz NOT NULL,
    selected_agent      text NOT NULL,
    confidence_bucket   smallint NOT NULL,
    decisions           bigint NOT NULL DEFAULT 0,
    fallbacks           bigint NOT NULL DEFAULT 0,
    routing_time_sum_ms double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, selected_agent, confidence_bucket)
);

CREATE TABLE rollup_llm_hour (
    bucket                      timestamptz NOT NULL,
    model                       text NOT NULL,
    project                     text NOT NULL,
    agent_name                  text NOT NULL,
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
    PRIMARY KEY (bucket, model, project, agent_name, session_id)
);

CREATE TABLE rollup_executions_hour (
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

ALTER TABLE agent_execution_logs
    ADD COLUMN rolled_bucket timestamptz,
    ADD COLUMN rolled_agent text,
    ADD COLUMN rolled_status text,
    ADD COLUMN rolled_project text,
    ADD COLUMN rolled_root boolean,
    ADD COLUMN rolled_duration_ms double precision;

CREATE INDEX agent_actions_errors ON agent_actions (created_at DESC) WHERE action_type = 'error';
"""

# The key expressions, shared by the triggers and the one-off backfill below.
_PROJECT = "coalesce(project_name, project_path, '')"
_LLM_PROJECT = "coalesce(project_name, project_path, '')"
_CONFIDENCE = "least(greatest(width_bucket(confidence_score::float8, 0.0, 1.0, 10), 1), 10)"
_MINUTE_UPSERT = """
    ON CONFLICT (bucket, source) DO UPDATE SET
        events = r.events + EXCLUDED.events, errors = r.errors + EXCLUDED.errors,
        updated_at = now()"""

ACTIONS_SELECT = f"""
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, coalesce(agent_name, '') AS agent_name,
           action_type, action_name, {_PROJECT} AS project, count(*) AS events,
           count(duration_ms) AS timed, coalesce(sum(duration_ms), 0) AS duration_sum_ms,
           max(duration_ms) AS duration_max_ms,
           omniclaude_histogram(array_agg(duration_ms)) AS duration_hist
      FROM {{rows}} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"""
ACTIONS_UPSERT = """
    ON CONFLICT (bucket, agent_name, action_type, action_name, project) DO UPDATE SET
        events = r.events + EXCLUDED.events, timed = r.timed + EXCLUDED.timed,
        duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
        duration_max_ms = greatest(r.duration_max_ms, EXCLUDED.duration_max_ms),
        duration_hist = omniclaude_histogram_add(r.duration_hist, EXCLUDED.duration_hist)"""

ROUTING_SELECT = f"""
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, selected_agent,
           {_CONFIDENCE} AS confidence_bucket, count(*) AS decisions,
           count(*) FILTER (WHERE is_fallback) AS fallbacks,
           coalesce(sum(routing_time_ms), 0) AS routing_time_sum_ms
      FROM {{rows}} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
ROUTING_UPSERT = """
    ON CONFLICT (bucket, selected_agent, confidence_bucket) DO UPDATE SET
        decisions = r.decisions + EXCLUDED.decisions, fallbacks = r.fallbacks + EXCLUDED.fallbacks,
        routing_time_sum_ms = r.routing_time_sum_ms + EXCLUDED.routing_time_sum_ms"""

LLM_SELECT = f"""
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, model, {_LLM_PROJECT} AS project,
           coalesce(agent_name, '') AS agent_name, coalesce(session_id, '') AS session_id,
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
      FROM {{rows}} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"""
LLM_UPSERT = """
    ON CONFLICT (bucket, model, project, agent_name, session_id) DO UPDATE SET
        calls = r.calls + EXCLUDED.calls,
        input_tokens = r.input_tokens + EXCLUDED.input_tokens,
        output_tokens = r.output_tokens + EXCLUDED.output_tokens,
        cache_creation_input_tokens = r.cache_creation_input_tokens
            + EXCLUDED.cache_creation_input_tokens,
        cache_read_input_tokens = r.cache_read_input_tokens + EXCLUDED.cache_read_input_tokens,
        cost_usd = r.cost_usd + EXCLUDED.cost_usd,
        unpriced_calls = r.unpriced_calls + EXCLUDED.unpriced_calls,
        estimated_calls = r.estimated_calls + EXCLUDED.estimated_calls,
        exact_calls = r.exact_calls + EXCLUDED.exact_calls,
        sidechain_calls = r.sidechain_calls + EXCLUDED.sidechain_calls,
        first_at = least(r.first_at, EXCLUDED.first_at),
        last_at = greatest(r.last_at, EXCLUDED.last_at)"""

EXECUTIONS_UPSERT = """
    ON CONFLICT (bucket, agent_name, status, project, is_root) DO UPDATE SET
        executions = r.executions + EXCLUDED.executions, timed = r.timed + EXCLUDED.timed,
        duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms"""

# Move each execution of the statement whose key (or duration) changed since it was last
# counted: -1 under the old key, +1 under the new, then remember the new key.
EXECUTIONS_MOVE = f"""
    WITH current AS (
        SELECT l.correlation_id, date_trunc('hour', l.created_at, 'UTC') AS bucket, l.agent_name,
               l.status, {_PROJECT} AS project, l.parent_correlation_id IS NULL AS is_root,
               l.duration_ms, l.rolled_bucket, l.rolled_agent, l.rolled_status,
               l.rolled_project, l.rolled_root, l.rolled_duration_ms
          FROM agent_execution_logs l
         WHERE l.correlation_id IN (SELECT DISTINCT correlation_id FROM new_rows)
    ), changed AS (
        SELECT * FROM current
         WHERE (rolled_bucket, rolled_agent, rolled_status, rolled_project, rolled_root)
               IS DISTINCT FROM (bucket, agent_name, status, project, is_root)
            OR rolled_duration_ms IS DISTINCT FROM duration_ms
    ), deltas AS (
        SELECT bucket, agent_name, status, project, is_root, 1 AS n,
               (duration_ms IS NOT NULL)::int AS timed, coalesce(duration_ms, 0) AS ms
          FROM changed
        UNION ALL
        SELECT rolled_bucket, rolled_agent, rolled_status, rolled_project, rolled_root, -1,
               -(rolled_duration_ms IS NOT NULL)::int, -coalesce(rolled_duration_ms, 0)
          FROM changed WHERE rolled_bucket IS NOT NULL
    ), counted AS (
        INSERT INTO rollup_executions_hour AS r
            (bucket, agent_name, status, project, is_root, executions, timed, duration_sum_ms)
        SELECT bucket, agent_name, status, project, is_root, sum(n), sum(timed), sum(ms)
          FROM deltas GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        {EXECUTIONS_UPSERT}
    )
    UPDATE agent_execution_logs l
       SET rolled_bucket = c.bucket, rolled_agent = c.agent_name, rolled_status = c.status,
           rolled_project = c.project, rolled_root = c.is_root,
           rolled_duration_ms = c.duration_ms
      FROM changed c WHERE l.correlation_id = c.correlation_id"""


def _minute(source: str, errors: str) -> str:
    return f"""
    INSERT INTO rollup_events_minute AS r (bucket, source, events, errors)
    SELECT date_trunc('minute', created_at, 'UTC'), '{source}', count(*),
           count(*) FILTER (WHERE {errors})
      FROM new_rows GROUP BY 1 ORDER BY 1
    {_MINUTE_UPSERT};"""


def _function(name: str, body: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body}
    RETURN NULL;
END
$$;"""


TRIGGERS = "\n".join(
    (
        _function(
            "omniclaude_rollup_actions",
            _minute("action", "action_type = 'error'")
            + "\n    INSERT INTO rollup_actions_hour AS r (bucket, agent_name, action_type,"
            " action_name, project, events, timed, duration_sum_ms, duration_max_ms,"
            " duration_hist)" + ACTIONS_SELECT.format(rows="new_rows") + ACTIONS_UPSERT + ";",
        ),
        _function(
            "omniclaude_rollup_execution_events",
            _minute("execution", "event_type = 'execution_failed'") + EXECUTIONS_MOVE + ";",
        ),
        _function(
            "omniclaude_rollup_routing",
            _minute("routing", "false")
            + "\n    INSERT INTO rollup_routing_hour AS r (bucket, selected_agent,"
            " confidence_bucket, decisions, fallbacks, routing_time_sum_ms)"
            + ROUTING_SELECT.format(rows="new_rows")
            + ROUTING_UPSERT
            + ";",
        ),
        _function("omniclaude_rollup_manifests", _minute("manifest", "false")),
        _function(
            "omniclaude_rollup_transformations",
            _minute("transformation", "event_type = 'transformation_failed'"),
        ),
        _function(
            "omniclaude_rollup_llm_calls",
            _minute("llm", "false")
            + "\n    INSERT INTO rollup_llm_hour AS r (bucket, model, project, agent_name,"
            " session_id, calls, input_tokens, output_tokens, cache_creation_input_tokens,"
            " cache_read_input_tokens, cost_usd, unpriced_calls, estimated_calls, exact_calls,"
            " sidechain_calls, first_at, last_at)"
            + LLM_SELECT.format(rows="new_rows")
            + LLM_UPSERT
            + ";",
        ),
        # A better cost replaced a worse one: add the difference (the key never changes).
        _function(
            "omniclaude_rollup_llm_updates",
            f"""
    INSERT INTO rollup_llm_hour AS r (bucket, model, project, agent_name, session_id, calls,
        input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
        cost_usd, unpriced_calls, estimated_calls, exact_calls, sidechain_calls)
    SELECT date_trunc('hour', n.created_at, 'UTC'), n.model,
           coalesce(n.project_name, n.project_path, ''), coalesce(n.agent_name, ''),
           coalesce(n.session_id, ''), 0,
           sum(n.input_tokens - o.input_tokens), sum(n.output_tokens - o.output_tokens),
           sum(n.cache_creation_input_tokens - o.cache_creation_input_tokens),
           sum(n.cache_read_input_tokens - o.cache_read_input_tokens),
           sum(coalesce(n.cost_usd, 0) - coalesce(o.cost_usd, 0)),
           sum((n.cost_source = 'unpriced')::int - (o.cost_source = 'unpriced')::int),
           sum((n.cost_source = 'estimate')::int - (o.cost_source = 'estimate')::int),
           sum((n.cost_source = 'exact')::int - (o.cost_source = 'exact')::int), 0
      FROM new_rows n JOIN old_rows o USING (correlation_id, created_at, event_id)
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    {LLM_UPSERT.replace("calls = r.calls + EXCLUDED.calls,", "calls = r.calls,")};""",
        ),
    )
)

_ON: Final = (
    ("agent_actions", "omniclaude_rollup_actions", "INSERT"),
    ("agent_execution_events", "omniclaude_rollup_execution_events", "INSERT"),
    ("agent_routing_decisions", "omniclaude_rollup_routing", "INSERT"),
    ("agent_manifest_injections", "omniclaude_rollup_manifests", "INSERT"),
    ("agent_transformation_events", "omniclaude_rollup_transformations", "INSERT"),
    ("agent_llm_calls", "omniclaude_rollup_llm_calls", "INSERT"),
)

CREATE_TRIGGERS = "\n".join(
    f"CREATE TRIGGER {table}_rollup AFTER {event} ON {table} REFERENCING NEW TABLE AS new_rows"
    f" FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
    for table, function, event in _ON
) + (
    "\nCREATE TRIGGER agent_llm_calls_rollup_updates AFTER UPDATE ON agent_llm_calls"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION omniclaude_rollup_llm_updates();"
)

# One pass per table over what is stored already (the triggers see only new rows).
_BACKFILL_MINUTES = (
    ("agent_actions", "action", "action_type = 'error'"),
    ("agent_execution_events", "execution", "event_type = 'execution_failed'"),
    ("agent_routing_decisions", "routing", "false"),
    ("agent_manifest_injections", "manifest", "false"),
    ("agent_transformation_events", "transformation", "event_type = 'transformation_failed'"),
    ("agent_llm_calls", "llm", "false"),
)

BACKFILL_EXECUTIONS = f"""
INSERT INTO rollup_executions_hour
    (bucket, agent_name, status, project, is_root, executions, timed, duration_sum_ms)
SELECT date_trunc('hour', created_at, 'UTC'), agent_name, status, {_PROJECT},
       parent_correlation_id IS NULL, count(*), count(duration_ms), coalesce(sum(duration_ms), 0)
  FROM agent_execution_logs GROUP BY 1, 2, 3, 4, 5;
UPDATE agent_execution_logs
   SET rolled_bucket = date_trunc('hour', created_at, 'UTC'), rolled_agent = agent_name,
       rolled_status = status, rolled_project = {_PROJECT},
       rolled_root = parent_correlation_id IS NULL, rolled_duration_ms = duration_ms;
"""


def _backfill() -> None:
    for table, source, errors in _BACKFILL_MINUTES:
        total = int(fetchval(f"SELECT count(*) FROM {table}"))
        with task(f"{table}: rollups", total) as advance:
            if total == 0:
                continue
            run_script(
                f"INSERT INTO rollup_events_minute (bucket, source, events, errors) "
                f"SELECT date_trunc('minute', created_at, 'UTC'), '{source}', count(*), "
                f"count(*) FILTER (WHERE {errors}) FROM {table} GROUP BY 1;"
            )
            if table == "agent_actions":
                run_script(
                    "INSERT INTO rollup_actions_hour AS r (bucket, agent_name, action_type, "
                    "action_name, project, events, timed, duration_sum_ms, duration_max_ms, "
                    "duration_hist)" + ACTIONS_SELECT.format(rows="agent_actions") + ";"
                )
            elif table == "agent_routing_decisions":
                run_script(
                    "INSERT INTO rollup_routing_hour AS r (bucket, selected_agent, "
                    "confidence_bucket, decisions, fallbacks, routing_time_sum_ms)"
                    + ROUTING_SELECT.format(rows="agent_routing_decisions")
                    + ";"
                )
            elif table == "agent_llm_calls":
                run_script(
                    "INSERT INTO rollup_llm_hour AS r (bucket, model, project, agent_name, "
                    "session_id, calls, input_tokens, output_tokens, "
                    "cache_creation_input_tokens, cache_read_input_tokens, cost_usd, "
                    "unpriced_calls, estimated_calls, exact_calls, sidechain_calls, first_at, "
                    "last_at)" + LLM_SELECT.format(rows="agent_llm_calls") + ";"
                )
            advance(total)
    total = int(fetchval("SELECT count(*) FROM agent_execution_logs"))
    with task("agent_execution_logs: rollups", total) as advance:
        run_script(BACKFILL_EXECUTIONS)
        advance(total)


def upgrade() -> None:
    """Create the rollups, roll up what is stored, and keep them up to date by trigger."""
    run_script(FUNCTIONS)
    run_script(TABLES)
    _backfill()
    run_script(TRIGGERS)
    run_script(CREATE_TRIGGERS)


def downgrade() -> None:
    """Drop the rollups and their triggers."""
    run_script(
        "\n".join(f"DROP TRIGGER {table}_rollup ON {table};" for table, _, _ in _ON)
        + "\nDROP TRIGGER agent_llm_calls_rollup_updates ON agent_llm_calls;\n"
        + "\n".join(f"DROP FUNCTION {function}();" for _, function, _ in _ON)
        + "\nDROP FUNCTION omniclaude_rollup_llm_updates();"
        + """
DROP INDEX agent_actions_errors;
ALTER TABLE agent_execution_logs DROP COLUMN rolled_bucket, DROP COLUMN rolled_agent,
    DROP COLUMN rolled_status, DROP COLUMN rolled_project, DROP COLUMN rolled_root,
    DROP COLUMN rolled_duration_ms;
DROP TABLE rollup_executions_hour, rollup_llm_hour, rollup_routing_hour, rollup_actions_hour,
    rollup_events_minute;
DROP AGGREGATE omniclaude_histogram_sum(bigint[]);
DROP FUNCTION omniclaude_histogram_add(bigint[], bigint[]);
DROP FUNCTION omniclaude_histogram(double precision[]);
"""
    )
