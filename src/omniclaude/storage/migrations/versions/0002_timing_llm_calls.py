"""One meaning of time, and LLM calls.

* Every timed row (actions, routing decisions, manifest injections, transformations) gets
  ``started_at``; ``created_at`` is, everywhere, when it ENDED (a point event: when it
  happened). Stored rows are converted: rows the Claude Code hook mapper wrote held the
  START in ``created_at`` (they carry ``action_details.hook_event``), so they move their end
  to ``created_at + duration_ms``; every other producer wrote its row when the work ended,
  so ``started_at = created_at - duration``.
* Hook error rows keep their text under ``error_message`` too (where every reader looks).
* ``agent_llm_calls``: one row per model API response (tokens, model, cost and how exact
  it is), and its place in the trace view.

Revision ID: 0002_timing_llm_calls
Revises: 0001_initial
Create Date: 2026-12-01
"""

from omniclaude.storage.migrations._history import TRACE_VIEW_0001, TRACE_VIEW_0002
from omniclaude.storage.migrations._script import run_script

revision = "0002_timing_llm_calls"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


UPGRADE = r"""
DROP FUNCTION get_complete_trace(uuid);
DROP VIEW agent_trace_events;

ALTER TABLE agent_actions ADD COLUMN started_at timestamptz;
UPDATE agent_actions
   SET started_at = created_at,
       created_at = created_at + make_interval(secs => coalesce(duration_ms, 0) / 1000.0)
 WHERE action_details ? 'hook_event';
UPDATE agent_actions
   SET started_at = created_at - make_interval(secs => coalesce(duration_ms, 0) / 1000.0)
 WHERE started_at IS NULL;
UPDATE agent_actions
   SET action_details = action_details || jsonb_build_object('error_message', action_details->'error')
 WHERE action_type = 'error' AND action_details ? 'hook_event'
   AND NOT action_details ? 'error_message' AND jsonb_typeof(action_details->'error') = 'string';
ALTER TABLE agent_actions ALTER COLUMN started_at SET NOT NULL,
    ADD CONSTRAINT agent_actions_started_before_end CHECK (started_at <= created_at);

ALTER TABLE agent_routing_decisions ADD COLUMN started_at timestamptz;
UPDATE agent_routing_decisions
   SET started_at = created_at - make_interval(secs => routing_time_ms / 1000.0);
ALTER TABLE agent_routing_decisions ALTER COLUMN started_at SET NOT NULL;

ALTER TABLE agent_manifest_injections ADD COLUMN started_at timestamptz;
UPDATE agent_manifest_injections
   SET started_at = created_at - make_interval(secs => total_query_time_ms / 1000.0);
ALTER TABLE agent_manifest_injections ALTER COLUMN started_at SET NOT NULL;

ALTER TABLE agent_transformation_events ADD COLUMN started_at timestamptz;
UPDATE agent_transformation_events
   SET started_at = created_at
       - make_interval(secs => coalesce(transformation_duration_ms, 0) / 1000.0);
ALTER TABLE agent_transformation_events ALTER COLUMN started_at SET NOT NULL;

CREATE TABLE agent_llm_calls (
    event_id                    uuid PRIMARY KEY,
    correlation_id              uuid NOT NULL,
    session_id                  text,
    prompt_id                   text,
    claude_agent_id             text,
    agent_name                  text,
    is_sidechain                boolean NOT NULL DEFAULT false,
    provider                    text,
    model                       text NOT NULL,
    input_tokens                bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens               bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0
        CHECK (cache_creation_input_tokens >= 0),
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0 CHECK (cache_read_input_tokens >= 0),
    total_tokens                bigint GENERATED ALWAYS AS (
        input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens
    ) STORED,
    usage                       jsonb NOT NULL DEFAULT '{}'::jsonb,
    stop_reason                 text,
    request_id                  text,
    message_id                  text,
    tool_use_ids                text[] NOT NULL DEFAULT '{}',
    duration_ms                 double precision CHECK (duration_ms >= 0),
    cost_usd                    numeric(20, 10) CHECK (cost_usd >= 0),
    cost_source                 text NOT NULL CHECK (cost_source IN ('unpriced', 'estimate', 'exact')),
    pricing_source              text,
    source                      text NOT NULL,
    project_path                text,
    project_name                text,
    schema_version              integer NOT NULL DEFAULT 1,
    producer                    jsonb,
    metadata                    jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at                  timestamptz NOT NULL,
    created_at                  timestamptz NOT NULL,
    ingested_at                 timestamptz NOT NULL DEFAULT now(),
    CHECK (started_at <= created_at),
    CHECK ((cost_source = 'unpriced') = (cost_usd IS NULL))
);
CREATE INDEX agent_llm_calls_correlation_time ON agent_llm_calls (correlation_id, started_at);
CREATE INDEX agent_llm_calls_created_brin ON agent_llm_calls USING brin (created_at);
CREATE INDEX agent_llm_calls_session ON agent_llm_calls (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX agent_llm_calls_request ON agent_llm_calls (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX agent_llm_calls_model_created ON agent_llm_calls (model, created_at DESC);

CREATE FUNCTION omniclaude_cost_rank(source text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE source WHEN 'unpriced' THEN 0 WHEN 'estimate' THEN 1 WHEN 'exact' THEN 2
                       ELSE -1 END
$$;

"""

DOWNGRADE = r"""
DROP FUNCTION get_complete_trace(uuid);
DROP VIEW agent_trace_events;
DROP FUNCTION omniclaude_cost_rank(text);
DROP TABLE agent_llm_calls;
ALTER TABLE agent_transformation_events DROP COLUMN started_at;
ALTER TABLE agent_manifest_injections DROP COLUMN started_at;
ALTER TABLE agent_routing_decisions DROP COLUMN started_at;
ALTER TABLE agent_actions DROP CONSTRAINT agent_actions_started_before_end;
UPDATE agent_actions SET created_at = started_at WHERE action_details ? 'hook_event';
ALTER TABLE agent_actions DROP COLUMN started_at;
"""


def upgrade() -> None:
    """Add ``started_at`` everywhere (converting stored rows) and ``agent_llm_calls``."""
    run_script(UPGRADE)
    run_script(TRACE_VIEW_0002)


def downgrade() -> None:
    """Back to 0001: the hook rows' start in ``created_at`` again; no LLM calls."""
    run_script(DOWNGRADE)
    run_script(TRACE_VIEW_0001)
