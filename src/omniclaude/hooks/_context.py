"""The mapping's state and the helpers its handlers share (see :mod:`omniclaude.hooks.mapping`).

Resolving which execution a payload belongs to: its session (implied when the session's
start was never seen), its prompt (by ``prompt_id``, else the session's current prompt) and
its subagent (by ``agent_id``); closing prompts, subagents and unfinished calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from omniclaude.events import (
    ActionType,
    AgentAction,
    EventBase,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionStatus,
)
from omniclaude.hooks.follow import subagent_transcript_path
from omniclaude.hooks.history import Histories
from omniclaude.hooks.labels import tool_label
from omniclaude.hooks.pairing import OpenCall, ToolPairing
from omniclaude.hooks.payloads import HookPayload, ns_to_datetime
from omniclaude.hooks.sessions import (
    AGENT_NAME,
    AgentState,
    PromptState,
    SessionState,
    agent_correlation_id,
    derive_id,
    prompt_correlation_id,
    session_correlation_id,
)
from omniclaude.hooks.shaping import Shaper
from omniclaude.pricing import PriceTable

__all__ = ["SUBAGENT_TOOLS", "MappingContext", "RouteFn", "TranscriptNote", "project_name", "ts"]

SUBAGENT_TOOLS: Final = frozenset({"Agent", "Task"})
"""Tools that launch a subagent."""


@dataclass(frozen=True, slots=True)
class TranscriptNote:
    """A transcript to follow (``follow``, its path) or whose session/subagent ended (``close``)."""

    action: str
    path: str | None
    session_id: str
    agent_id: str | None


RouteFn = Callable[[str], dict[str, Any]]
"""Routes a prompt: returns :class:`RoutingDecision` fields (selected_agent, confidence...)."""


ts = ns_to_datetime
"""``ns`` (nanoseconds since the epoch) as an aware UTC datetime."""


def project_name(path: str | None) -> str | None:
    """Return the last component of a project path (None for none)."""
    if not path:
        return None
    return os.path.basename(path.rstrip("/")) or None


class MappingContext:
    """The state the mapping keeps between payloads, and the helpers handlers share."""

    def __init__(
        self,
        *,
        shaper: Shaper,
        router: RouteFn | None = None,
        session_timeout_s: float = 6 * 3600,
        prices: PriceTable | None = None,
    ) -> None:
        """Create a mapper with no open session.

        Args:
            shaper: truncates and redacts payload values.
            router: routes each prompt; None publishes Claude Code's own choice instead.
            session_timeout_s: a session idle this long is closed by :meth:`expire`.
            prices: prices LLM calls (None: every call is unpriced).
        """
        self._shaper = shaper
        self._router = router
        self._timeout_ns = int(session_timeout_s * 1e9)
        self._sessions: dict[str, SessionState] = {}
        self._calls = ToolPairing()
        self._prices = prices
        self._history = Histories()
        self._notes: list[TranscriptNote] = []

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """Return the open sessions and calls as JSON-ready data (committed with the offset)."""
        return {
            "sessions": {sid: s.to_state() for sid, s in self._sessions.items()},
            "calls": self._calls.to_state(),
            "history": self._history.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`to_state` returned (after a restart)."""
        self._sessions = {
            sid: SessionState.from_state(data) for sid, data in state.get("sessions", {}).items()
        }
        self._calls = ToolPairing.from_state(state.get("calls", []))
        self._history.load_state(state.get("history", []))

    def take_transcript_notes(self) -> list[TranscriptNote]:
        """The transcripts payloads named (to follow) and closed, since the last call."""
        notes, self._notes = self._notes, []
        return notes

    def _note_transcripts(self, p: HookPayload) -> None:
        """Which transcripts this payload names: its session's, a subagent's; or closes."""
        path = p.get("transcript_path")
        if p.event == "SubagentStop" and p.agent_id:
            own = p.get("agent_transcript_path") or (
                subagent_transcript_path(path, p.session_id, p.agent_id) if path else None
            )
            if own:
                self._notes.append(TranscriptNote("follow", own, p.session_id, p.agent_id))
            self._notes.append(TranscriptNote("close", None, p.session_id, p.agent_id))
            return
        if path:
            self._notes.append(TranscriptNote("follow", path, p.session_id, None))
            if p.event == "SubagentStart" and p.agent_id:
                own = subagent_transcript_path(path, p.session_id, p.agent_id)
                self._notes.append(TranscriptNote("follow", own, p.session_id, p.agent_id))
        if p.event == "SessionEnd":
            self._notes.append(TranscriptNote("close", None, p.session_id, None))

    @property
    def open_sessions(self) -> list[str]:
        """Session ids not yet closed."""
        return list(self._sessions)

    # ------------------------------------------------------------------ context
    def _session(self, p: HookPayload, out: list[EventBase]) -> SessionState:
        state = self._sessions.get(p.session_id)
        if state is None:
            state = SessionState(
                session_id=p.session_id,
                correlation_id=str(session_correlation_id(p.session_id)),
                last_ns=p.received_ns,
                project_path=p.cwd,
                agent_type=None if p.agent_id else p.agent_type,
                started_ns=p.received_ns,
            )
            self._sessions[p.session_id] = state
            self._history.session(
                p.session_id, state.correlation_id, started_ns=p.received_ns,
                project_path=state.project_path, agent_type=state.agent_type,
            )  # fmt: skip
            if p.event != "SessionStart":
                out.append(self._session_started(p, state, implied=True))
        state.last_ns = max(state.last_ns, p.received_ns)
        return state

    def _session_started(self, p: HookPayload, s: SessionState, *, implied: bool) -> EventBase:
        role = "session-started-implied" if implied else "session-started"
        metadata: dict[str, Any] = {"integration": "claude-code", "first_hook_event": p.event}
        for name in ("source", "model", "permission_mode", "transcript_path", "session_title"):
            if p.data.get(name) is not None:
                metadata[name] = p.data[name]
        if implied:
            metadata["implied"] = True
        title = self._shaper.text(p.get("session_title"))
        if title:
            s.titled = True
            metadata["title_source"] = "session_title"
        return ExecutionStarted(
            event_id=derive_id(role, p.session_id, "" if implied else p.key),
            correlation_id=s.correlation_id,
            timestamp=p.received_at,
            agent_name=s.agent_type or AGENT_NAME,
            user_prompt=title,
            session_id=p.session_id,
            project_path=s.project_path,
            project_name=project_name(s.project_path),
            metadata=self._shaper.details(metadata),
        )

    def _title_session(self, s: SessionState, title: str | None, out: list[EventBase]) -> None:
        """Title a session not titled yet with its first prompt (a second start event).

        Lifecycle events merge into the one row per execution (the earliest start is kept),
        so this start, stamped with the session's own start time, only adds the title.
        """
        if s.titled or not title:
            return
        s.titled = True
        out.append(
            ExecutionStarted(
                event_id=derive_id("session-titled", s.session_id),
                correlation_id=s.correlation_id,
                timestamp=ts(s.started_ns if s.started_ns is not None else s.last_ns),
                agent_name=s.agent_type or AGENT_NAME,
                user_prompt=title,
                session_id=s.session_id,
                project_path=s.project_path,
                project_name=project_name(s.project_path),
                metadata={"title_source": "first_prompt"},
            )
        )

    def _prompt(self, p: HookPayload, s: SessionState, out: list[EventBase]) -> PromptState | None:
        """The prompt ``p`` belongs to: by ``prompt_id``, else the session's current one."""
        if p.prompt_id is None or (s.prompt is not None and s.prompt.prompt_id == p.prompt_id):
            return s.prompt
        cid = str(prompt_correlation_id(p.session_id, p.prompt_id))
        prompt = PromptState(correlation_id=cid, prompt_id=p.prompt_id, started_ns=p.received_ns)
        if cid in s.closed_prompts:
            return prompt  # a late event of a finished prompt: attach, don't reopen
        # UserPromptSubmit was missed (hooks installed mid-prompt): imply the prompt.
        self._remember_prompt(s, prompt)
        out.append(
            ExecutionStarted(
                event_id=derive_id("prompt-started-implied", cid),
                correlation_id=cid,
                parent_correlation_id=s.correlation_id,
                timestamp=p.received_at,
                agent_name=s.agent_type or AGENT_NAME,
                session_id=p.session_id,
                prompt_id=p.prompt_id,
                project_path=s.project_path,
                project_name=project_name(s.project_path),
                metadata={"implied": True, "first_hook_event": p.event},
            )
        )
        if s.prompt is None:
            s.prompt = prompt
        return prompt

    def _remember_prompt(self, s: SessionState, prompt: PromptState) -> None:
        history = self._history.get(s.session_id)
        if history is not None:
            history.add_prompt(prompt.started_ns, prompt.correlation_id, prompt.prompt_id)

    def _launching_call(self, s: SessionState) -> str | None:
        """The oldest open Agent/Task call of the session not yet tied to a subagent."""
        history = self._history.get(s.session_id)
        taken = {a.tool_use_id for a in s.agents.values()} | (
            {a.tool_use_id for a in history.agents.values()} if history else set()
        )
        for call in self._calls:
            if (
                call.session_id == s.session_id
                and call.tool_name in SUBAGENT_TOOLS
                and call.tool_use_id
                and call.tool_use_id not in taken
            ):
                return call.tool_use_id
        return None

    def _agent(
        self, p: HookPayload, s: SessionState, prompt: PromptState | None, out: list[EventBase]
    ) -> AgentState:
        agent_id = p.agent_id or p.key
        agent = s.agents.get(agent_id)
        if agent is None:
            agent = AgentState(
                correlation_id=str(agent_correlation_id(p.session_id, agent_id)),
                parent_correlation_id=prompt.correlation_id if prompt else s.correlation_id,
                agent_type=p.agent_type,
                prompt_id=prompt.prompt_id if prompt else p.prompt_id,
                started_ns=p.received_ns,
            )
            s.agents[agent_id] = agent
            if p.event != "SubagentStart":
                out.append(self._agent_started(p, s, agent_id, agent, implied=True))
        return agent

    def _agent_started(
        self, p: HookPayload, s: SessionState, agent_id: str, agent: AgentState, *, implied: bool
    ) -> EventBase:
        metadata: dict[str, Any] = {"integration": "claude-code", "claude_agent_id": agent_id}
        if implied:
            metadata["implied"] = True
        if agent.tool_use_id is None:
            agent.tool_use_id = self._launching_call(s)
        if agent.tool_use_id:
            metadata["parent_tool_use_id"] = agent.tool_use_id
        self._history.add_agent(s.session_id, agent_id, agent)
        return ExecutionStarted(
            event_id=derive_id(
                "agent-started-implied" if implied else "agent-started", agent.correlation_id
            ),
            correlation_id=agent.correlation_id,
            parent_correlation_id=agent.parent_correlation_id,
            timestamp=p.received_at,
            agent_name=agent.agent_type or "subagent",
            session_id=p.session_id,
            prompt_id=agent.prompt_id,
            claude_agent_id=agent_id,
            project_path=s.project_path,
            project_name=project_name(s.project_path),
            metadata=metadata,
        )

    def _target(self, p: HookPayload, out: list[EventBase]) -> tuple[SessionState, str, str | None]:
        """Return ``(session, correlation id the event belongs to, prompt_id)``."""
        s = self._session(p, out)
        prompt = self._prompt(p, s, out)
        prompt_id = p.prompt_id or (prompt.prompt_id if prompt else None)
        if p.agent_id:
            return s, self._agent(p, s, prompt, out).correlation_id, prompt_id
        return s, prompt.correlation_id if prompt else s.correlation_id, prompt_id

    def _close_call(
        self, p: HookPayload, out: list[EventBase]
    ) -> tuple[OpenCall | None, str | None, SessionState, str, str | None]:
        """Take the open call a result (or a denial) ends, and where its row belongs.

        Returns:
            ``(call or None, how it was paired, session, correlation id, prompt_id)``; a
            result without agent or prompt ids belongs where its PreToolUse was.
        """
        call, paired_by = self._calls.close(
            session_id=p.session_id, tool_name=p.tool_name,
            tool_use_id=p.tool_use_id, agent_id=p.agent_id,
        )  # fmt: skip
        s, cid, prompt_id = self._target(p, out)
        if call is not None and not (p.agent_id or p.prompt_id):
            cid, prompt_id = call.correlation_id, call.prompt_id or prompt_id
        return call, paired_by, s, cid, prompt_id

    def _action(
        self,
        p: HookPayload,
        s: SessionState,
        *,
        event_id: Any,
        correlation_id: str,
        action_type: ActionType,
        name: str,
        details: dict[str, Any],
        prompt_id: str | None,
        duration_ms: float | None = None,
        started_ns: int | None = None,
        tool_use_id: str | None = None,
    ) -> AgentAction:
        """An action recorded when ``p`` arrived (its end); it began at ``started_ns``."""
        details = {"hook_event": p.event, **details}
        if p.data.get("permission_mode") is not None:
            details["permission_mode"] = p.data["permission_mode"]
        if p.agent_id:
            details["agent_id"] = p.agent_id
        agent = s.agents.get(p.agent_id) if p.agent_id else None
        return AgentAction(
            event_id=event_id,
            correlation_id=correlation_id,
            timestamp=p.received_at,
            started_at=ts(started_ns if started_ns is not None else p.received_ns),
            action_type=action_type,
            action_name=name[:512],
            action_details=self._shaper.details(details),
            agent_name=(agent.agent_type if agent else None) or s.agent_type or AGENT_NAME,
            duration_ms=duration_ms,
            session_id=p.session_id,
            prompt_id=prompt_id,
            tool_use_id=tool_use_id,
            project_path=s.project_path,
            project_name=project_name(s.project_path),
            working_directory=p.cwd,
        )

    # ------------------------------------------------------------------ closing
    def _unfinished(self, calls: list[OpenCall], reason: str) -> list[EventBase]:
        out: list[EventBase] = []
        for call in calls:
            s = self._sessions.get(call.session_id)
            out.append(
                AgentAction(
                    event_id=derive_id("tool-unfinished", call.key),
                    correlation_id=call.correlation_id,
                    timestamp=ts(call.received_ns),
                    started_at=ts(call.received_ns),
                    action_type=ActionType.TOOL_CALL,
                    action_name=call.tool_name[:512],
                    action_details=self._shaper.details(
                        {
                            "hook_event": "PreToolUse",
                            "label": tool_label(
                                call.tool_name,
                                call.tool_input,
                                cwd=s.project_path if s else None,
                            )
                            + " · no result",
                            "tool_input": call.tool_input,
                            "status": "no_result",
                            "reason": reason,
                            **call.extra,
                        }
                    ),
                    agent_name=(s.agent_type if s else None) or AGENT_NAME,
                    session_id=call.session_id,
                    prompt_id=call.prompt_id,
                    tool_use_id=call.tool_use_id,
                    project_path=s.project_path if s else None,
                    project_name=project_name(s.project_path if s else None),
                )
            )
        return out

    def _close_prompt(
        self, s: SessionState, status: ExecutionStatus, reason: str, at_ns: int
    ) -> list[EventBase]:
        prompt = s.prompt
        if prompt is None:
            return []
        s.prompt = None
        s.remember_closed(prompt.correlation_id)
        return self._close_execution(
            "prompt-closed",
            correlation_id=prompt.correlation_id,
            parent_correlation_id=s.correlation_id,
            agent_name=s.agent_type or AGENT_NAME,
            status=status,
            reason=reason,
            at_ns=at_ns,
        )

    def _close_session_children(
        self, s: SessionState, reason: str, at_ns: int, out: list[EventBase]
    ) -> None:
        out.extend(self._close_prompt(s, ExecutionStatus.CANCELLED, reason, at_ns))
        for agent_id, agent in list(s.agents.items()):
            out.extend(
                self._close_agent(
                    s,
                    agent_id=agent_id,
                    agent=agent,
                    status=ExecutionStatus.CANCELLED,
                    reason=reason,
                    at_ns=at_ns,
                )
            )
        out.extend(
            self._unfinished(self._calls.drain(lambda c: c.session_id == s.session_id), reason)
        )

    def _close_agent(
        self,
        s: SessionState,
        *,
        agent_id: str,
        agent: AgentState,
        status: ExecutionStatus,
        reason: str,
        at_ns: int,
    ) -> list[EventBase]:
        s.agents.pop(agent_id, None)
        return self._close_execution(
            "agent-closed",
            correlation_id=agent.correlation_id,
            parent_correlation_id=agent.parent_correlation_id,
            agent_name=agent.agent_type or "subagent",
            status=status,
            reason=reason,
            at_ns=at_ns,
        )

    def _close_execution(
        self,
        kind: str,
        *,
        correlation_id: str,
        parent_correlation_id: str,
        agent_name: str,
        status: ExecutionStatus,
        reason: str,
        at_ns: int,
    ) -> list[EventBase]:
        """End an execution omniclaude closes itself: its unfinished calls, then its summary."""
        out = self._unfinished(
            self._calls.drain(lambda c: c.correlation_id == correlation_id), reason
        )
        out.append(
            ExecutionCompleted(
                event_id=derive_id(kind, correlation_id),
                correlation_id=correlation_id,
                parent_correlation_id=parent_correlation_id,
                timestamp=ts(at_ns),
                agent_name=agent_name,
                status=status,
                result={"closed_by": "omniclaude", "reason": reason},
            )
        )
        return out
