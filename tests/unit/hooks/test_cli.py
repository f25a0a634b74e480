"""The hooks CLI: install/uninstall/status on a project, and the status of a spool."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from omniclaude.cli import hooks as hooks_cli
from omniclaude.cli.hooks import register
from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.fast import LOG_FILE, SPOOL_FILE, encode_record
from omniclaude.hooks.payloads import INSTALL_EVENTS
from omniclaude.hooks.spool import Spool
from omniclaude.hooks.status import last_spooled_ns, outbox_events, spool_status

runner = CliRunner()
app = typer.Typer()


@app.callback()
def _root() -> None:
    """A root like the real CLI's (settings are built from the environment)."""


register(app)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data dir (and so the spool and launcher) at a temporary directory."""
    monkeypatch.setenv("OMNICLAUDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OMNICLAUDE_SPOOL_DIR", raising=False)
    return tmp_path / "data"


def invoke(*args: str) -> str:
    """Run the CLI, expect success, return its output."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_install_dry_run_changes_nothing(tmp_path: Path) -> None:
    """--dry-run prints the diff and writes no file."""
    out = invoke("hooks", "install", "--project", str(tmp_path / "p"), "--dry-run")
    assert '"PreToolUse"' in out
    assert not (tmp_path / "p" / ".claude" / "settings.json").exists()


def test_install_then_uninstall_restores_the_settings(tmp_path: Path, data_dir: Path) -> None:
    """Install merges into existing settings and writes the launcher; uninstall restores them."""
    settings = tmp_path / "p" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    original = {
        "model": "opus",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say hi"}]}]},
    }
    settings.write_text(json.dumps(original))
    invoke("hooks", "install", "--project", str(tmp_path / "p"))
    installed = json.loads(settings.read_text())
    assert set(installed["hooks"]) == set(INSTALL_EVENTS)
    command = installed["hooks"]["SessionEnd"][0]["hooks"][0]["command"]
    assert command == str(data_dir / "bin" / "omniclaude-hook")
    assert (data_dir / "bin" / "omniclaude-hook").stat().st_mode & 0o111
    assert "already installed" in invoke(
        "hooks", "install", "--project", str(tmp_path / "p"), "--dry-run"
    )
    invoke("hooks", "uninstall", "--project", str(tmp_path / "p"))
    assert json.loads(settings.read_text()) == original
    assert "no OmniClaude hooks" in invoke("hooks", "uninstall", "--project", str(tmp_path / "p"))


def test_install_core_events_for_an_old_claude_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Claude Code 2.0 on PATH, auto installs only the events it accepts."""
    from omniclaude.cli import hooks as cli_hooks
    from omniclaude.hooks.payloads import CORE_EVENTS

    monkeypatch.setattr(cli_hooks, "_claude_version_text", lambda: "2.0.77 (Claude Code)")
    out = invoke("hooks", "install", "--project", str(tmp_path / "p"))
    assert "core events only" in out
    data = json.loads((tmp_path / "p" / ".claude" / "settings.json").read_text())
    assert set(data["hooks"]) == set(CORE_EVENTS)
    result = runner.invoke(
        app, ["hooks", "install", "--project", str(tmp_path), "--events", "Nope"]
    )
    assert result.exit_code == 2
    assert "unknown event" in result.output


def test_install_for_the_user_with_the_console_script(tmp_path: Path) -> None:
    """--user writes ~/.claude/settings.json; --console-script installs `... omniclaude hook`."""
    invoke("hooks", "install", "--user", "--console-script")
    data = json.loads((tmp_path / "home" / ".claude" / "settings.json").read_text())
    command = data["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert command.endswith("omniclaude hook")


def test_install_refuses_broken_settings(tmp_path: Path) -> None:
    """Invalid JSON is reported and left as it was."""
    settings = tmp_path / "p" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text("{oops")
    result = runner.invoke(app, ["hooks", "install", "--project", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "not valid JSON" in result.output
    assert settings.read_text() == "{oops"


def test_status_reports_depth_last_event_and_emitter(tmp_path: Path, data_dir: Path) -> None:
    """status shows waiting records, the newest event, whether the emitter runs, hook errors."""
    spool = data_dir / "spool"
    spool.mkdir(parents=True)
    now = time.time_ns()
    (spool / SPOOL_FILE).write_bytes(
        encode_record(b'{"a": 1}', now - 10, 1) + encode_record(b'{"b": 2}', now, 2)
    )
    (spool / LOG_FILE).write_text("t hook[1] payload dropped: empty stdin (no payload)\n")
    lock = EmitterLock(spool)
    lock.acquire()
    try:
        data = json.loads(invoke("hooks", "status", "--json", "--project", str(tmp_path)))
        text = invoke("hooks", "status", "--project", str(tmp_path))
    finally:
        lock.release()
    assert data["spool_records"] == 2
    assert data["emitter_running"] is True
    assert data["hook_errors"] == 1
    assert data["outbox_events"] == 0
    assert data["last_event_at"] is not None
    assert "2 record(s)" in text
    assert "running (pid" in text


def test_status_of_an_empty_spool(tmp_path: Path) -> None:
    """A spool that never received anything reports zeros and 'never'."""
    status = spool_status(tmp_path / "none")
    assert status["spool_records"] == 0
    assert status["last_event_at"] is None
    assert status["emitter_running"] is False
    assert last_spooled_ns(Spool(tmp_path / "none")) is None
    assert outbox_events(tmp_path / "missing.sqlite3") == 0
    (tmp_path / "bad.sqlite3").write_text("not a database")
    assert outbox_events(tmp_path / "bad.sqlite3") == 0


def test_emitter_command_leaves_a_running_emitter_alone(data_dir: Path) -> None:
    """`omniclaude emitter --if-not-running` exits 0 at once when the lock is held."""
    spool = data_dir / "spool"
    spool.mkdir(parents=True)
    lock = EmitterLock(spool)
    lock.acquire()
    aiokafka_logger = logging.getLogger("aiokafka")
    level = aiokafka_logger.level
    try:
        invoke("emitter", "--if-not-running", "--spool-dir", str(spool))
    finally:
        lock.release()
        aiokafka_logger.setLevel(level)  # the command quiets aiokafka for its process


def test_import_transcript_needs_a_file_and_a_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing file or no broker/database configured is one clear line, exit 2."""
    monkeypatch.delenv("OMNICLAUDE_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("OMNICLAUDE_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["import-transcript", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    (tmp_path / "s.jsonl").write_text("{}\n")
    result = runner.invoke(app, ["import-transcript", str(tmp_path / "s.jsonl")])
    assert result.exit_code == 2
    assert "no destination" in result.output


def test_status_shows_installs_and_a_never_used_spool(tmp_path: Path) -> None:
    """Plain status of a fresh setup: nothing waiting, never an event, installs listed."""
    invoke("hooks", "install", "--project", str(tmp_path / "p"))
    text = invoke("hooks", "status", "--project", str(tmp_path / "p"))
    assert "last event:   never" in text
    assert "not running" in text
    assert "event(s)" in text


def _env(path: Path) -> dict[str, str]:
    env: dict[str, str] = json.loads(path.read_text())["env"]
    return env


def test_install_with_telemetry_writes_the_env_block_and_uninstall_removes_only_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--telemetry adds Claude Code's OTel variables with a fresh ingest key (never printed);
    a second install keeps the key; uninstall removes what install wrote and nothing else."""
    keys = iter(["ock_first_secret", "ock_second_secret"])
    monkeypatch.setattr(hooks_cli, "_new_ingest_key", lambda _ctx: next(keys))
    settings = tmp_path / "p" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"env": {"MY_VAR": "kept"}}))
    out = invoke(
        "hooks", "install", "--project", str(tmp_path / "p"), "--telemetry",
        "--otlp-endpoint", "http://127.0.0.1:9999",
    )  # fmt: skip
    assert "ock_first_secret" not in out
    env = _env(settings)
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:9999"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer ock_first_secret"
    assert env["MY_VAR"] == "kept"
    invoke(
        "hooks", "install", "--project", str(tmp_path / "p"), "--telemetry",
        "--otlp-endpoint", "http://127.0.0.1:9999",
    )  # fmt: skip
    assert _env(settings)["OTEL_EXPORTER_OTLP_HEADERS"].endswith("ock_first_secret")
    dry = invoke("hooks", "uninstall", "--project", str(tmp_path / "p"), "--dry-run")
    assert "ock_first_secret" not in dry
    invoke("hooks", "uninstall", "--project", str(tmp_path / "p"))
    assert json.loads(settings.read_text()) == {"env": {"MY_VAR": "kept"}}


def test_install_with_telemetry_dry_run_creates_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run shows the env block with the key masked and creates no key."""

    def no_key(ctx: object) -> str:
        raise AssertionError("a dry run created a key")

    monkeypatch.setattr(hooks_cli, "_new_ingest_key", no_key)
    out = invoke(
        "hooks", "install", "--project", str(tmp_path / "p"), "--telemetry", "--dry-run",
        "--otlp-endpoint", "http://127.0.0.1:9999",
    )  # fmt: skip
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in out
    assert "Authorization=Bearer ********" in out
    assert not (tmp_path / "p" / ".claude" / "settings.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--otlp-endpoint", "http://h:1"], "--otlp-endpoint: only with --telemetry"),
        (["--telemetry", "--otlp-endpoint", "ftp://h"], "--otlp-endpoint: 'ftp://h' is not"),
    ],
)
def test_install_refuses_a_bad_telemetry_option(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A wrong option is named, exit 2, nothing written."""
    result = runner.invoke(app, ["hooks", "install", "--project", str(tmp_path / "p"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "p" / ".claude" / "settings.json").exists()


def test_install_refuses_a_telemetry_variable_the_user_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable the user set to another value is refused by name (and its value, a possible
    secret for the headers, not shown)."""
    monkeypatch.setattr(hooks_cli, "_new_ingest_key", lambda _ctx: "ock_x")
    settings = tmp_path / "p" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"env": {"OTEL_EXPORTER_OTLP_HEADERS": "x-key=their-secret"}}))
    result = runner.invoke(
        app, ["hooks", "install", "--project", str(tmp_path / "p"), "--telemetry",
              "--otlp-endpoint", "http://127.0.0.1:9999"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "env.OTEL_EXPORTER_OTLP_HEADERS is already set" in result.output
    assert "their-secret" not in result.output


def test_the_key_store_is_the_running_stacks_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `omniclaude up`, keys (and --telemetry's key) need no OMNICLAUDE_DATABASE_URL:
    the stack's database is used; with neither, the message says both ways out."""
    from omniclaude.cli import keys as keys_cli
    from omniclaude.stack import locate as locate_mod

    monkeypatch.delenv("OMNICLAUDE_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["hooks", "install", "--telemetry", "--user"])
    assert result.exit_code == 2
    assert "no local stack is running" in result.output
    assert "omniclaude up" in result.output

    seen: list[str] = []

    class Found:
        database_url = "postgresql://postgres@127.0.0.1:1/stack"

    async def refuse(url: str) -> None:
        seen.append(url)
        raise OSError("not really there")

    monkeypatch.setattr(locate_mod, "locate", lambda *_args, **_kw: Found())
    monkeypatch.setattr("omniclaude.storage.pool.connect", refuse)
    ctx = typer.Context(typer.main.get_command(app))
    with pytest.raises(typer.Exit):
        keys_cli.with_key_store(ctx, lambda store: store.list())
    assert seen == [Found.database_url]
