"""Installing the hooks: merge never clobbers, uninstall removes only ours, the launcher."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omniclaude.errors import ConfigurationError
from omniclaude.hooks import fast
from omniclaude.hooks.install import (
    CONSOLE_COMMAND,
    choose_events,
    claude_version,
    diff_text,
    installed_events,
    is_our_command,
    launcher_command,
    merge,
    read_settings_file,
    unmerge,
    write_launcher,
    write_settings_file,
)
from omniclaude.hooks.payloads import CORE_EVENTS, INSTALL_EVENTS, TOOL_EVENTS

THEIRS: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def test_merge_adds_every_event_and_keeps_everything_else() -> None:
    """Our entry is added per event; other keys, hooks and groups stay untouched."""
    merged = merge(THEIRS, CONSOLE_COMMAND)
    assert merged["model"] == "opus"
    assert merged["permissions"] == THEIRS["permissions"]
    assert set(merged["hooks"]) == set(INSTALL_EVENTS)
    assert merged["hooks"]["PreToolUse"][0] == THEIRS["hooks"]["PreToolUse"][0], (
        "their hook changed"
    )
    assert merged["hooks"]["Stop"][0] == THEIRS["hooks"]["Stop"][0]
    ours = merged["hooks"]["PreToolUse"][1]
    assert ours == {
        "matcher": "*",
        "hooks": [{"type": "command", "command": CONSOLE_COMMAND, "timeout": 10}],
    }
    assert "matcher" not in merged["hooks"]["Stop"][1]
    assert THEIRS["hooks"]["Stop"] == [
        {"hooks": [{"type": "command", "command": "notify-send done"}]}
    ], "merge modified its input"


def test_merge_skips_events_that_would_break_claude_code() -> None:
    """WorktreeCreate/Remove replace git's behaviour when hooked: never installed."""
    merged = merge({}, CONSOLE_COMMAND)
    assert "WorktreeCreate" not in merged["hooks"]
    assert "WorktreeRemove" not in merged["hooks"]
    assert {e for e in merged["hooks"] if "matcher" in merged["hooks"][e][0]} == set(TOOL_EVENTS)


def test_merge_is_idempotent_and_updates_our_command_in_place() -> None:
    """Installing twice changes nothing; a new command replaces ours without duplicating."""
    once = merge(THEIRS, CONSOLE_COMMAND)
    assert merge(once, CONSOLE_COMMAND) == once
    moved = merge(once, "/opt/oc/bin/omniclaude-hook")
    assert moved["hooks"]["Stop"][1]["hooks"][0]["command"] == "/opt/oc/bin/omniclaude-hook"
    assert len(moved["hooks"]["Stop"]) == 2


def test_unmerge_removes_only_ours() -> None:
    """Uninstall restores the user's settings exactly."""
    assert unmerge(merge(THEIRS, CONSOLE_COMMAND)) == THEIRS
    assert unmerge(merge({}, "/x/omniclaude-hook")) == {}
    mixed = {
        "hooks": {
            "Stop": [
                {
                    "hooks": [
                        {"type": "command", "command": "omniclaude hook"},
                        {"type": "command", "command": "./mine.sh"},
                    ]
                }
            ]
        }
    }
    assert unmerge(mixed) == {
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "./mine.sh"}]}]}
    }


def test_installed_events_lists_ours() -> None:
    """Status can tell which events run our hook."""
    assert installed_events(THEIRS) == []
    assert set(installed_events(merge(THEIRS, CONSOLE_COMMAND))) == set(INSTALL_EVENTS)


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("omniclaude hook", True),
        ("/venv/bin/omniclaude hook", True),
        ("/home/u/.local/share/omniclaude/bin/omniclaude-hook", True),
        ("'/usr/bin/python3' -IS '/d/omniclaude-hook'", True),
        ("omniclaude hooks status", False),
        ("./guard.sh", False),
        ("echo 'unbalanced", False),
        (None, False),
    ],
)
def test_is_our_command(command: Any, ours: bool) -> None:
    """Only our commands are recognised as ours."""
    assert is_our_command(command) is ours


def test_merge_refuses_a_malformed_hooks_section() -> None:
    """A hooks value of the wrong shape is reported, not overwritten."""
    with pytest.raises(ConfigurationError, match="not an object"):
        merge({"hooks": []}, CONSOLE_COMMAND)
    with pytest.raises(ConfigurationError, match=r"hooks\.Stop is not a list"):
        merge({"hooks": {"Stop": {}}}, CONSOLE_COMMAND)


def test_settings_files_read_write_and_diff(tmp_path: Path) -> None:
    """Missing/empty files read as {}; invalid JSON is refused; writes keep the mode."""
    path = tmp_path / ".claude" / "settings.json"
    assert read_settings_file(path) == {}
    write_settings_file(path, THEIRS)
    path.chmod(0o600)
    write_settings_file(path, merge(THEIRS, CONSOLE_COMMAND))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_settings_file(path)["model"] == "opus"
    assert diff_text(path, THEIRS, THEIRS) == ""
    assert "+" in diff_text(path, THEIRS, merge(THEIRS, CONSOLE_COMMAND))
    path.write_text("{broken")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        read_settings_file(path)
    path.write_text("[]")
    with pytest.raises(ConfigurationError, match="expected a JSON object"):
        read_settings_file(path)
    path.write_text("  ")
    assert read_settings_file(path) == {}


def test_the_launcher_runs_the_hook_without_site(tmp_path: Path) -> None:
    """The launcher spools a payload under -I -S, importing nothing of the package."""
    launcher = tmp_path / "bin" / "omniclaude-hook"
    spool = tmp_path / "spool"
    write_launcher(launcher, python=sys.executable, hooks_dir=str(Path(fast.__file__).parent),
                   spool_dir=str(spool))  # fmt: skip
    command = launcher_command(launcher, python=sys.executable)
    result = subprocess.run(  # noqa: S602 - exactly how Claude Code runs hook commands
        command, shell=True, input=b'{"session_id": "s", "hook_event_name": "Stop"}',
        capture_output=True, env={"PATH": "/usr/bin:/bin", fast.AUTOSTART_ENV: "0"}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert (spool / fast.SPOOL_FILE).read_bytes().count(b"\n") == 1, "the launcher spooled nothing"


def test_launcher_command_names_the_interpreter_when_needed(tmp_path: Path) -> None:
    """A python path a #! line cannot hold is named explicitly in the command."""
    launcher = tmp_path / "omniclaude-hook"
    assert launcher_command(launcher, python="/usr/bin/python3") == str(launcher)
    command = launcher_command(launcher, python="/opt/my python/bin/python3")
    assert command.startswith("'/opt/my python/bin/python3' -IS ")
    assert json.dumps(command)


@pytest.mark.parametrize(
    ("text", "version"),
    [("2.1.233 (Claude Code)\n", (2, 1, 233)), ("1.0.51", (1, 0, 51)), ("", None), (None, None),
     ("claude: command not found", None)],
)  # fmt: skip
def test_claude_version_is_parsed(text: str | None, version: tuple[int, ...] | None) -> None:
    """`claude --version` output becomes a comparable tuple (None when unreadable)."""
    assert claude_version(text) == version


def test_choose_events_protects_old_claude_code() -> None:
    """Auto installs only the core events for Claude Code < 2.1 (which rejects unknown keys)."""
    assert choose_events("auto", (2, 0, 77)) == CORE_EVENTS
    assert choose_events("auto", (2, 1, 3)) == INSTALL_EVENTS
    assert choose_events("auto", None) == INSTALL_EVENTS
    assert set(choose_events("all", None)) >= {"PostToolBatch", "UserPromptExpansion"}
    assert "PostToolBatch" not in INSTALL_EVENTS
    assert choose_events("Stop, SessionEnd", None) == ("Stop", "SessionEnd")
    with pytest.raises(ConfigurationError, match="unknown event"):
        choose_events("Stop,PreCommit", None)


def test_a_smaller_event_set_removes_only_our_extra_entries() -> None:
    """Re-installing with --events core drops our other entries and keeps the user's."""
    full = merge(THEIRS, CONSOLE_COMMAND, choose_events("all", None))
    core = merge(full, CONSOLE_COMMAND, CORE_EVENTS)
    assert set(installed_events(core)) == set(CORE_EVENTS)
    assert core["hooks"]["PreToolUse"][0] == THEIRS["hooks"]["PreToolUse"][0]
    assert "PermissionDenied" not in core["hooks"]
    assert unmerge(core) == THEIRS


def test_a_stale_launcher_still_exits_zero(tmp_path: Path) -> None:
    """A launcher whose OmniClaude is gone exits 0 with a hint (never fails Claude Code)."""
    launcher = tmp_path / "omniclaude-hook"
    write_launcher(launcher, python=sys.executable, hooks_dir=str(tmp_path / "gone"))
    result = subprocess.run([str(launcher)], input=b"{}", capture_output=True, check=False)
    assert result.returncode == 0
    assert b"hooks install" in result.stderr


def test_message_display_is_only_installed_when_asked_for() -> None:
    """One process per streamed chunk: never in a default set, only by name or ``all``."""
    from omniclaude.hooks.payloads import ALL_INSTALLABLE_EVENTS, FULL_EVENTS, KNOWN_EVENTS

    assert len(KNOWN_EVENTS) == 31
    for spec, version in (("auto", None), ("auto", (2, 1, 3)), ("auto", (2, 1, 233)),
                          ("standard", None), ("full", None), ("core", None)):  # fmt: skip
        assert "MessageDisplay" not in choose_events(spec, version), spec
    assert choose_events("auto", (2, 1, 233)) == FULL_EVENTS
    assert {"UserPromptExpansion", "PostToolBatch", "DirectoryAdded"} <= set(FULL_EVENTS)
    assert "MessageDisplay" in choose_events("all", None) == ALL_INSTALLABLE_EVENTS
    assert choose_events("Stop,MessageDisplay", None) == ("Stop", "MessageDisplay")
