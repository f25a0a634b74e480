"""Agent actions: tool calls, decisions, errors and successes."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import Field

from omniclaude.events.base import AgentName, DurationMs, Identifier, JsonObject, TimedEvent
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS, NOT_BLANK

__all__ = ["TELEMETRY_OF", "TOOL_TELEMETRY_EVENTS", "ActionType", "AgentAction"]

TOOL_TELEMETRY_EVENTS: Final = frozenset({"tool_result", "tool_decision"})
"""Names of ``decision`` actions that describe a tool call recorded elsewhere (Claude Code's
OTel ``tool_result`` / ``tool_decision``): the trace read folds them into that call."""

TELEMETRY_OF: Final = "telemetry_of"
"""The ``action_details`` key of a tool telemetry action: the ``tool_use_id`` it describes."""


class ActionType(StrEnum):
    """The four kinds of agent action the spec requires to be logged."""

    TOOL_CALL = "tool_call"
    DECISION = "decision"
    ERROR = "error"
    SUCCESS = "success"


class AgentAction(TimedEvent):
    """One thing an agent did, linked to its execution by ``correlation_id``.

    Timed (see :class:`~omniclaude.events.base.TimedEvent`): ``started_at`` → ``timestamp``.
    """

    event_type: Literal["agent_action"] = "agent_action"
    action_type: ActionType
    action_name: str = Field(min_length=1, max_length=MAX_ACTION_NAME_CHARS, pattern=NOT_BLANK)
    action_details: JsonObject = Field(default_factory=dict)
    agent_name: AgentName | None = None
    duration_ms: DurationMs | None = None
    debug_mode: bool = False
    session_id: Identifier | None = None
    prompt_id: Identifier | None = None
    tool_use_id: Identifier | None = None
    project_path: str | None = None
    project_name: str | None = None
    working_directory: str | None = None
