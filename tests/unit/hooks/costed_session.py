"""One Claude Code session built from the documented formats, played as Claude Code plays it.

The script interleaves hook payloads and transcript lines in the order Claude Code produces
them: a prompt whose first API response is written as three lines (text, tool_use), a failing
Bash call with a permission request, a foreground subagent (Explore) and a background one
(general-purpose, finishing after the prompt's Stop) each with its own transcript, an Edit, a
second prompt, a synthetic line, a cut-short line and a line of an unknown type. :func:`play`
runs it: a hook step calls the given hook runner, a line step stamps the line with the clock's
time and appends it to its transcript — so the transcripts' times agree with the hooks'.

:func:`hand_count` reads the transcripts back the simplest way (every assistant line with
usage, counted once per (message.id, requestId), parent and sidechains) — the figure the
system's totals must equal.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

MODEL = "claude-sonnet-4-5-20250929"
BG_MODEL = "claude-haiku-4-5-20251001"
CWD = "/home/dev/shop"


def _usage(inp: int, out: int, write: int, read: int, one_hour: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": inp, "output_tokens": out, "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read, "service_tier": "standard",
        "cache_creation": {"ephemeral_5m_input_tokens": write - one_hour,
                           "ephemeral_1h_input_tokens": one_hour},
    }  # fmt: skip


@dataclass
class Step:
    """A hook payload to run, or a transcript line to write (``file``: main, a, b)."""

    hook: dict[str, Any] | None = None
    file: str | None = None
    line: dict[str, Any] | str | None = None


@dataclass
class CostedSession:
    """The session, its files and what the system must show for it."""

    root: Path
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    agent_a: str = field(default_factory=lambda: f"a{uuid.uuid4().hex[:16]}")
    agent_b: str = field(default_factory=lambda: f"b{uuid.uuid4().hex[:16]}")
    steps: list[Step] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        """``~/.claude/projects/<encoded cwd>``."""
        return self.root / "-home-dev-shop"

    def path(self, name: str) -> Path:
        """The transcript ``main``, ``a`` or ``b``."""
        if name == "main":
            return self.project_dir / f"{self.session_id}.jsonl"
        agent = self.agent_a if name == "a" else self.agent_b
        return self.project_dir / self.session_id / "subagents" / f"agent-{agent}.jsonl"

    def files(self) -> list[Path]:
        """Every transcript of the session."""
        return [self.path(n) for n in ("main", "a", "b")]


def build(root: Path) -> CostedSession:
    """Write nothing yet: return the session with its script."""
    s = CostedSession(root)
    sid, main = s.session_id, str(s.path("main"))
    ids = s.ids
    for name in ("bash", "agent_a", "grep", "edit", "agent_b", "read"):
        ids[name] = f"toolu_{name}_{uuid.uuid4().hex[:12]}"
    p1, p2 = str(uuid.uuid4()), str(uuid.uuid4())
    ids |= {"p1": p1, "p2": p2}
    steps = s.steps

    def hook(event: str, prompt_id: str | None = None, **fields: Any) -> None:
        payload = {"session_id": sid, "transcript_path": main, "cwd": CWD,
                   "hook_event_name": event, "permission_mode": "default", **fields}  # fmt: skip
        if prompt_id:
            payload["prompt_id"] = prompt_id
        steps.append(Step(hook=payload))

    uuids: dict[str, str | None] = {"main": None, "a": None, "b": None}

    def line(file: str, kind: str, message: dict[str, Any], **extra: Any) -> None:
        uid = str(uuid.uuid4())
        entry = {"type": kind, "uuid": uid, "parentUuid": uuids[file], "sessionId": sid,
                 "cwd": CWD, "gitBranch": "fix/refunds", "version": "2.1.233",
                 "isSidechain": file != "main", "userType": "external", "message": message,
                 **extra}  # fmt: skip
        if file != "main":
            entry["agentId"] = s.agent_a if file == "a" else s.agent_b
        uuids[file] = uid
        steps.append(Step(file=file, line=entry))

    tag = uuid.uuid4().hex[:12]  # API ids are unique across sessions

    def response(  # noqa: PLR0917 - reads like the line it writes
        file: str, model: str, mid: str, rid: str, blocks: list[dict[str, Any]],
        usage: dict[str, Any], stop: str,
    ) -> None:  # fmt: skip
        mid, rid = f"{mid}_{tag}", f"{rid}_{tag}"
        for i, block in enumerate(blocks):  # one line per content block, usage repeated
            last = i == len(blocks) - 1
            line(file, "assistant", {"id": mid, "type": "message", "role": "assistant",
                                     "model": model, "content": [block],
                                     "stop_reason": stop if last else None, "usage": usage},
                 requestId=rid)  # fmt: skip

    def tool_use(use_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tool_use", "id": use_id, "name": name, "input": tool_input}

    def result(file: str, use_id: str, content: str, *, error: bool = False,
               tool_result: Any = None) -> None:  # fmt: skip
        block = {"type": "tool_result", "tool_use_id": use_id, "content": content}
        if error:
            block["is_error"] = True
        extra = {"toolUseResult": tool_result} if tool_result is not None else {}
        line(file, "user", {"role": "user", "content": [block]}, **extra)

    def subagent_call(  # noqa: PLR0917 - the hooks and result line of one call in a subagent
        file: str, agent: str, agent_type: str, name: str, tool: str,
        tool_input: dict[str, Any], response: Any, duration_ms: int, result_text: str,
    ) -> None:  # fmt: skip
        inside = {"agent_id": agent, "agent_type": agent_type}
        hook("PreToolUse", p1, tool_name=tool, tool_input=tool_input, tool_use_id=ids[name],
             **inside)  # fmt: skip
        hook("PostToolUse", p1, tool_name=tool, tool_input=tool_input, tool_use_id=ids[name],
             tool_response=response, duration_ms=duration_ms, **inside)  # fmt: skip
        result(file, ids[name], result_text)

    bash_in = {"command": "pytest -x tests/test_refund.py", "description": "Run the tests"}
    agent_a_in = {"subagent_type": "Explore", "description": "find the refund tests",
                  "prompt": "Find every test of refunds"}  # fmt: skip
    grep_in = {"pattern": "def test_.*refund", "path": f"{CWD}/tests"}
    edit_in = {"file_path": f"{CWD}/src/refund.py", "old_string": "return 0",
               "new_string": "total = order.total\n    return total * rate"}  # fmt: skip
    agent_b_in = {"subagent_type": "general-purpose", "description": "audit the refund module",
                  "prompt": "Audit src/refund.py", "run_in_background": True}  # fmt: skip
    read_in = {"file_path": f"{CWD}/src/refund.py"}
    error = "Exit code 1\nFAILED tests/test_refund.py::test_partial_refund - assert 0 == 5"

    hook("SessionStart", source="startup", model=MODEL)
    hook("UserPromptSubmit", p1, prompt="Run the refund tests and fix the failing one")
    line(
        "main", "user", {"role": "user", "content": "Run the refund tests and fix the failing one"}
    )
    steps.append(Step(file="main", line='{"type": "assistant", "message": {"id": "msg_cut'))
    response(
        "main",
        MODEL,
        "msg_r1",
        "req_r1",
        [
            {"type": "thinking", "thinking": "Run them first."},
            {"type": "text", "text": "I'll run the tests."},
            tool_use(ids["bash"], "Bash", bash_in),
        ],
        _usage(12, 180, 2400, 18000),
        "tool_use",
    )
    hook("PreToolUse", p1, tool_name="Bash", tool_input=bash_in, tool_use_id=ids["bash"])
    hook(
        "PermissionRequest",
        p1,
        tool_name="Bash",
        tool_input=bash_in,
        permission_suggestions=[{"type": "addRules", "behavior": "allow"}],
    )
    hook(
        "Notification",
        p1,
        message="Claude needs your permission to use Bash",
        title="Permission needed",
        notification_type="permission_prompt",
    )
    hook(
        "PostToolUseFailure",
        p1,
        tool_name="Bash",
        tool_input=bash_in,
        tool_use_id=ids["bash"],
        error=error,
        is_interrupt=False,
        duration_ms=2100,
    )
    result("main", ids["bash"], error, error=True)
    response(
        "main",
        MODEL,
        "msg_r2",
        "req_r2",
        [
            {"type": "text", "text": "Let me find the tests first."},
            tool_use(ids["agent_a"], "Agent", agent_a_in),
        ],
        _usage(8, 95, 600, 20400),
        "tool_use",
    )
    hook("PreToolUse", p1, tool_name="Agent", tool_input=agent_a_in, tool_use_id=ids["agent_a"])
    hook("SubagentStart", p1, agent_id=s.agent_a, agent_type="Explore")
    line("a", "user", {"role": "user", "content": "Find every test of refunds"})
    response(
        "a",
        MODEL,
        "msg_a1",
        "req_a1",
        [tool_use(ids["grep"], "Grep", grep_in)],
        _usage(5, 60, 3000, 0),
        "tool_use",
    )
    subagent_call(
        "a",
        s.agent_a,
        "Explore",
        "grep",
        "Grep",
        grep_in,
        {"mode": "files_with_matches", "numFiles": 1, "filenames": [f"{CWD}/tests/test_refund.py"]},
        240,
        "tests/test_refund.py",
    )
    response(
        "a",
        MODEL,
        "msg_a2",
        "req_a2",
        [{"type": "text", "text": "tests/test_refund.py"}],
        _usage(4, 30, 0, 3060),
        "end_turn",
    )
    hook(
        "SubagentStop",
        p1,
        agent_id=s.agent_a,
        agent_type="Explore",
        stop_hook_active=False,
        agent_transcript_path=str(s.path("a")),
        last_assistant_message="tests/test_refund.py",
    )
    agent_a_out = {"status": "completed", "agentId": s.agent_a, "totalTokens": 3094,
                   "content": [{"type": "text", "text": "tests/test_refund.py"}]}  # fmt: skip
    hook(
        "PostToolUse",
        p1,
        tool_name="Agent",
        tool_input=agent_a_in,
        tool_use_id=ids["agent_a"],
        tool_response=agent_a_out,
        duration_ms=2600,
    )
    result("main", ids["agent_a"], "tests/test_refund.py", tool_result=agent_a_out)
    response(
        "main",
        MODEL,
        "msg_r3",
        "req_r3",
        [tool_use(ids["edit"], "Edit", edit_in), tool_use(ids["agent_b"], "Agent", agent_b_in)],
        _usage(10, 240, 800, 21000, one_hour=800),
        "tool_use",
    )
    hook("PreToolUse", p1, tool_name="Edit", tool_input=edit_in, tool_use_id=ids["edit"])
    patch = {
        "filePath": edit_in["file_path"],
        "structuredPatch": [
            {
                "oldStart": 3,
                "oldLines": 1,
                "newStart": 3,
                "newLines": 2,
                "lines": ["-    return 0", "+    total = order.total", "+    return total * rate"],
            }
        ],
    }
    hook(
        "PostToolUse",
        p1,
        tool_name="Edit",
        tool_input=edit_in,
        tool_use_id=ids["edit"],
        tool_response=patch,
        duration_ms=35,
    )
    result("main", ids["edit"], "ok", tool_result=patch)
    hook("PreToolUse", p1, tool_name="Agent", tool_input=agent_b_in, tool_use_id=ids["agent_b"])
    hook("SubagentStart", p1, agent_id=s.agent_b, agent_type="general-purpose")
    agent_b_out = {"status": "async_launched", "agentId": s.agent_b}
    hook(
        "PostToolUse",
        p1,
        tool_name="Agent",
        tool_input=agent_b_in,
        tool_use_id=ids["agent_b"],
        tool_response=agent_b_out,
        duration_ms=20,
    )
    result("main", ids["agent_b"], "launched", tool_result=agent_b_out)
    line("b", "user", {"role": "user", "content": "Audit src/refund.py"})
    response(
        "main",
        MODEL,
        "msg_r4",
        "req_r4",
        [{"type": "text", "text": "Fixed the refund."}],
        _usage(6, 40, 0, 22000),
        "end_turn",
    )
    hook("Stop", p1, stop_hook_active=False, last_assistant_message="Fixed the refund.")
    # The background subagent goes on after its prompt's turn ended.
    response(
        "b",
        BG_MODEL,
        "msg_b1",
        "req_b1",
        [tool_use(ids["read"], "Read", read_in)],
        _usage(20, 50, 1500, 0),
        "tool_use",
    )
    subagent_call(
        "b",
        s.agent_b,
        "general-purpose",
        "read",
        "Read",
        read_in,
        {"type": "text", "file": {"numLines": 40}},
        4,
        "def refund(order): ...",
    )
    line("b", "assistant", {"id": "msg_syn", "model": "<synthetic>", "role": "assistant",
                            "content": [{"type": "text", "text": "(no content)"}],
                            "usage": _usage(0, 0, 0, 0)})  # fmt: skip
    response(
        "b",
        BG_MODEL,
        "msg_b2",
        "req_b2",
        [
            {"type": "text", "text": "No other problem found."},
            {"type": "text", "text": "The module is small."},
        ],
        _usage(3, 120, 0, 1520),
        "end_turn",
    )
    hook(
        "SubagentStop",
        p1,
        agent_id=s.agent_b,
        agent_type="general-purpose",
        stop_hook_active=False,
        agent_transcript_path=str(s.path("b")),
        last_assistant_message="No other problem found.",
    )
    hook("UserPromptSubmit", p2, prompt="Thanks, summarise what you changed")
    line("main", "user", {"role": "user", "content": "Thanks, summarise what you changed"})
    steps.append(Step(file="main", line={"type": "brand-new-line-type", "sessionId": sid}))
    response(
        "main",
        MODEL,
        "msg_r5",
        "req_r5",
        [{"type": "text", "text": "I changed refund."}],
        _usage(9, 70, 0, 22500),
        "end_turn",
    )
    hook("Stop", p2, stop_hook_active=False, last_assistant_message="I changed refund.")
    hook("SessionEnd", reason="prompt_input_exit")
    return s


def _iso(ns: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def play(
    session: CostedSession,
    run_hook: Callable[[dict[str, Any]], Awaitable[None]],
    now_ns: Callable[[], int],
    pause: Callable[[], Awaitable[None]],
) -> None:
    """Run the script: hooks through ``run_hook``, lines stamped with ``now_ns()`` and written.

    ``pause`` runs between steps (a real sleep, or a fake clock's tick), so every step has
    its own time, as in a real session.
    """
    for path in session.files():
        path.parent.mkdir(parents=True, exist_ok=True)
    for step in session.steps:
        await pause()
        if step.hook is not None:
            await run_hook(step.hook)
            continue
        assert step.file is not None
        if isinstance(step.line, dict):
            text = json.dumps({**step.line, "timestamp": _iso(now_ns())})
        else:
            text = str(step.line)
        with session.path(step.file).open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


@dataclass
class HandCount:
    """Tokens counted by hand: every response once, parent and sidechains."""

    responses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(message.id, requestId) → {model, usage, file}."""

    def total(self, kind: str, file: str | None = None) -> int:
        """Sum of one usage field over the responses (of one file)."""
        return sum(
            int(r["usage"].get(kind, 0))
            for r in self.responses.values()
            if file is None or r["file"] == file
        )

    def cost(self, rates: dict[str, dict[str, Decimal]]) -> Decimal:
        """Tokens times the per-MTok rates of each response's model (priced models only)."""
        total = Decimal(0)
        for r in self.responses.values():
            rate = rates[r["model"]]
            usage = r["usage"]
            one_hour = usage["cache_creation"]["ephemeral_1h_input_tokens"]
            total += (
                usage["input_tokens"] * rate["input"]
                + usage["output_tokens"] * rate["output"]
                + (usage["cache_creation_input_tokens"] - one_hour) * rate["cache_write_5m"]
                + one_hour * rate["cache_write_1h"]
                + usage["cache_read_input_tokens"] * rate["cache_read"]
            ) / Decimal(1_000_000)
        return total


def table_rates() -> dict[str, dict[str, Decimal]]:
    """The shipped price table's rates of the session's two models."""
    from omniclaude.pricing import default_price_table

    out = {}
    for model in (MODEL, BG_MODEL):
        price = default_price_table().lookup(model)
        assert price is not None, f"{model} is not in the shipped price table"
        out[model] = {
            k: getattr(price.rates, k)
            for k in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
        }
    return out


def hand_count(session: CostedSession) -> HandCount:
    """Read the transcripts as a person would count them."""
    count = HandCount()
    for name in ("main", "a", "b"):
        for raw in session.path(name).read_text().splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            message = entry.get("message") if isinstance(entry, dict) else None
            if entry.get("type") != "assistant" or not isinstance(message, dict):
                continue
            if message.get("model") == "<synthetic>" or "usage" not in message:
                continue
            key = (message["id"], entry["requestId"])
            count.responses.setdefault(
                key, {"model": message["model"], "usage": message["usage"], "file": name}
            )
    return count


EXPECTED_LABELS = {
    "bash": "Bash · pytest -x tests/test_refund.py · exit 1",
    "agent_a": "Agent · Explore: find the refund tests",
    "grep": 'Grep · "def test_.*refund" in tests',
    "edit": "Edit · src/refund.py (+2 -1)",
    "agent_b": "Agent · general-purpose: audit the refund module",
    "read": "Read · src/refund.py",
}
"""What each tool row must say."""
