"""From `omniclaude hooks install` to a first trace, the way a Claude Code user gets there.

1. ``omniclaude hooks install --project DIR`` (the real CLI) writes .claude/settings.json;
2. a Claude Code session runs: for every event, the command registered for it in that file
   is run through ``sh -c`` in the project with the payload on stdin — the hook starts the
   emitter on its own;
3. the trace of the session is read back through the HTTP API (``GET /traces/{id}``): the
   prompts nested under the session, the subagent under its prompt, every tool call with its
   duration; ``hooks status`` says events flowed; ``hooks uninstall`` restores the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.sessions import session_correlation_id
from tests.fixtures.kafka import KafkaService
from tests.fixtures.stack import FullStack
from tests.fixtures.waiting import wait_for
from tests.unit.hooks.builders import Session, full_session_script

pytestmark = pytest.mark.covers(
    "feature:claude-code-hooks",
    "endpoint:GET /traces/{correlation_id}",
)

BIN = Path(sys.executable).parent


async def cli(env: dict[str, str], *args: str) -> str:
    """Run the omniclaude CLI; return stdout (it must succeed)."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "omniclaude"), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"omniclaude {' '.join(args)}: {err.decode()}"
    return out.decode()


async def claude_code_runs(
    settings_file: Path, project: Path, env: dict[str, str], payload: dict[str, Any]
) -> None:
    """Do what Claude Code does for one event: run each registered command with the payload."""
    text = await asyncio.to_thread(settings_file.read_text)
    hooks = json.loads(text)["hooks"].get(payload["hook_event_name"], [])
    commands = [h["command"] for group in hooks for h in group["hooks"]]
    assert commands, f"no hook registered for {payload['hook_event_name']}"
    for command in commands:
        proc = await asyncio.create_subprocess_shell(
            command, cwd=project, env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate(json.dumps(payload).encode())
        assert proc.returncode == 0, f"hook failed: {err!r}"
        assert out == b"", f"the hook wrote to Claude Code's stdout: {out!r}"


async def test_install_to_first_trace(
    full_stack: FullStack, kafka_service: KafkaService, topic_prefix: str, tmp_path: Path
) -> None:
    """A user installs the hooks, runs a session, and reads its whole trace from the API."""
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNICLAUDE_", "COVERAGE_"))}
    env.update(
        OMNICLAUDE_DATA_DIR=str(tmp_path / "hooks-data"),
        OMNICLAUDE_KAFKA_BOOTSTRAP=kafka_service.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=topic_prefix,
    )
    spool = tmp_path / "hooks-data" / "spool"
    settings_file = project / ".claude" / "settings.json"
    settings_file.parent.mkdir()
    settings_file.write_text(json.dumps({"model": "sonnet"}))
    try:
        # 1. install
        out = await cli(env, "hooks", "install", "--project", str(project))
        assert "hooks installed" in out
        # 2. a session (the hook starts the emitter by itself)
        session = Session(cwd=str(project))
        items, expected = full_session_script(session)
        for payload in items:
            await claude_code_runs(settings_file, project, env, payload)
        # 3. the trace
        session_cid = str(session_correlation_id(session.session_id))
        await full_stack.wait_for_row(session_cid, status="success", timeout=120)

        async def trace() -> dict[str, Any] | None:
            response = await full_stack.client.get(
                f"/traces/{session_cid}", headers=full_stack.headers("read")
            )
            if response.status_code != 200:
                return None
            body = dict(response.json())
            children = body["children"]
            done = len(children) == expected["prompts"] and all(
                c["execution"] and c["execution"]["status"] != "in_progress" for c in children
            )
            return body if done else None

        body = await wait_for(trace, what="the session trace with its three prompts", timeout_s=60)
        prompts = body["children"]
        assert [c["execution"]["status"] for c in prompts] == ["success", "success", "failed"]
        assert all(c["routing_decisions"] for c in prompts), "a prompt has no routing decision"
        first_calls = [a for a in prompts[0]["actions"] if a["action_type"] == "tool_call"]
        assert len(first_calls) == 3
        assert all(a["duration_ms"] is not None for a in first_calls)
        subagents = prompts[1]["children"]
        assert [s["execution"]["claude_agent_id"] for s in subagents] == [expected["agent_id"]]
        assert [a["action_name"] for a in subagents[0]["actions"]] == ["Grep"]

        status = json.loads(await cli(env, "hooks", "status", "--json", "--project", str(project)))
        assert status["emitter_running"] is True
        assert status["spool_records"] == 0
        assert status["last_event_at"] is not None
        assert status["hook_errors"] == 0
        assert len(status["installed"][str(settings_file)]) > 20

        await cli(env, "hooks", "uninstall", "--project", str(project))
        assert json.loads(settings_file.read_text()) == {"model": "sonnet"}, "uninstall left traces"
    finally:
        lock = EmitterLock(spool)
        pid = lock.holder()
        if pid and lock.held_by_other():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

            async def gone() -> bool:
                return not lock.held_by_other()

            await wait_for(gone, what="the emitter the hook started to exit", timeout_s=30)
