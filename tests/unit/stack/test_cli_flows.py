"""The CLI's happy paths with the heavy parts replaced: up (foreground and --detach),
status of a running stack, down, demo, trace and executions."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer

from omniclaude.cli import stack, views
from omniclaude.stack.state import Phase, ProcessRef, StackState, save_state
from tests.unit.stack.cli_helpers import run_cli


def running_state(data_dir: Path, pid: int | None = None) -> StackState:
    """A running stack whose supervisor is ``pid`` (default: this process)."""
    state = StackState(data_dir=str(data_dir), supervisor=ProcessRef.of(pid or os.getpid()))
    state.phase = Phase.RUNNING
    state.api_url = "http://127.0.0.1:9"
    state.viewer_url = "http://127.0.0.1:9/viewer/"
    state.database_url = "postgresql://postgres@127.0.0.1:15432/omniclaude"
    state.kafka_bootstrap = "127.0.0.1:19092"
    state.viewer_key_file = str(data_dir / "stack" / "viewer.key")
    for name in ("postgres", "kafka", "api"):
        component = state.component(name)
        component.phase = Phase.EXTERNAL if name == "postgres" else Phase.RUNNING
        component.address = {"kafka": "127.0.0.1:19092", "api": None}.get(name, "pg")
        component.restarts = 1 if name == "kafka" else 0
    return state


def test_status_prints_a_table_of_a_running_stack(cli: typer.Typer, tmp_path: Path) -> None:
    """Each component is a row with its state; the broker note is shown."""
    save_state(running_state(tmp_path))
    code, out = run_cli(cli, "status")
    assert code == 0, out
    assert "running" in out
    for name in ("postgres", "kafka", "api", "external", "1 restarts"):
        assert name in out, name
    assert "memory" in out


def test_up_in_the_foreground_prints_the_addresses(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """up prints progress, the ready block, and the stopped line; its output is not a
    terminal here (as in the detached supervisor's log), so it names the key file, never
    the key itself."""
    from omniclaude.stack import supervisor as sup
    from omniclaude.stack.keys import _write_key, viewer_key_path

    _write_key(viewer_key_path(tmp_path), "oc_test_key")

    def fake_run(self: Any, on_ready: Any) -> None:
        self.progress("postgres   running")
        on_ready(running_state(tmp_path))

    monkeypatch.setattr(sup.Supervisor, "run", fake_run)
    code, out = run_cli(cli, "up", "--api-port", "0", "--no-emitter")
    assert code == 0, out
    assert "OmniClaude is up." in out
    assert "oc_test_key" not in out, "the viewer key was written where no terminal reads it"
    assert "viewer.key" in out.replace("\n", ""), out
    assert "http://127.0.0.1:9/viewer/" in out
    assert "Ctrl-C" in out
    assert out.rstrip().endswith("OmniClaude stopped.")


def _fake_supervisor(tmp_path: Path, outcome: str) -> str:
    """Code of a stand-in background supervisor that writes ``outcome`` to the state."""
    return (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from omniclaude.stack.state import Phase, ProcessRef, StackState, save_state\n"
        f"state = StackState(data_dir={str(tmp_path)!r}, supervisor=ProcessRef.of(os.getpid()))\n"
        "c = state.component('api'); c.phase = Phase.RUNNING; c.address = 'http://127.0.0.1:9'\n"
        f"outcome = {outcome!r}\n"
        "if outcome == 'exit': print('boom: cannot start'); sys.exit(7)\n"
        "state.phase = Phase.RUNNING if outcome == 'ready' else Phase.FAILED\n"
        "state.error = None if outcome == 'ready' else 'port 9 is already in use'\n"
        "state.api_url = 'http://127.0.0.1:9'; state.viewer_url = 'http://127.0.0.1:9/viewer/'\n"
        "save_state(state)\n"
        "time.sleep(30 if outcome == 'ready' else 0)\n"
    )


@pytest.mark.parametrize(
    ("outcome", "code", "text"),
    [
        ("ready", 0, "OmniClaude is up."),
        ("failed", 1, "port 9 is already in use"),
        ("exit", 1, "exited during start-up (code 7): boom: cannot start"),
    ],
)
def test_detach_reports_what_the_background_supervisor_did(  # noqa: PLR0917 - fixtures + params
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    outcome: str, code: int, text: str,
) -> None:  # fmt: skip
    """--detach waits for the state file: ready, failed (its error), or an early exit."""
    started: list[Any] = []
    real_popen = stack.subprocess.Popen

    def fake_popen(argv: list[str], **kwargs: Any) -> Any:
        assert "--detach" not in argv
        process = real_popen([sys.executable, "-c", _fake_supervisor(tmp_path, outcome)], **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(stack.subprocess, "Popen", fake_popen)
    try:
        exit_code, out = run_cli(cli, "up", "--detach", "--api-port", "0")
    finally:
        for process in started:
            process.kill()
            process.wait()
    assert exit_code == code, out
    assert text in " ".join(out.split())


def test_down_stops_a_recorded_stack(cli: typer.Typer, tmp_path: Path) -> None:
    """down on a stack whose supervisor is gone still cleans up and says so."""
    state = running_state(tmp_path)
    state.supervisor = ProcessRef(999_999, 1.0)
    save_state(state)
    code, out = run_cli(cli, "down")
    assert code == 0
    assert "OmniClaude stopped" in out or "No stack was running" in out


class FakeDB:
    """Answers the viewer's queries with canned rows."""

    def __init__(self, root: uuid.UUID) -> None:
        from datetime import UTC, datetime

        self.root = root
        self.now = datetime.now(UTC)

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        from omniclaude.api.viewer import queries

        row = {"correlation_id": self.root, "parent_correlation_id": None,
               "agent_name": "code-analyzer", "status": "success", "user_prompt": "Analyze",
               "created_at": self.now,
               "started_at": self.now, "completed_at": self.now, "last_event_at": self.now,
               "duration_ms": 12.0, "child_count": 0, "depth": 0}  # fmt: skip
        if query in (queries._TREE_SQL, queries._LIST_SQL):
            return [row]
        if query == queries._ACTIONS_SQL:
            return [{"event_id": uuid.uuid4(), "correlation_id": self.root,
                     "action_type": "tool_call", "action_name": "grep", "action_details": {},
                     "duration_ms": 3.0, "created_at": self.now}]  # fmt: skip
        return []

    async def fetchval(self, query: str, *args: Any) -> Any:
        return 1


@pytest.fixture
def fake_db(monkeypatch: pytest.MonkeyPatch) -> uuid.UUID:
    """Route the view commands to a fake database."""
    import asyncio

    root = uuid.uuid4()
    monkeypatch.setenv("OMNICLAUDE_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setattr(views, "_run", lambda _url, work: asyncio.run(work(FakeDB(root))))
    return root


def test_trace_prints_a_tree_and_json(cli: typer.Typer, fake_db: uuid.UUID) -> None:
    """trace shows the execution and its action with timings; --json lists the spans."""
    code, out = run_cli(cli, "trace", str(fake_db))
    assert code == 0, out
    assert "code-analyzer" in out
    assert "grep" in out
    code, out = run_cli(cli, "trace", str(fake_db), "--json")
    data = json.loads(out)
    assert [s["source"] for s in data["spans"]] == ["execution", "action"]
    assert data["url"].endswith(f"/viewer/traces/{fake_db}")


def test_executions_lists_rows_and_json(cli: typer.Typer, fake_db: uuid.UUID) -> None:
    """executions prints a table; --json has the rows and their viewer links."""
    code, out = run_cli(cli, "executions", "--status", "success", "--roots")
    assert code == 0, out
    assert "code-analyzer" in out
    code, out = run_cli(cli, "executions", "--json")
    data = json.loads(out)
    assert data["total"] == 1
    assert data["items"][0]["url"].endswith(str(fake_db))


def test_demo_prints_each_session_and_fails_if_a_trace_is_missing(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """demo lists every session with its link; a trace that never lands fails the command."""
    from omniclaude.stack import demo as demo_module
    from omniclaude.storage import pool

    save_state(running_state(tmp_path))

    class FakePool:
        async def close(self) -> None:
            """Nothing to close."""

    async def fake_pool(*args: Any, **kwargs: Any) -> FakePool:
        return FakePool()

    async def fake_sessions(sessions: list[Any], **kwargs: Any) -> list[Any]:
        return [
            demo_module.DemoResult(s, uuid.uuid4(), "code-analyzer", "completed") for s in sessions
        ]

    stored = {"value": True}

    async def fake_wait(results: list[Any], url: str, **kwargs: Any) -> None:
        for result in results:
            result.stored, result.actions = stored["value"], 3

    monkeypatch.setattr(pool, "create_pool", fake_pool)
    monkeypatch.setattr(demo_module, "run_sessions", fake_sessions)
    monkeypatch.setattr(demo_module, "wait_stored", fake_wait)
    code, out = run_cli(cli, "demo")
    assert code == 0, out
    assert out.count("http://127.0.0.1:9/viewer/traces/") == 6
    code, out = run_cli(cli, "demo", "--json")
    assert len(json.loads(out)["traces"]) == 6
    stored["value"] = False
    code, out = run_cli(cli, "demo")
    assert code == 1
    assert "did not reach the database" in out
