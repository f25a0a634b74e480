"""Mapping the hook events that are neither sessions, prompts, tools nor subagents.

* ``PermissionRequest`` (no ``tool_use_id``) is joined to the open call it is about, so the
  decision sits with that call and the call's row says a permission was asked;
* ``PermissionDenied`` closes its call as an ``error`` action (the tool never ran);
* ``MessageDisplay`` chunks (one hook run per streamed chunk) are folded into ONE decision per
  message when its final chunk arrives (or the session closes);
* every other event, documented or not yet known, becomes a ``decision`` action holding the
  payload's fields as they came, with a label saying what it was about.
"""

from __future__ import annotations

from typing import Any, Final

from omniclaude.events import ActionType, EventBase
from omniclaude.hooks._context import MappingContext
from omniclaude.hooks.labels import event_label, tool_label
from omniclaude.hooks.payloads import COMMON_FIELDS, KNOWN_EVENTS, HookPayload
from omniclaude.hooks.sessions import SessionState, derive_id

__all__ = ["OtherEvents"]

_MAX_OPEN_DISPLAYS: Final = 16
"""Messages streaming at once per session; beyond it the oldest is recorded as it stands."""


class OtherEvents(MappingContext):
    """Handlers of permissions, streamed messages and every other event."""

    def _fields(self, p: HookPayload) -> dict[str, Any]:
        return self._shaper.mapping({k: v for k, v in p.data.items() if k not in COMMON_FIELDS})

    def _other(self, p: HookPayload, out: list[EventBase]) -> None:
        """Notifications, compactions, tasks, config/cwd/file changes, unknown events..."""
        s, cid, prompt_id = self._target(p, out)
        if p.event in KNOWN_EVENTS:
            details = {"label": event_label(p.event, p.data, cwd=s.project_path), **self._fields(p)}
        else:  # a future event: kept as it came, never refused
            details = {"label": p.event, "unknown_event": True,
                       "payload": self._shaper.mapping(p.data)}  # fmt: skip
        out.append(
            self._action(
                p, s, event_id=derive_id("event", p.key), correlation_id=cid,
                action_type=ActionType.DECISION, name=p.event, details=details,
                prompt_id=prompt_id, tool_use_id=p.tool_use_id,
            )
        )  # fmt: skip

    def _permission_request(self, p: HookPayload, out: list[EventBase]) -> None:
        s, cid, prompt_id = self._target(p, out)
        tool_input, _ = self._shaper.trim(p.data.get("tool_input"))
        call = self._calls.waiting_for(
            session_id=p.session_id, tool_name=p.tool_name, tool_input=tool_input,
            agent_id=p.agent_id,
        )  # fmt: skip
        use_id = p.tool_use_id
        if call is not None:
            call.extra["permission_requested"] = True  # the call's row says why it waited
            cid, use_id = call.correlation_id, use_id or call.tool_use_id
        details = {"label": event_label(p.event, p.data, cwd=s.project_path), **self._fields(p)}
        out.append(
            self._action(
                p, s, event_id=derive_id("event", p.key), correlation_id=cid,
                action_type=ActionType.DECISION, name=p.event, details=details,
                prompt_id=prompt_id, tool_use_id=use_id,
            )
        )  # fmt: skip

    def _permission_denied(self, p: HookPayload, out: list[EventBase]) -> None:
        """The call was refused: its row is an error saying so, from PreToolUse to now."""
        call, paired_by, s, cid, prompt_id = self._close_call(p, out)
        raw_input = p.data.get("tool_input", call.tool_input if call else None)
        reason = self._shaper.text(p.data.get("reason"))
        label = tool_label(p.tool_name, raw_input, cwd=s.project_path) + " · permission denied"
        details: dict[str, Any] = {
            "label": label,
            "status": "denied",
            "error_message": f"permission denied: {reason}" if reason else "permission denied",
            "tool_input": self._shaper.trim(raw_input)[0],
            "paired_by": paired_by,
            **(call.extra if call else {}),
            **self._fields(p),
        }
        use_id = p.tool_use_id or (call.tool_use_id if call else None)
        event_id = (
            derive_id("tool", p.session_id, use_id, "error")
            if use_id
            else derive_id("event", p.key)
        )
        out.append(
            self._action(
                p, s, event_id=event_id, correlation_id=cid, action_type=ActionType.ERROR,
                name=p.tool_name, details=details, prompt_id=prompt_id, tool_use_id=use_id,
                started_ns=min(call.received_ns, p.received_ns) if call else None,
            )
        )  # fmt: skip

    def _message_display(self, p: HookPayload, out: list[EventBase]) -> None:
        """Fold a streamed chunk into its message; record the message at its final chunk."""
        s = self._session(p, out)
        key = p.get("message_id") or p.get("turn_id") or "unknown"
        display = s.displays.setdefault(
            key, {"text": "", "chunks": 0, "first_ns": p.received_ns, "turn_id": p.get("turn_id")}
        )
        delta = p.data.get("delta")
        if isinstance(delta, str) and len(display["text"]) < self._shaper.max_text_bytes:
            display["text"] += delta
        display["chunks"] += 1
        if p.data.get("final") is True:
            self._record_display(p, s, key, out, complete=True)
        while len(s.displays) > _MAX_OPEN_DISPLAYS:
            self._record_display(p, s, next(iter(s.displays)), out, complete=False)

    def _record_display(
        self, p: HookPayload, s: SessionState, key: str, out: list[EventBase], *, complete: bool
    ) -> None:
        display = s.displays.pop(key)
        text = self._shaper.text(display["text"]) or ""
        details = {
            "label": "MessageDisplay · " + (" ".join(text.split())[:100] or "(empty)"),
            "text": text,
            "chunks": display["chunks"],
            "message_id": key,
            "turn_id": display.get("turn_id"),
            "complete": complete,
        }
        _, cid, prompt_id = self._target(p, out)
        out.append(
            self._action(
                p, s, event_id=derive_id("message-display", s.session_id, key),
                correlation_id=cid, action_type=ActionType.DECISION, name="MessageDisplay",
                details=details, prompt_id=prompt_id,
                started_ns=min(int(display["first_ns"]), p.received_ns),
            )
        )  # fmt: skip

    def _close_displays(self, p: HookPayload, s: SessionState, out: list[EventBase]) -> None:
        """Record the messages still streaming when their session closes."""
        for key in list(s.displays):
            self._record_display(p, s, key, out, complete=False)
