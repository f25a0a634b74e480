"""SQL that more than one migration runs: a later downgrade restores what an earlier one made."""

from __future__ import annotations

__all__ = ["TRACE_VIEW_0001", "TRACE_VIEW_0002", "TRACE_VIEW_DROP"]

TRACE_VIEW_0001 = r"""
-- Every row of a trace, in time order, whatever table it lives in.
CREATE VIEW agent_trace_events AS
    SELECT correlation_id, created_at, 'execution'::text AS source, event_id,
           event_type AS kind, agent_name, payload AS details
      FROM agent_execution_events
    UNION ALL
    SELECT correlation_id, created_at, 'action', event_id, action_type, agent_name,
           jsonb_build_object('action_name', action_name, 'action_details', action_details,
                              'duration_ms', duration_ms, 'tool_use_id', tool_use_id)
      FROM agent_actions
    UNION ALL
    SELECT correlation_id, created_at, 'routing', event_id, 'routing_decision', selected_agent,
           jsonb_build_object('confidence_score', confidence_score, 'routing_strategy',
                              routing_strategy, 'alternatives', alternatives,
                              'reasoning', reasoning, 'routing_time_ms', routing_time_ms)
      FROM agent_routing_decisions
    UNION ALL
    SELECT correlation_id, created_at, 'manifest', event_id, 'manifest_injection', agent_name,
           jsonb_build_object('sections', sections, 'total_query_time_ms', total_query_time_ms,
                              'is_fallback', is_fallback)
      FROM agent_manifest_injections
    UNION ALL
    SELECT correlation_id, created_at, 'transformation', event_id, event_type, target_agent,
           jsonb_build_object('source_agent', source_agent, 'target_agent', target_agent,
                              'transformation_reason', transformation_reason,
                              'routing_confidence', routing_confidence)
      FROM agent_transformation_events;

CREATE FUNCTION get_complete_trace(trace_id uuid)
RETURNS SETOF agent_trace_events
LANGUAGE sql STABLE AS $$
    SELECT * FROM agent_trace_events WHERE correlation_id = trace_id
    ORDER BY created_at, source, event_id
$$;
"""
"""The trace view and function as 0001 created them (0002's downgrade puts them back)."""


TRACE_VIEW_0002 = r"""
-- Every row of a trace in the order things began, whatever table it lives in.
-- started_at: when it began; created_at: when it ended (a point event: both the same).
CREATE VIEW agent_trace_events AS
    SELECT correlation_id, created_at, 'execution'::text AS source, event_id,
           event_type AS kind, agent_name, payload AS details, created_at AS started_at
      FROM agent_execution_events
    UNION ALL
    SELECT correlation_id, created_at, 'action', event_id, action_type, agent_name,
           jsonb_build_object('action_name', action_name, 'action_details', action_details,
                              'duration_ms', duration_ms, 'tool_use_id', tool_use_id),
           started_at
      FROM agent_actions
    UNION ALL
    SELECT correlation_id, created_at, 'routing', event_id, 'routing_decision', selected_agent,
           jsonb_build_object('confidence_score', confidence_score, 'routing_strategy',
                              routing_strategy, 'alternatives', alternatives,
                              'reasoning', reasoning, 'routing_time_ms', routing_time_ms),
           started_at
      FROM agent_routing_decisions
    UNION ALL
    SELECT correlation_id, created_at, 'manifest', event_id, 'manifest_injection', agent_name,
           jsonb_build_object('sections', sections, 'total_query_time_ms', total_query_time_ms,
                              'is_fallback', is_fallback),
           started_at
      FROM agent_manifest_injections
    UNION ALL
    SELECT correlation_id, created_at, 'transformation', event_id, event_type, target_agent,
           jsonb_build_object('source_agent', source_agent, 'target_agent', target_agent,
                              'transformation_reason', transformation_reason,
                              'routing_confidence', routing_confidence),
           started_at
      FROM agent_transformation_events
    UNION ALL
    SELECT correlation_id, created_at, 'llm', event_id, 'llm_call', agent_name,
           jsonb_build_object('model', model, 'input_tokens', input_tokens,
                              'output_tokens', output_tokens,
                              'cache_creation_input_tokens', cache_creation_input_tokens,
                              'cache_read_input_tokens', cache_read_input_tokens,
                              'cost_usd', cost_usd, 'cost_source', cost_source,
                              'stop_reason', stop_reason, 'tool_use_ids', tool_use_ids),
           started_at
      FROM agent_llm_calls;

CREATE FUNCTION get_complete_trace(trace_id uuid)
RETURNS SETOF agent_trace_events
LANGUAGE sql STABLE AS $$
    SELECT * FROM agent_trace_events WHERE correlation_id = trace_id
    ORDER BY started_at, created_at, source, event_id
$$;
"""

TRACE_VIEW_DROP = r"""
DROP FUNCTION get_complete_trace(uuid);
DROP VIEW agent_trace_events;
"""
