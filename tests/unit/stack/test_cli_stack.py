"""The up/down/status/demo/trace/executions commands' one-line answers (no stack needed)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import typer

from tests.unit.stack.cli_helpers import run_cli


def test_status_without_a_stack(cli: typer.Typer, tmp_path: Path) -> None:
    """status says nothing runs (exit 3), in words and in JSON."""
    code, out = run_cli(cli, "status")
    assert code == 3
    assert "No stack is running" in out
    code, out = run_cli(cli, "status", "--json")
    assert code == 3
    report = json.loads(out)
    assert report["running"] is False
    assert report["data_dir"] == str(tmp_path)


def test_down_without_a_stack(cli: typer.Typer) -> None:
    """down with nothing running says so and succeeds."""
    code, out = run_cli(cli, "down")
    assert code == 0
    assert "No stack was running" in out


def test_up_with_a_taken_port_prints_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    """A taken port: exit 1 with one line naming it, and status shows the failure."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code, out = run_cli(cli, "up", "--api-port", str(port), "--pg-port", "0", "--kafka-port",
                         "0", "--consumer-port", "0")  # fmt: skip
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert f"port {port}" in errors[0]
    assert "--api-port" in " ".join(out.split())
    code, out = run_cli(cli, "status", "--json")
    assert json.loads(out)["phase"] == "failed"


def test_up_detach_refuses_a_second_stack(cli: typer.Typer, tmp_path: Path) -> None:
    """While a supervisor holds the data directory, up --detach says so."""
    from omniclaude.stack.preflight import StackLock

    lock = StackLock(tmp_path)
    lock.acquire()
    try:
        code, out = run_cli(cli, "up", "--detach")
    finally:
        lock.release()
    assert code == 1
    assert "already running" in out


def test_views_and_demo_need_a_database(cli: typer.Typer) -> None:
    """Without a stack or OMNICLAUDE_DATABASE_URL each command says what to do."""
    code, out = run_cli(cli, "executions")
    assert code == 2
    assert "omniclaude up" in out
    code, out = run_cli(cli, "trace", "6f1c3a52-5c1e-4d6b-9a57-0c0e8f7c1a11")
    assert code == 2
    code, out = run_cli(cli, "demo")
    assert code == 1
    assert "no running stack" in out


def test_views_check_their_arguments(cli: typer.Typer) -> None:
    """A bad correlation id or range is refused before any connection."""
    code, out = run_cli(cli, "trace", "not-a-uuid")
    assert code == 2
    assert "neither a UUID nor its first 8+ hex digits" in out
    code, out = run_cli(cli, "executions", "--range", "2y")
    assert code == 2
    assert "range" in out
