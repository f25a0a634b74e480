"""Claude Code hook payloads written for this project from the documented formats.

``Session`` builds the payloads one Claude Code session would send, for every event the
issue names, in the shape of a recent version (``prompt_id``, ``tool_use_id``,
``duration_ms``) or, with ``old=True``, of an older one without those fields.
``full_session_script`` strings them into one realistic session, including a parallel batch
of tool calls whose Pre/Post interleave, a failure, permissions, a subagent and a compaction.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

_counter = itertools.count(1)


@dataclass
class Session:
    """Builds payloads for one session."""

    old: bool = False
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cwd: str = "/home/dev/shop"
    prompt_id: str | None = None

    def base(self, event: str, **fields: Any) -> dict[str, Any]:
        """The fields every payload carries, plus ``fields``."""
        payload: dict[str, Any] = {
            "session_id": self.session_id,
            "transcript_path": f"/home/dev/.claude/projects/-home-dev-shop/{self.session_id}.jsonl",
            "cwd": self.cwd,
            "hook_event_name": event,
        }
        if not self.old:
            payload["permission_mode"] = "default"
            if self.prompt_id is not None:
                payload["prompt_id"] = self.prompt_id
        payload.update(fields)
        return payload

    def start(self, source: str = "startup") -> dict[str, Any]:
        """SessionStart."""
        return self.base("SessionStart", source=source, model="claude-sonnet-4-5")

    def prompt(self, text: str) -> dict[str, Any]:
        """UserPromptSubmit (a new prompt_id in recent versions)."""
        if not self.old:
            self.prompt_id = str(uuid.uuid4())
        return self.base("UserPromptSubmit", prompt=text)

    def tool_id(self) -> str | None:
        """A fresh tool_use_id (None in old versions)."""
        return None if self.old else f"toolu_{next(_counter):04d}{uuid.uuid4().hex[:12]}"

    def pre(
        self, tool: str, tool_input: dict[str, Any], tool_use_id: str | None, **kw: Any
    ) -> dict[str, Any]:
        """PreToolUse."""
        fields: dict[str, Any] = {"tool_name": tool, "tool_input": tool_input, **kw}
        if tool_use_id is not None:
            fields["tool_use_id"] = tool_use_id
        return self.base("PreToolUse", **fields)

    def post(
        self,
        tool: str,
        tool_input: dict[str, Any],
        response: Any,
        tool_use_id: str | None,
        duration_ms: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """PostToolUse (``duration_ms`` only in recent versions)."""
        fields: dict[str, Any] = {
            "tool_name": tool,
            "tool_input": tool_input,
            "tool_response": response,
            **kw,
        }
        if tool_use_id is not None:
            fields["tool_use_id"] = tool_use_id
        if duration_ms is not None and not self.old:
            fields["duration_ms"] = duration_ms
        return self.base("PostToolUse", **fields)

    def failure(
        self, tool: str, tool_input: dict[str, Any], tool_use_id: str | None, error: str
    ) -> dict[str, Any]:
        """PostToolUseFailure."""
        fields: dict[str, Any] = {
            "tool_name": tool,
            "tool_input": tool_input,
            "error": error,
            "is_interrupt": False,
        }
        if tool_use_id is not None:
            fields["tool_use_id"] = tool_use_id
        if not self.old:
            fields["duration_ms"] = 41
        return self.base("PostToolUseFailure", **fields)

    def permission_request(self, tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        """PermissionRequest."""
        return self.base(
            "PermissionRequest", tool_name=tool, tool_input=tool_input,
            permission_suggestions=[{"type": "addRules", "behavior": "allow"}],
        )  # fmt: skip

    def permission_denied(
        self, tool: str, tool_input: dict[str, Any], reason: str, tool_use_id: str | None = None
    ) -> dict[str, Any]:
        """PermissionDenied (with the refused call's ``tool_use_id`` in recent versions)."""
        fields: dict[str, Any] = {"tool_name": tool, "tool_input": tool_input, "reason": reason}
        if tool_use_id is not None:
            fields["tool_use_id"] = tool_use_id
        return self.base("PermissionDenied", **fields)

    def notification(self, message: str) -> dict[str, Any]:
        """Notification."""
        return self.base("Notification", message=message, notification_type="permission_prompt")

    def subagent_start(self, agent_id: str, agent_type: str) -> dict[str, Any]:
        """SubagentStart."""
        return self.base("SubagentStart", agent_id=agent_id, agent_type=agent_type)

    def in_agent(self, payload: dict[str, Any], agent_id: str, agent_type: str) -> dict[str, Any]:
        """The same payload as sent from inside a subagent."""
        return {**payload, "agent_id": agent_id, "agent_type": agent_type}

    def subagent_stop(self, agent_id: str, agent_type: str, message: str) -> dict[str, Any]:
        """SubagentStop."""
        return self.base(
            "SubagentStop", agent_id=agent_id, agent_type=agent_type, stop_hook_active=False,
            last_assistant_message=message,
            agent_transcript_path=f"/home/dev/.claude/projects/x/subagents/agent-{agent_id}.jsonl",
        )  # fmt: skip

    def stop(self, message: str = "Done.") -> dict[str, Any]:
        """Stop."""
        return self.base("Stop", stop_hook_active=False, last_assistant_message=message)

    def stop_failure(self, error: str = "rate_limit") -> dict[str, Any]:
        """StopFailure."""
        return self.base("StopFailure", error=error, error_details="429 Too Many Requests")

    def compact(self, event: str = "PreCompact") -> dict[str, Any]:
        """PreCompact / PostCompact."""
        return self.base(event, trigger="manual", custom_instructions="")

    def end(self, reason: str = "prompt_input_exit") -> dict[str, Any]:
        """SessionEnd."""
        return self.base("SessionEnd", reason=reason)


def full_session_script(s: Session) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One session using every event; returns the payloads and what the mapping must give.

    Returns:
        ``(payloads, expected)`` where ``expected`` counts tool calls, errors, decisions,
        prompts and subagents, and lists the tool_use_ids of the parallel batch.
    """
    out: list[dict[str, Any]] = [s.start()]
    # Prompt 1: a parallel batch of three reads whose Pre/Post interleave, then a failure.
    out.append(
        s.prompt("Find where refunds are computed and run the tests (my email is dev@example.com)")
    )
    ids = [s.tool_id() for _ in range(3)]
    reads = [{"file_path": f"/home/dev/shop/src/refund_{i}.py"} for i in range(3)]
    out += [s.pre("Read", reads[i], ids[i]) for i in range(3)]
    body = {"type": "text", "file": {"content": "def refund():\n    return 0\n", "numLines": 2}}
    if s.old:  # without ids, results come back in call order (pairing by order)
        out += [s.post("Read", reads[i], body, ids[i], 10 + i) for i in range(3)]
    else:
        out += [s.post("Read", reads[i], body, ids[i], 10 + i) for i in (1, 0, 2)]
    bash_id = s.tool_id()
    out.append(s.pre("Bash", {"command": "pytest -q"}, bash_id))
    out.append(
        s.failure("Bash", {"command": "pytest -q"}, bash_id, "Command failed with exit code 1")
    )
    out.append(s.stop("The refund logic lives in refund_1.py; one test fails."))
    # Prompt 2: permissions, a notification, a subagent with a tool call, compaction.
    out.append(s.prompt("Fix the failing test"))
    rm_id = s.tool_id()
    out.append(s.pre("Bash", {"command": "rm -rf build"}, rm_id))
    out.append(s.permission_request("Bash", {"command": "rm -rf build"}))
    out.append(s.notification("Claude needs your permission to use Bash"))
    out.append(
        s.permission_denied(
            "Bash", {"command": "rm -rf build"}, "denied by auto mode classifier", rm_id
        )
    )
    agent_id, agent_type = f"a{uuid.uuid4().hex[:8]}", "Explore"
    task_id = s.tool_id()
    task_input = {
        "description": "Explore tests",
        "prompt": "find the refund tests",
        "subagent_type": agent_type,
    }
    out.append(s.pre("Agent", task_input, task_id))
    out.append(s.subagent_start(agent_id, agent_type))
    grep_id = s.tool_id()
    out.append(s.in_agent(s.pre("Grep", {"pattern": "refund"}, grep_id), agent_id, agent_type))
    out.append(
        s.in_agent(
            s.post("Grep", {"pattern": "refund"}, {"numFiles": 2}, grep_id, 7), agent_id, agent_type
        )
    )
    out.append(s.subagent_stop(agent_id, agent_type, "Found tests/test_refund.py"))
    out.append(
        s.post(
            "Agent",
            task_input,
            {"status": "completed", "content": [{"type": "text", "text": "ok"}]},
            task_id,
            900,
        )
    )
    out.append(s.compact("PreCompact"))
    out.append(s.compact("PostCompact"))
    out.append(s.stop("Fixed."))
    # Prompt 3: the API fails.
    out.append(s.prompt("Now deploy it"))
    out.append(s.stop_failure())
    out.append(s.end())
    expected = {
        "prompts": 3,
        "tool_calls": 5,  # 3 reads + Agent + Grep
        "errors": 3,  # Bash failure, the denied Bash, StopFailure
        "decisions": 4,  # PermissionRequest, Notification, Pre/PostCompact
        "subagents": 1,
        "agent_id": agent_id,
        "parallel_ids": ids,
    }
    return out, expected


def as_bytes(payload: dict[str, Any]) -> bytes:
    """The payload as Claude Code writes it on the hook's stdin."""
    return json.dumps(payload).encode()


def documented_payloads(s: Session) -> dict[str, dict[str, Any]]:
    """One payload per documented hook event (all 31), with the fields the reference lists."""
    bash = {"command": "pytest -x"}
    use_id = s.tool_id() or "toolu_x"
    cwd = s.cwd
    return {
        "Setup": s.base("Setup", trigger="init"),
        "SessionStart": s.base("SessionStart", source="startup", model="claude-sonnet-4-5",
                               session_title="Fix refunds"),
        "InstructionsLoaded": s.base(
            "InstructionsLoaded", file_path=f"{cwd}/CLAUDE.md", memory_type="Project",
            load_reason="session_start", globs=None, trigger_file_path=None,
            parent_file_path=None,
        ),
        "UserPromptSubmit": s.base("UserPromptSubmit", prompt="run the tests"),
        "UserPromptExpansion": s.base(
            "UserPromptExpansion", expansion_type="slash_command", command_name="review",
            command_args="src/refund.py", command_source="project", prompt="/review src/refund.py",
        ),
        "PreToolUse": s.base("PreToolUse", tool_name="Bash", tool_input=bash, tool_use_id=use_id),
        "PermissionRequest": s.base(
            "PermissionRequest", tool_name="Bash", tool_input=bash,
            permission_suggestions=[{"type": "addRules", "behavior": "allow"}],
        ),
        "PermissionDenied": s.base("PermissionDenied", tool_name="Bash", tool_input=bash,
                                   tool_use_id=use_id, reason="denied by the user"),
        "PostToolUse": s.base("PostToolUse", tool_name="Bash", tool_input=bash,
                              tool_response={"stdout": "ok", "stderr": "", "interrupted": False},
                              tool_use_id=use_id, duration_ms=812),
        "PostToolUseFailure": s.base("PostToolUseFailure", tool_name="Bash", tool_input=bash,
                                     tool_use_id=use_id, error="Exit code 1\nFAILED test_x",
                                     is_interrupt=False, duration_ms=900),
        "PostToolBatch": s.base("PostToolBatch", tool_calls=[
            {"tool_name": "Read", "tool_input": {"file_path": f"{cwd}/a.py"},
             "tool_use_id": "toolu_b1", "tool_response": "x"},
            {"tool_name": "Grep", "tool_input": {"pattern": "refund"},
             "tool_use_id": "toolu_b2", "tool_response": "y"},
        ]),
        "Notification": s.base("Notification", message="Claude needs your permission to use Bash",
                               title="Permission needed", notification_type="permission_prompt"),
        "SubagentStart": s.base("SubagentStart", agent_id="a1b2c3", agent_type="Explore"),
        "SubagentStop": s.base(
            "SubagentStop", agent_id="a1b2c3", agent_type="Explore",
            agent_transcript_path=f"/home/dev/.claude/projects/x/{s.session_id}/subagents/"
            "agent-a1b2c3.jsonl", last_assistant_message="Found it.",
        ),
        "Stop": s.base("Stop", stop_hook_active=False, last_assistant_message="Done.",
                       background_tasks=[], session_crons=[]),
        "StopFailure": s.base("StopFailure", error="overloaded", error_details="529 Overloaded",
                              last_assistant_message=""),
        "TaskCreated": s.base("TaskCreated", task_id="t1", task_subject="Write the fix",
                              task_description="patch refund.py", teammate_name="alice"),
        "TaskCompleted": s.base("TaskCompleted", task_id="t1", task_subject="Write the fix",
                                task_description="patch refund.py", teammate_name="alice"),
        "TeammateIdle": s.base("TeammateIdle", teammate_name="alice", team_name="shop"),
        "ConfigChange": s.base("ConfigChange", source="user_settings",
                               file_path="/home/dev/.claude/settings.json"),
        "CwdChanged": s.base("CwdChanged", old_cwd=cwd, new_cwd=f"{cwd}/api"),
        "DirectoryAdded": s.base("DirectoryAdded", directory="/home/dev/lib"),
        "FileChanged": s.base("FileChanged", file_path=f"{cwd}/.env", change_type="modified"),
        "WorktreeCreate": s.base("WorktreeCreate", name="feature-x"),
        "WorktreeRemove": s.base("WorktreeRemove", worktree_path=f"{cwd}/../shop-feature-x"),
        "PreCompact": s.base("PreCompact", trigger="auto", custom_instructions=""),
        "PostCompact": s.base("PostCompact", trigger="auto", compact_summary="Refund work so far"),
        "Elicitation": s.base("Elicitation", mcp_server_name="github",
                              message="Which repository?", requested_schema={"type": "object"}),
        "ElicitationResult": s.base("ElicitationResult", mcp_server_name="github",
                                    action="accept", content={"repo": "shop"}),
        "MessageDisplay": s.base("MessageDisplay", turn_id="turn-1", message_id="msg-1", index=0,
                                 final=True, delta="All tests pass."),
        "SessionEnd": s.base("SessionEnd", reason="prompt_input_exit"),
    }  # fmt: skip
