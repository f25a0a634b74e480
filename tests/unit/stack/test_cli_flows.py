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


@pytest.fixture
def fake_db(monkeypatch: pytest.MonkeyPatch) -> uuid.UUID:
    """Route the view commands to canned read-layer answers (no database)."""
    import asyncio

    from omniclaude.storage import queries
    from tests.unit.viewer.rows import action_row, execution_row, trace_of

    root = uuid.uuid4()
    summary = queries.ExecutionListItem.model_validate(execution_row(root).model_dump())

    async def resolve(db: Any, text: str, *, field: str = "") -> uuid.UUID:
        return root

    async def tree(db: Any, cid: uuid.UUID, **_: Any) -> queries.TraceTree:
        return trace_of(
            root, executions=[execution_row(root)], actions=[action_row(root, name="grep")]
        )

    async def listing(db: Any, flt: Any, *, limit: int) -> queries.ExecutionPage:
        return queries.ExecutionPage([summary], None)

    monkeypatch.setenv("OMNICLAUDE_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setattr(views, "_run", lambda _url, work: asyncio.run(work(object())))
    monkeypatch.setattr(queries, "resolve_correlation_id", resolve)
    monkeypatch.setattr(queries, "fetch_trace_tree", tree)
    monkeypatch.setattr(queries, "list_executions", listing)
    return root


def test_trace_prints_a_tree_and_json(cli: typer.Typer, fake_db: uuid.UUID) -> None:
    """trace shows the execution and its action with timings; --json lists the spans."""
    code, out = run_cli(cli, "trace", str(fake_db)[:8])
    assert code == 0, out
    assert "code-analyzer" in out
    assert "grep" in out
    code, out = run_cli(cli, "trace", str(fake_db), "--json")
    data = json.loads(out)
    assert [s["source"] for s in data["spans"]] == ["execution", "action"]
    assert data["url"].endswith(f"/viewer/traces/{fake_db}")
    code, out = run_cli(cli, "trace", "nope")
    assert code == 2
    assert "CORRELATION_ID:" in out


def test_executions_lists_rows_and_json(cli: typer.Typer, fake_db: uuid.UUID) -> None:
    """executions prints a table with short ids; --json has the API's shape and viewer links."""
    code, out = run_cli(cli, "executions", "--status", "success", "--roots")
    assert code == 0, out
    assert "code-analyzer" in out
    assert str(fake_db)[:8] in out
    assert str(fake_db) not in out, "the table shows full ids without --wide"
    code, out = run_cli(cli, "executions", "--json")
    data = json.loads(out)
    assert set(data) == {"items", "next_cursor", "since", "until"}
    assert data["items"][0]["url"].endswith(str(fake_db))
    code, out = run_cli(cli, "executions", "--status", "completed")
    assert code == 2
    assert "--status:" in out


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
            demo_module.DemoResult(s, uuid.uuid4(), "code-analyzer", "success") for s in sessions
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
