"""Initial schema: one append-only table per event family, the execution summary, API keys.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26
"""

from omniclaude.storage.migrations._history import TRACE_VIEW_0001
from omniclaude.storage.migrations._script import run_script

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE agent_actions (
    event_id          uuid PRIMARY KEY,
    correlation_id    uuid NOT NULL,
    agent_name        text,
    action_type       text NOT NULL
        CHECK (action_type IN ('tool_call', 'decision', 'error', 'success')),
    action_name       text NOT NULL,
    action_details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    debug_mode        boolean NOT NULL DEFAULT false,
    duration_ms       double precision CHECK (duration_ms >= 0),
    session_id        text,
    prompt_id         text,
    tool_use_id       text,
    project_path      text,
    project_name      text,
    working_directory text,
    schema_version    integer NOT NULL DEFAULT 1,
    producer          jsonb,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL,
    ingested_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_actions_correlation_time ON agent_actions (correlation_id, created_at);
CREATE INDEX agent_actions_created_brin ON agent_actions USING brin (created_at);
CREATE INDEX agent_actions_session ON agent_actions (session_id) WHERE session_id IS NOT NULL;

CREATE TABLE agent_execution_events (
    event_id              uuid PRIMARY KEY,
    correlation_id        uuid NOT NULL,
    event_type            text NOT NULL CHECK (event_type IN (
        'execution_started', 'execution_progress', 'execution_completed', 'execution_failed')),
    parent_correlation_id uuid,
    agent_name            text,
    status                text NOT NULL
        CHECK (status IN ('in_progress', 'success', 'cancelled', 'failed')),
    payload               jsonb NOT NULL,
    schema_version        integer NOT NULL DEFAULT 1,
    producer              jsonb,
    created_at            timestamptz NOT NULL,
    ingested_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_execution_events_correlation_time
    ON agent_execution_events (correlation_id, created_at);
CREATE INDEX agent_execution_events_created_brin ON agent_execution_events USING brin (created_at);

CREATE TABLE agent_execution_logs (
    execution_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    correlation_id        uuid NOT NULL UNIQUE,
    parent_correlation_id uuid,
    session_id            text,
    prompt_id             text,
    claude_agent_id       text,
    agent_name            text NOT NULL,
    user_prompt           text,
    status                text NOT NULL
        CHECK (status IN ('in_progress', 'success', 'cancelled', 'failed')),
    progress_stage        text,
    progress_percent      double precision,
    progress_at           timestamptz,
    quality_score         numeric(5, 4) CHECK (quality_score BETWEEN 0 AND 1),
    result                jsonb,
    error_message         text,
    error_type            text,
    duration_ms           double precision,
    project_path          text,
    project_name          text,
    metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL,
    started_at            timestamptz,
    completed_at          timestamptz,
    last_event_at         timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_execution_logs_created ON agent_execution_logs (created_at DESC);
CREATE INDEX agent_execution_logs_parent ON agent_execution_logs (parent_correlation_id)
    WHERE parent_correlation_id IS NOT NULL;
CREATE INDEX agent_execution_logs_agent_created ON agent_execution_logs (agent_name, created_at DESC);
CREATE INDEX agent_execution_logs_status_created ON agent_execution_logs (status, created_at DESC);
CREATE INDEX agent_execution_logs_session ON agent_execution_logs (session_id)
    WHERE session_id IS NOT NULL;

CREATE FUNCTION omniclaude_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'in_progress' THEN 0 WHEN 'success' THEN 1
        WHEN 'cancelled' THEN 2 WHEN 'failed' THEN 3 ELSE -1 END
$$;

-- Maintains the one row per execution from its lifecycle events, in the inserting
-- transaction. Order-independent: the status only moves to a higher rank, so a late
-- 'progress' never reopens a completed execution, whatever order a redelivery brings.
CREATE FUNCTION omniclaude_apply_execution_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    p jsonb := NEW.payload;
    is_terminal boolean := NEW.status <> 'in_progress';
    is_progress boolean := NEW.event_type = 'execution_progress';
BEGIN
    INSERT INTO agent_execution_logs AS l (
        correlation_id, parent_correlation_id, session_id, prompt_id, claude_agent_id,
        agent_name, user_prompt, status, progress_stage, progress_percent, progress_at,
        quality_score, result, error_message, error_type, duration_ms,
        project_path, project_name, metadata, created_at, started_at, completed_at,
        last_event_at)
    VALUES (
        NEW.correlation_id, NEW.parent_correlation_id, p->>'session_id', p->>'prompt_id',
        p->>'claude_agent_id', coalesce(NEW.agent_name, 'unknown'), p->>'user_prompt',
        NEW.status,
        CASE WHEN is_progress THEN p->>'stage' END,
        CASE WHEN is_progress THEN (p->>'percent')::double precision END,
        CASE WHEN is_progress THEN NEW.created_at END,
        (p->>'quality_score')::numeric, p->'result', p->>'error_message', p->>'error_type',
        (p->>'duration_ms')::double precision, p->>'project_path', p->>'project_name',
        coalesce(p->'metadata', '{}'::jsonb), NEW.created_at,
        CASE WHEN NEW.event_type = 'execution_started' THEN NEW.created_at END,
        CASE WHEN is_terminal THEN NEW.created_at END,
        NEW.created_at)
    ON CONFLICT (correlation_id) DO UPDATE SET
        parent_correlation_id = coalesce(l.parent_correlation_id, EXCLUDED.parent_correlation_id),
        session_id = coalesce(l.session_id, EXCLUDED.session_id),
        prompt_id = coalesce(l.prompt_id, EXCLUDED.prompt_id),
        claude_agent_id = coalesce(l.claude_agent_id, EXCLUDED.claude_agent_id),
        agent_name = CASE
            WHEN NEW.event_type = 'execution_started' OR l.agent_name = 'unknown'
            THEN EXCLUDED.agent_name ELSE l.agent_name END,
        user_prompt = coalesce(l.user_prompt, EXCLUDED.user_prompt),
        status = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN EXCLUDED.status ELSE l.status END,
        progress_stage = CASE
            WHEN is_progress AND (l.progress_at IS NULL OR EXCLUDED.progress_at >= l.progress_at)
            THEN EXCLUDED.progress_stage ELSE l.progress_stage END,
        progress_percent = CASE
            WHEN is_progress AND (l.progress_at IS NULL OR EXCLUDED.progress_at >= l.progress_at)
            THEN EXCLUDED.progress_percent ELSE l.progress_percent END,
        progress_at = CASE
            WHEN is_progress AND (l.progress_at IS NULL OR EXCLUDED.progress_at >= l.progress_at)
            THEN EXCLUDED.progress_at ELSE l.progress_at END,
        quality_score = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN coalesce(EXCLUDED.quality_score, l.quality_score)
            ELSE coalesce(l.quality_score, EXCLUDED.quality_score) END,
        result = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN coalesce(EXCLUDED.result, l.result) ELSE coalesce(l.result, EXCLUDED.result) END,
        error_message = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN coalesce(EXCLUDED.error_message, l.error_message)
            ELSE coalesce(l.error_message, EXCLUDED.error_message) END,
        error_type = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN coalesce(EXCLUDED.error_type, l.error_type)
            ELSE coalesce(l.error_type, EXCLUDED.error_type) END,
        duration_ms = coalesce(
            CASE WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
                 THEN EXCLUDED.duration_ms END,
            l.duration_ms,
            EXCLUDED.duration_ms,
            CASE WHEN is_terminal AND l.started_at IS NOT NULL
                 THEN extract(epoch FROM (NEW.created_at - l.started_at)) * 1000 END),
        project_path = coalesce(l.project_path, EXCLUDED.project_path),
        project_name = coalesce(l.project_name, EXCLUDED.project_name),
        metadata = l.metadata || EXCLUDED.metadata,
        created_at = least(l.created_at, EXCLUDED.created_at),
        started_at = coalesce(least(l.started_at, EXCLUDED.started_at), l.started_at, EXCLUDED.started_at),
        completed_at = CASE
            WHEN omniclaude_status_rank(EXCLUDED.status) > omniclaude_status_rank(l.status)
            THEN EXCLUDED.completed_at ELSE l.completed_at END,
        last_event_at = greatest(l.last_event_at, EXCLUDED.last_event_at),
        updated_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_execution_events_apply
    AFTER INSERT ON agent_execution_events
    FOR EACH ROW EXECUTE FUNCTION omniclaude_apply_execution_event();

CREATE TABLE agent_routing_decisions (
    event_id              uuid PRIMARY KEY,
    correlation_id        uuid NOT NULL,
    parent_correlation_id uuid,
    session_id            text,
    user_request          text NOT NULL,
    user_request_hash     text NOT NULL,
    context_snapshot      jsonb NOT NULL DEFAULT '{}'::jsonb,
    selected_agent        text NOT NULL,
    confidence_score      numeric(5, 4) NOT NULL CHECK (confidence_score BETWEEN 0 AND 1),
    routing_strategy      text NOT NULL,
    trigger_confidence    numeric(5, 4),
    context_confidence    numeric(5, 4),
    capability_confidence numeric(5, 4),
    historical_confidence numeric(5, 4),
    alternatives          jsonb NOT NULL DEFAULT '[]'::jsonb,
    alternatives_count    integer NOT NULL DEFAULT 0,
    reasoning             text,
    matched_triggers      text[] NOT NULL DEFAULT '{}',
    matched_capabilities  text[] NOT NULL DEFAULT '{}',
    routing_time_ms       double precision NOT NULL CHECK (routing_time_ms >= 0),
    cache_hit             boolean NOT NULL DEFAULT false,
    is_fallback           boolean NOT NULL DEFAULT false,
    schema_version        integer NOT NULL DEFAULT 1,
    producer              jsonb,
    metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL,
    ingested_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_routing_decisions_correlation ON agent_routing_decisions (correlation_id);
CREATE INDEX agent_routing_decisions_created_brin ON agent_routing_decisions USING brin (created_at);
CREATE INDEX agent_routing_decisions_agent_created
    ON agent_routing_decisions (selected_agent, created_at DESC);

CREATE TABLE agent_manifest_injections (
    event_id            uuid PRIMARY KEY,
    correlation_id      uuid NOT NULL,
    session_id          text,
    routing_decision_id uuid,
    agent_name          text NOT NULL,
    manifest_version    text,
    generation_source   text,
    is_fallback         boolean NOT NULL DEFAULT false,
    sections_included   text[] NOT NULL,
    sections            jsonb NOT NULL DEFAULT '[]'::jsonb,
    query_times         jsonb NOT NULL DEFAULT '{}'::jsonb,
    total_query_time_ms double precision NOT NULL CHECK (total_query_time_ms >= 0),
    manifest_size_bytes integer,
    warnings            text[] NOT NULL DEFAULT '{}',
    query_failures      jsonb NOT NULL DEFAULT '{}'::jsonb,
    schema_version      integer NOT NULL DEFAULT 1,
    producer            jsonb,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    ingested_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_manifest_injections_correlation ON agent_manifest_injections (correlation_id);
CREATE INDEX agent_manifest_injections_created_brin
    ON agent_manifest_injections USING brin (created_at);

CREATE TABLE agent_transformation_events (
    event_id                   uuid PRIMARY KEY,
    event_type                 text NOT NULL CHECK (event_type IN (
        'transformation_start', 'transformation_complete', 'transformation_failed')),
    correlation_id             uuid NOT NULL,
    session_id                 text,
    source_agent               text,
    target_agent               text NOT NULL,
    transformation_reason      text,
    routing_confidence         numeric(5, 4),
    routing_strategy           text,
    user_request               text,
    transformation_duration_ms double precision,
    success                    boolean,
    error_message              text,
    error_type                 text,
    parent_event_id            uuid,
    schema_version             integer NOT NULL DEFAULT 1,
    producer                   jsonb,
    metadata                   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at                 timestamptz NOT NULL,
    ingested_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_transformation_events_correlation
    ON agent_transformation_events (correlation_id);
CREATE INDEX agent_transformation_events_created_brin
    ON agent_transformation_events USING brin (created_at);

CREATE TABLE api_keys (
    key_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    key_prefix   text NOT NULL UNIQUE,
    key_hash     text NOT NULL,
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin']::text[]),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS get_complete_trace(uuid);
DROP VIEW IF EXISTS agent_trace_events;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS agent_transformation_events;
DROP TABLE IF EXISTS agent_manifest_injections;
DROP TABLE IF EXISTS agent_routing_decisions;
DROP TRIGGER IF EXISTS agent_execution_events_apply ON agent_execution_events;
DROP FUNCTION IF EXISTS omniclaude_apply_execution_event();
DROP FUNCTION IF EXISTS omniclaude_status_rank(text);
DROP TABLE IF EXISTS agent_execution_logs;
DROP TABLE IF EXISTS agent_execution_events;
DROP TABLE IF EXISTS agent_actions;
"""


def upgrade() -> None:
    """Create the tables, the execution trigger, the trace view and function."""
    run_script(UPGRADE)
    run_script(TRACE_VIEW_0001)


def downgrade() -> None:
    """Drop everything the upgrade created."""
    run_script(DOWNGRADE)
