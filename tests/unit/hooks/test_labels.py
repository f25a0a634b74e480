"""Rows that say what happened: the label of each kind of tool call and hook event."""

from __future__ import annotations

from typing import Any

import pytest

from omniclaude.hooks.labels import (
    MAX_LABEL_CHARS,
    event_label,
    exit_code_of,
    first_meaningful,
    relative_path,
    tool_label,
)

CWD = "/home/dev/shop"


@pytest.mark.parametrize(
    ("tool", "tool_input", "extra", "label"),
    [
        ("Bash", {"command": "pytest -x"}, {}, "Bash · pytest -x"),
        ("Bash", {"command": "pytest -x"}, {"error": "Exit code 2\nFAILED"},
         "Bash · pytest -x · exit 2"),
        ("Bash", {"command": "sleep 9"}, {"interrupted": True}, "Bash · sleep 9 · interrupted"),
        ("Bash", {"command": "npm run dev", "run_in_background": True},
         {"response": {"interrupted": False}}, "Bash · npm run dev · background"),
        ("Read", {"file_path": f"{CWD}/src/app.py"}, {}, "Read · src/app.py"),
        ("Read", {"file_path": f"{CWD}/src/app.py", "offset": 10, "limit": 20}, {},
         "Read · src/app.py lines 10-29"),
        ("Read", {"file_path": "/etc/hosts"}, {}, "Read · /etc/hosts"),
        ("Write", {"file_path": f"{CWD}/new.py", "content": "a\nb\nc\n"}, {},
         "Write · new.py (3 lines)"),
        ("Edit", {"file_path": f"{CWD}/src/app.py", "old_string": "x", "new_string": "y\nz"}, {},
         "Edit · src/app.py (+2 -1)"),
        ("Edit", {"file_path": f"{CWD}/src/app.py", "old_string": "x", "new_string": "y"},
         {"response": {"structuredPatch": [{"lines": [" a", "-b", "+c", "+d"]}]}},
         "Edit · src/app.py (+2 -1)"),
        ("NotebookEdit", {"notebook_path": f"{CWD}/nb.ipynb", "cell_id": "c3",
                          "edit_mode": "replace"}, {}, "NotebookEdit · nb.ipynb replace cell c3"),
        ("Grep", {"pattern": "refund", "path": f"{CWD}/src", "glob": "*.py"}, {},
         'Grep · "refund" in src (*.py)'),
        ("Glob", {"pattern": "**/*.ts"}, {}, 'Glob · "**/*.ts"'),
        ("WebFetch", {"url": "https://docs.example.com/a", "prompt": "summarise"}, {},
         "WebFetch · https://docs.example.com/a"),
        ("WebSearch", {"query": "asyncpg copy"}, {}, "WebSearch · asyncpg copy"),
        ("Agent", {"subagent_type": "Explore", "description": "find tests", "prompt": "…"}, {},
         "Agent · Explore: find tests"),
        ("Task", {"description": "audit deps"}, {}, "Task · subagent: audit deps"),
        ("mcp__github__create_issue", {"title": "Refunds are wrong", "body": "…"}, {},
         "github/create_issue · Refunds are wrong"),
        ("TodoWrite", {"todos": [{"content": "x"}]}, {}, "TodoWrite"),
        ("SomeNewTool", {"flag": True, "target": "prod"}, {}, "SomeNewTool · prod"),
    ],
)  # fmt: skip
def test_each_tool_says_what_it_did(
    tool: str, tool_input: dict[str, Any], extra: dict[str, Any], label: str
) -> None:
    """Bash its command and status, files relative to cwd, searches, URLs, subagents, MCP."""
    assert tool_label(tool, tool_input, cwd=CWD, **extra) == label


def test_labels_are_bounded() -> None:
    """A huge command is cut with an ellipsis, on one line."""
    label = tool_label("Bash", {"command": "echo " + "x " * 500 + "\nnext line"}, cwd=CWD)
    assert len(label) <= MAX_LABEL_CHARS
    assert label.endswith("…")
    assert "\n" not in label


def test_helpers() -> None:
    """Paths inside cwd become relative; exit codes are read from error text."""
    assert relative_path(f"{CWD}/a/b.py", CWD) == "a/b.py"
    assert relative_path(CWD, CWD) == "."
    assert relative_path("/home/dev/shopping/x", CWD) == "/home/dev/shopping/x"
    assert relative_path("rel/x", CWD) == "rel/x"
    assert exit_code_of("Command failed with exit code 127") == 127
    assert exit_code_of("boom") is None
    assert first_meaningful({"a": None, "b": " ", "c": 3}) == "3"


@pytest.mark.parametrize(
    ("event", "data", "label"),
    [
        ("Notification", {"title": "Permission needed", "message": "Claude needs Bash"},
         "Notification · Permission needed · Claude needs Bash"),
        ("InstructionsLoaded", {"file_path": f"{CWD}/CLAUDE.md", "memory_type": "Project"},
         "InstructionsLoaded · CLAUDE.md · Project"),
        ("UserPromptExpansion", {"command_name": "review", "command_args": "a.py"},
         "UserPromptExpansion · /review a.py"),
        ("PermissionRequest", {"tool_name": "Bash", "tool_input": {"command": "rm -rf b"}},
         "PermissionRequest · Bash · rm -rf b"),
        ("PostToolBatch", {"tool_calls": [{"tool_name": "Read"}, {"tool_name": "Grep"}]},
         "PostToolBatch · 2 calls: Read, Grep"),
        ("CwdChanged", {"old_cwd": CWD, "new_cwd": f"{CWD}/api"}, "CwdChanged · api · ."),
        ("PreCompact", {}, "PreCompact"),
    ],
)  # fmt: skip
def test_each_event_says_what_it_was_about(event: str, data: dict[str, Any], label: str) -> None:
    """Hook events other than tool calls get a label from the fields they name."""
    assert event_label(event, data, cwd=CWD) == label
