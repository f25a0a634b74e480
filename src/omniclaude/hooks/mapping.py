"""Mapping Claude Code hook payloads to OmniClaude events.

The model:

* a **session** is an execution (correlation id = UUIDv5 of ``session_id``), closed by
  ``SessionEnd`` (success) or, never seen ending, by the idle timeout rule (cancelled);
* each **prompt** (``UserPromptSubmit``) is a child execution of its session, carrying
  ``prompt_id`` when Claude Code sends one, with a routing decision for the prompt; ``Stop``
  closes it with success, ``StopFailure`` with an error, a new prompt before ``Stop`` (the
  user interrupted) cancels it;
* ``PreToolUse`` + ``PostToolUse`` of one call become ONE ``tool_call`` action (paired by
  ``tool_use_id``, by order without one), with ``duration_ms`` from the payload or else the
  hooks' receive times; ``PostToolUseFailure`` becomes an ``error`` action for the call;
* ``PermissionRequest``/``PermissionDenied``, notifications, compactions and every other or
  unknown event become ``decision`` actions holding the payload's fields as they came;
* **subagents** (``SubagentStart``/``SubagentStop``, matched by ``agent_id``) are child
  executions of the prompt; tool calls made inside them belong to them.

Values are truncated and redacted by a :class:`~omniclaude.hooks.shaping.Shaper` before they
become event fields. Ids are deterministic (see :mod:`omniclaude.hooks.sessions`), so mapping
the same payloads again gives the same events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from omniclaude.events import (
    ActionType,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionStatus,
    RoutingDecision,
)
from omniclaude.hooks._context import SUBAGENT_TOOLS, RouteFn, project_name, ts
from omniclaude.hooks._events import OtherEvents
from omniclaude.hooks._llm import LlmCalls
from omniclaude.hooks.labels import event_label, exit_code_of, tool_label
from omniclaude.hooks.pairing import OpenCall
from omniclaude.hooks.payloads import COMMON_FIELDS, HookPayload
from omniclaude.hooks.sessions import (
    AGENT_NAME,
    AgentState,
    PromptState,
    SessionState,
    agent_correlation_id,
    derive_id,
    prompt_correlation_id,
)

__all__ = ["Mapper", "RouteFn"]

log = logging.getLogger(__name__)

_TOOL_FIELDS = frozenset(
    {"tool_name", "tool_input", "tool_response", "tool_use_id", "duration_ms", "error",
     "is_interrupt"}
)  # fmt: skip
_STOP_FIELDS = frozenset({"stop_hook_active", "last_assistant_message"})


class Mapper(LlmCalls, OtherEvents):
    """Turns hook payloads, in spool order, into events; keeps the state between them.

    Feed payloads in the order the hooks received them (the spool's order) to :meth:`map`;
    call :meth:`expire` now and then to close sessions never seen ending. The state is plain
    data (:meth:`to_state`/:meth:`load_state`) committed with the spool offset.
    """

    def map(self, payload: HookPayload) -> list[EventBase]:
        """Map one payload to the events it produces (none for ``PreToolUse``).

        Args:
            payload: the next payload in receive order.

        Returns:
            The events, in the order they should be published.
        """
        handler = _HANDLERS.get(payload.event, Mapper._other)
        out: list[EventBase] = []
        handler(self, payload, out)
        self._note_transcripts(payload)
        return out

    def expire(self, now_ns: int | None = None) -> list[EventBase]:
        """Close every session idle for longer than the timeout (status ``cancelled``).

        Args:
            now_ns: the current time (default: the clock).

        Returns:
            The closing events (prompt, subagents, unfinished calls, session).
        """
        now = time.time_ns() if now_ns is None else now_ns
        out: list[EventBase] = []
        idle = [sid for sid, s in self._sessions.items() if now - s.last_ns > self._timeout_ns]
        for sid in idle:
            state = self._sessions[sid]
            if state.displays:  # streamed messages still open are recorded as they stand
                last = HookPayload(key=f"expired-{sid}", received_ns=state.last_ns,
                                   data={"session_id": sid, "cwd": state.project_path,
                                         "hook_event_name": "MessageDisplay"})  # fmt: skip
                self._close_displays(last, state, out)
            del self._sessions[sid]
            reason = f"no event for {self._timeout_ns / 1e9:.0f} s (timeout rule)"
            self._close_session_children(state, reason, state.last_ns, out)
            out.append(
                ExecutionCompleted(
                    event_id=derive_id("session-timeout", sid, str(state.last_ns)),
                    correlation_id=state.correlation_id,
                    timestamp=ts(state.last_ns),
                    agent_name=state.agent_type or AGENT_NAME,
                    status=ExecutionStatus.CANCELLED,
                    result={"closed_by": "timeout", "reason": reason},
                )
            )
        return out

    # ------------------------------------------------------------------ sessions
    def _session_start(self, p: HookPayload, out: list[EventBase]) -> None:
        known = p.session_id in self._sessions
        s = self._session(p, out)
        if not known:
            out.append(self._session_started(p, s, implied=False))
            return
        fields = {k: v for k, v in p.data.items() if k not in COMMON_FIELDS}
        details = {"label": event_label(p.event, p.data), **self._shaper.mapping(fields)}
        out.append(
            self._action(
                p, s, event_id=derive_id("event", p.key), correlation_id=s.correlation_id,
                action_type=ActionType.DECISION, name=p.event, details=details,
                prompt_id=p.prompt_id,
            )
        )  # fmt: skip

    def _session_end(self, p: HookPayload, out: list[EventBase]) -> None:
        s = self._session(p, out)
        reason = p.get("reason") or "other"
        self._close_displays(p, s, out)
        self._close_session_children(s, f"session ended ({reason})", p.received_ns, out)
        self._sessions.pop(p.session_id, None)
        result = {"reason": reason, **self._shaper.mapping(p.extra_fields({"reason"}))}
        out.append(
            ExecutionCompleted(
                event_id=derive_id("session-end", p.key),
                correlation_id=s.correlation_id,
                timestamp=p.received_at,
                agent_name=s.agent_type or AGENT_NAME,
                status=ExecutionStatus.SUCCESS,
                result=self._shaper.details(result),
            )
        )

    # ------------------------------------------------------------------ prompts
    def _prompt_submit(self, p: HookPayload, out: list[EventBase]) -> None:
        s = self._session(p, out)
        if s.prompt is not None and (p.prompt_id is None or s.prompt.prompt_id != p.prompt_id):
            out.extend(
                self._close_prompt(
                    s, ExecutionStatus.CANCELLED,
                    "a new prompt was submitted before this one stopped (interrupted)",
                    p.received_ns,
                )
            )  # fmt: skip
        cid = str(prompt_correlation_id(p.session_id, p.prompt_id or p.key))
        s.prompt = PromptState(correlation_id=cid, prompt_id=p.prompt_id, started_ns=p.received_ns)
        self._remember_prompt(s, s.prompt)
        raw_prompt = p.data.get("prompt")
        prompt_text = self._shaper.text(raw_prompt)
        metadata = {
            "integration": "claude-code",
            **self._shaper.mapping(p.extra_fields({"prompt"})),
        }
        if p.data.get("permission_mode") is not None:
            metadata["permission_mode"] = p.data["permission_mode"]
        out.append(
            ExecutionStarted(
                event_id=derive_id("prompt-started", cid),
                correlation_id=cid,
                parent_correlation_id=s.correlation_id,
                timestamp=p.received_at,
                agent_name=p.agent_type or s.agent_type or AGENT_NAME,
                user_prompt=prompt_text,
                session_id=p.session_id,
                prompt_id=p.prompt_id,
                project_path=s.project_path,
                project_name=project_name(s.project_path),
                metadata=self._shaper.details(metadata),
            )
        )
        out.append(self._routing(p, cid, s.correlation_id, raw_prompt, prompt_text or ""))
        self._title_session(s, prompt_text, out)

    def _routing(
        self, p: HookPayload, cid: str, parent: str, raw: Any, shown: str
    ) -> RoutingDecision:
        fields: dict[str, Any] | None = None
        if self._router is not None and isinstance(raw, str) and raw.strip():
            try:
                fields = dict(self._router(raw))  # routed on the raw text, in memory only
            except Exception as exc:  # noqa: BLE001 - a router fault must not lose the prompt
                log.warning("router failed on a prompt (%s); using Claude Code's choice", exc)
        if fields is None:
            agent = p.agent_type or AGENT_NAME
            fields = {
                "selected_agent": agent,
                "confidence_score": 1.0,
                "routing_strategy": "claude-code",
                "routing_time_ms": 0.0,
                "reasoning": f"Claude Code ran the prompt itself as {agent!r} (no router).",
            }
        for name in ("user_request", "reasoning"):
            if isinstance(fields.get(name), str):
                fields[name] = self._shaper.text(fields[name])
        # Routed as the prompt arrived: a point event at the prompt, never before it. Its id
        # AND its time are the same whenever this prompt is mapped again (an import run twice
        # must land on the same row: the time is part of the stored key), so the measured
        # routing time, which differs on every run, is a figure of the decision, not its span.
        fields.update(
            event_id=derive_id("routing", cid),
            correlation_id=cid,
            parent_correlation_id=parent,
            session_id=p.session_id,
            started_at=p.received_at,
            timestamp=p.received_at,
            user_request=shown,
        )
        return RoutingDecision(**fields)

    def _stop(self, p: HookPayload, out: list[EventBase]) -> None:
        s, prompt, cid, _ = self._prompt_target(p, out)
        result = {
            "last_assistant_message": self._shaper.text(p.data.get("last_assistant_message")),
            "stop_hook_active": bool(p.data.get("stop_hook_active", False)),
            **self._shaper.mapping(p.extra_fields(_STOP_FIELDS)),
        }
        self._finish_prompt(s, prompt, out, p)
        out.append(
            ExecutionCompleted(
                event_id=derive_id("prompt-stop", p.key),
                correlation_id=cid,
                parent_correlation_id=s.correlation_id if prompt else None,
                timestamp=p.received_at,
                agent_name=s.agent_type or AGENT_NAME,
                status=ExecutionStatus.SUCCESS,
                result=self._shaper.details(result),
            )
        )

    def _stop_failure(self, p: HookPayload, out: list[EventBase]) -> None:
        s, prompt, cid, prompt_id = self._prompt_target(p, out)
        error = p.data.get("error")
        error_type = (error if isinstance(error, str) and error else None) or "StopFailure"
        message = self._shaper.text(
            p.data.get("error_details") or p.data.get("error_message") or error
        )
        self._finish_prompt(s, prompt, out, p)
        fields = {k: v for k, v in p.data.items() if k not in COMMON_FIELDS}
        details = {
            "label": f"{p.event} · {error_type}" + (f" · {message[:80]}" if message else ""),
            "error_message": message or "the turn ended with an API error",
            **self._shaper.mapping(fields),
        }
        out.append(
            self._action(
                p, s, event_id=derive_id("event", p.key), correlation_id=cid,
                action_type=ActionType.ERROR, name=p.event, details=details, prompt_id=prompt_id,
            )
        )  # fmt: skip
        out.append(
            ExecutionFailed(
                event_id=derive_id("prompt-failed", p.key),
                correlation_id=cid,
                parent_correlation_id=s.correlation_id if prompt else None,
                timestamp=p.received_at,
                agent_name=s.agent_type or AGENT_NAME,
                error_type=error_type[:256],
                error_message=message or "the turn ended with an API error",
            )
        )

    def _prompt_target(
        self, p: HookPayload, out: list[EventBase]
    ) -> tuple[SessionState, PromptState | None, str, str | None]:
        s = self._session(p, out)
        prompt = self._prompt(p, s, out)
        cid = prompt.correlation_id if prompt else s.correlation_id
        return s, prompt, cid, p.prompt_id or (prompt.prompt_id if prompt else None)

    def _finish_prompt(
        self, s: SessionState, prompt: PromptState | None, out: list[EventBase], p: HookPayload
    ) -> None:
        if prompt is None:
            return
        if s.prompt is not None and s.prompt.correlation_id == prompt.correlation_id:
            s.prompt = None
        s.remember_closed(prompt.correlation_id)
        calls = self._calls.drain(
            lambda c: c.correlation_id == prompt.correlation_id and c.received_ns <= p.received_ns
        )
        out.extend(self._unfinished(calls, f"{p.event} arrived before the tool's result"))

    # ------------------------------------------------------------------ tools
    def _pre_tool(self, p: HookPayload, out: list[EventBase]) -> None:
        _, cid, prompt_id = self._target(p, out)
        tool_input, _ = self._shaper.trim(p.data.get("tool_input"))
        call = OpenCall(
            key=p.key, session_id=p.session_id, tool_name=p.tool_name,
            received_ns=p.received_ns, correlation_id=cid, tool_use_id=p.tool_use_id,
            agent_id=p.agent_id, prompt_id=prompt_id, tool_input=tool_input,
            extra=self._shaper.mapping(p.extra_fields(_TOOL_FIELDS)),
        )  # fmt: skip
        evicted = self._calls.open(call)
        out.extend(self._unfinished(evicted, "too many calls without a result"))

    def _post_tool(self, p: HookPayload, out: list[EventBase]) -> None:
        call, paired_by, s, cid, prompt_id = self._close_call(p, out)
        duration, source = p.duration_ms, "payload"
        if duration is None and call is not None:
            duration, source = max(0.0, (p.received_ns - call.received_ns) / 1e6), "hook_times"
        # Timed (omniclaude.events.TimedEvent): the bar spans PreToolUse → PostToolUse.
        start_ns = min(call.received_ns, p.received_ns) if call is not None else p.received_ns
        if call is None and duration is not None:
            start_ns = p.received_ns - int(duration * 1e6)  # no PreToolUse seen: run time back
        failed = p.event == "PostToolUseFailure"
        if "tool_input" in p.data:
            raw_input = p.data["tool_input"]
            tool_input, input_info = self._shaper.trim(raw_input)
        else:
            raw_input = call.tool_input if call else None
            tool_input, input_info = raw_input, {"bytes": None}
        interrupted = bool(p.data.get("is_interrupt", False))
        details: dict[str, Any] = {
            "label": tool_label(
                p.tool_name, raw_input, cwd=s.project_path or p.cwd,
                response=p.data.get("tool_response"), error=p.data.get("error"),
                interrupted=interrupted,
            ),
            "tool_input": tool_input,
            "tool_input_bytes": input_info["bytes"],
        }  # fmt: skip
        if failed:
            details["error_message"] = self._shaper.text(p.data.get("error")) or "the tool failed"
            details["is_interrupt"] = interrupted
            code = exit_code_of(p.data.get("error"))
            if code is not None:
                details["exit_code"] = code
        else:
            response, info = self._shaper.trim(p.data.get("tool_response"))
            details.update(
                tool_response=response, tool_response_bytes=info["bytes"],
                tool_response_truncated=info["truncated"],
            )  # fmt: skip
            if p.tool_name in SUBAGENT_TOOLS:
                details["subagent"] = _subagent_info(p.data)
                self._link_subagent(s, details["subagent"].get("agent_id"), p, out)
        details.update(
            paired_by=paired_by, duration_source=source if duration is not None else None,
            **(call.extra if call else {}), **self._shaper.mapping(p.extra_fields(_TOOL_FIELDS)),
        )  # fmt: skip
        role = "error" if failed else "tool_call"
        use_id = p.tool_use_id or (call.tool_use_id if call else None)
        event_id = (
            derive_id("tool", p.session_id, use_id, role)
            if use_id
            else derive_id("tool", p.key, role)
        )
        out.append(
            self._action(
                p, s, event_id=event_id, correlation_id=cid,
                action_type=ActionType.ERROR if failed else ActionType.TOOL_CALL,
                name=p.tool_name, details=details, prompt_id=prompt_id, duration_ms=duration,
                started_ns=start_ns, tool_use_id=use_id,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------ subagents
    def _link_subagent(
        self, s: SessionState, agent_id: Any, p: HookPayload, out: list[EventBase]
    ) -> None:
        """The Agent/Task result names its subagent: tie them if the start guessed another call."""
        use_id = p.tool_use_id
        history = self._history.get(s.session_id)
        record = history.agents.get(agent_id) if history and isinstance(agent_id, str) else None
        if record is None or not use_id or record.tool_use_id == use_id:
            return
        record.tool_use_id = use_id
        live = s.agents.get(str(agent_id))
        if live is not None:
            live.tool_use_id = use_id
        out.append(
            ExecutionStarted(
                event_id=derive_id("agent-launched-by", record.correlation_id, use_id),
                correlation_id=record.correlation_id,
                parent_correlation_id=record.parent_correlation_id,
                timestamp=ts(live.started_ns if live else p.received_ns),
                agent_name=record.agent_type or "subagent",
                session_id=s.session_id,
                claude_agent_id=str(agent_id),
                metadata={"parent_tool_use_id": use_id},
            )
        )

    def _subagent_start(self, p: HookPayload, out: list[EventBase]) -> None:
        s = self._session(p, out)
        prompt = self._prompt(p, s, out)
        agent_id = p.agent_id or p.key
        existing = s.agents.get(agent_id)
        agent = existing or AgentState(
            correlation_id=str(agent_correlation_id(p.session_id, agent_id)),
            parent_correlation_id=prompt.correlation_id if prompt else s.correlation_id,
            agent_type=p.agent_type,
            prompt_id=prompt.prompt_id if prompt else p.prompt_id,
            started_ns=p.received_ns,
        )
        s.agents[agent_id] = agent
        out.append(self._agent_started(p, s, agent_id, agent, implied=False))

    def _subagent_stop(self, p: HookPayload, out: list[EventBase]) -> None:
        s = self._session(p, out)
        prompt = self._prompt(p, s, out)
        agent_id = p.agent_id or "unknown"
        agent = self._agent(p, s, prompt, out)
        calls = self._calls.drain(lambda c: c.correlation_id == agent.correlation_id)
        out.extend(self._unfinished(calls, "the subagent stopped before the tool's result"))
        s.agents.pop(agent_id, None)
        known = {"last_assistant_message", "stop_hook_active", "agent_transcript_path"}
        result = {
            "last_assistant_message": self._shaper.text(p.data.get("last_assistant_message")),
            "agent_transcript_path": p.data.get("agent_transcript_path"),
            **self._shaper.mapping(p.extra_fields(known)),
        }
        out.append(
            ExecutionCompleted(
                event_id=derive_id("agent-completed", agent.correlation_id),
                correlation_id=agent.correlation_id,
                parent_correlation_id=agent.parent_correlation_id,
                timestamp=p.received_at,
                agent_name=p.agent_type or agent.agent_type or "subagent",
                status=ExecutionStatus.SUCCESS,
                result=self._shaper.details(result),
            )
        )


def _subagent_info(data: dict[str, Any]) -> dict[str, Any]:
    """What an ``Agent``/``Task`` call says about the subagent it launched."""
    raw_input, raw_response = data.get("tool_input"), data.get("tool_response")
    tool_input: dict[str, Any] = raw_input if isinstance(raw_input, dict) else {}
    response: dict[str, Any] = raw_response if isinstance(raw_response, dict) else {}
    info = {
        "subagent_type": tool_input.get("subagent_type"),
        "description": tool_input.get("description"),
        "async_launched": response.get("status") == "async_launched",
        "agent_id": response.get("agentId") or response.get("agent_id"),
    }
    return {k: v for k, v in info.items() if v is not None}


_HANDLERS: dict[str, Callable[[Mapper, HookPayload, list[EventBase]], None]] = {
    "SessionStart": Mapper._session_start,
    "UserPromptSubmit": Mapper._prompt_submit,
    "PreToolUse": Mapper._pre_tool,
    "PostToolUse": Mapper._post_tool,
    "PostToolUseFailure": Mapper._post_tool,
    "SubagentStart": Mapper._subagent_start,
    "SubagentStop": Mapper._subagent_stop,
    "Stop": Mapper._stop,
    "StopFailure": Mapper._stop_failure,
    "SessionEnd": Mapper._session_end,
    "PermissionRequest": Mapper._permission_request,
    "PermissionDenied": Mapper._permission_denied,
    "MessageDisplay": Mapper._message_display,
}
"""Events with a mapping of their own; every other event goes to ``Mapper._other``."""
