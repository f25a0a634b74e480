"""Rows that say what happened: one short label per Claude Code tool call or hook event.

``Bash · pytest -x · exit 1``, ``Edit · src/app.py (+3 -1)``, ``Grep · "refund" in src``,
``Agent · Explore: find the tests``, ``github/create_issue · Fix refunds``. The mapper stores
the label in ``action_details["label"]`` (redacted with the rest of the details), so the web
viewer, ``omniclaude trace`` and ``GET /traces/{id}`` all show the same words. Paths are shown
relative to the session's working directory. Pure functions, no I/O.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_LABEL_CHARS",
    "event_label",
    "exit_code_of",
    "first_meaningful",
    "relative_path",
    "tool_label",
]

MAX_LABEL_CHARS: Final = 160
"""Labels are cut here (with an ellipsis); the full input stays in the details."""
_SEP: Final = " · "
_EXIT_CODE = re.compile(r"exit(?:ed with)? code[:\s]+(-?\d+)", re.IGNORECASE)
_MEANINGFUL_KEYS: Final = (
    "command", "file_path", "path", "notebook_path", "url", "query", "pattern", "prompt",
    "description", "name", "title", "message", "text", "content", "id",
)  # fmt: skip


def _short(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def relative_path(path: Any, cwd: str | None) -> str | None:
    """Return ``path`` relative to ``cwd`` when it lies inside it (else as given)."""
    text = _text(path)
    if text is None:
        return None
    if cwd and os.path.isabs(text):
        base = cwd.rstrip("/") or "/"
        if text == base:
            return "."
        if text.startswith(base.rstrip("/") + "/"):
            return text[len(base.rstrip("/")) + 1 :]
    return text


def exit_code_of(error: Any) -> int | None:
    """The exit status a failed command's error text names (``Exit code 1``), if any."""
    text = _text(error)
    if text is None:
        return None
    found = _EXIT_CODE.search(text)
    return int(found.group(1)) if found else None


def first_meaningful(value: Any) -> str | None:
    """The first informative field of a tool input (for tools we have no rule for)."""
    if not isinstance(value, Mapping):
        return _text(value)
    for key in _MEANINGFUL_KEYS:
        found = _text(value.get(key))
        if found:
            return found
    for item in value.values():
        found = _text(item)
        if found:
            return found
    return None


def _lines(text: Any) -> int:
    return len(text.splitlines()) if isinstance(text, str) and text else 0


def _patch_counts(response: Any) -> tuple[int, int] | None:
    """Lines added and removed, from an Edit/Write response's ``structuredPatch``."""
    if not isinstance(response, Mapping):
        return None
    patch = response.get("structuredPatch")
    if not isinstance(patch, list) or not patch:
        return None
    added = removed = 0
    for hunk in patch:
        for line in hunk.get("lines", []) if isinstance(hunk, Mapping) else []:
            if isinstance(line, str) and line.startswith("+"):
                added += 1
            elif isinstance(line, str) and line.startswith("-"):
                removed += 1
    return added, removed


def _changes(tool: str, tool_input: Mapping[str, Any], response: Any) -> str | None:
    counts = _patch_counts(response)
    if counts is None and tool == "Edit":
        old, new = _lines(tool_input.get("old_string")), _lines(tool_input.get("new_string"))
        counts = (new, old) if old or new else None
    if counts is None and tool == "MultiEdit" and isinstance(tool_input.get("edits"), list):
        edits = [e for e in tool_input["edits"] if isinstance(e, Mapping)]
        counts = (
            sum(_lines(e.get("new_string")) for e in edits),
            sum(_lines(e.get("old_string")) for e in edits),
        )
    if counts is None and tool == "Write":
        written = _lines(tool_input.get("content"))
        return f"{written} lines" if written else None
    if counts is None:
        return None
    return f"+{counts[0]} -{counts[1]}"


def _file_label(tool: str, tool_input: Mapping[str, Any], response: Any, cwd: str | None) -> str:
    path = relative_path(tool_input.get("file_path") or tool_input.get("notebook_path"), cwd)
    label = path or "?"
    if tool == "Read" and isinstance(tool_input.get("offset"), int):
        start = tool_input["offset"]
        limit = tool_input.get("limit")
        label += (
            f" lines {start}-{start + limit - 1}" if isinstance(limit, int) else f" from {start}"
        )
    if tool == "NotebookEdit":
        cell = _text(tool_input.get("cell_id"))
        mode = _text(tool_input.get("edit_mode"))
        label += "".join(f" {part}" for part in (mode, f"cell {cell}" if cell else None) if part)
    changes = _changes(tool, tool_input, response)
    return f"{label} ({changes})" if changes else label


def _search_label(tool_input: Mapping[str, Any], cwd: str | None) -> str:
    pattern = _text(tool_input.get("pattern")) or "?"
    label = f'"{pattern}"'
    where = relative_path(tool_input.get("path"), cwd)
    if where:
        label += f" in {where}"
    glob = _text(tool_input.get("glob")) or _text(tool_input.get("type"))
    if glob:
        label += f" ({glob})"
    return label


def _mcp_label(tool: str, tool_input: Any) -> str:
    _, server, name = [*tool.split("__", 2), "", ""][:3]
    label = f"{server or '?'}/{name or '?'}"
    detail = first_meaningful(tool_input)
    return label + (_SEP + detail if detail else "")


def tool_label(  # noqa: PLR0911 - one return per family of tools
    tool: str,
    tool_input: Any,
    *,
    cwd: str | None = None,
    response: Any = None,
    error: Any = None,
    interrupted: bool = False,
) -> str:
    """Say what one tool call did, in a line.

    Args:
        tool: ``tool_name``.
        tool_input: the call's input as Claude Code sent it.
        cwd: the session's working directory (paths are shown relative to it).
        response: ``tool_response`` (lines changed, a Bash interrupt).
        error: the failure's text (a Bash exit status is read from it).
        interrupted: the call was interrupted.

    Returns:
        The label, at most :data:`MAX_LABEL_CHARS` characters.
    """
    args: Mapping[str, Any] = tool_input if isinstance(tool_input, Mapping) else {}
    if tool.startswith("mcp__"):
        return _short(_mcp_label(tool, tool_input))
    if tool == "Bash":
        parts = [_short(_text(args.get("command")) or "?", 120)]
        code = exit_code_of(error)
        if code is not None:
            parts.append(f"exit {code}")
        was_cut = isinstance(response, Mapping) and bool(response.get("interrupted"))
        if interrupted or was_cut:
            parts.append("interrupted")
        if args.get("run_in_background"):
            parts.append("background")
        return _short(tool + _SEP + _SEP.join(parts))
    if tool in {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit"}:
        return _short(tool + _SEP + _file_label(tool, args, response, cwd))
    if tool in {"Grep", "Glob"}:
        return _short(tool + _SEP + _search_label(args, cwd))
    if tool == "WebFetch":
        return _short(tool + _SEP + (_text(args.get("url")) or "?"))
    if tool == "WebSearch":
        return _short(tool + _SEP + (_text(args.get("query")) or "?"))
    if tool in {"Agent", "Task"}:
        kind = _text(args.get("subagent_type")) or "subagent"
        about = _text(args.get("description")) or _text(args.get("prompt"))
        return _short(f"{tool}{_SEP}{kind}" + (f": {about}" if about else ""))
    detail = first_meaningful(tool_input)
    return _short(tool + (_SEP + detail if detail else ""))


_EVENT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "Setup": ("trigger", "source"),
    "InstructionsLoaded": ("file_path", "memory_type", "load_reason"),
    "UserPromptExpansion": ("command_name", "command_args", "expansion_type"),
    "Notification": ("title", "message", "notification_type"),
    "TaskCreated": ("task_subject", "teammate_name"),
    "TaskCompleted": ("task_subject", "teammate_name"),
    "TeammateIdle": ("teammate_name", "team_name"),
    "ConfigChange": ("source", "file_path", "key"),
    "CwdChanged": ("new_cwd", "cwd_after", "old_cwd"),
    "DirectoryAdded": ("directory", "path", "directory_path"),
    "FileChanged": ("file_path", "change_type", "event"),
    "WorktreeCreate": ("name", "worktree_path", "path"),
    "WorktreeRemove": ("worktree_path", "path", "name"),
    "PreCompact": ("trigger",),
    "PostCompact": ("trigger", "compact_summary"),
    "Elicitation": ("mcp_server_name", "server_name", "message"),
    "ElicitationResult": ("mcp_server_name", "server_name", "action"),
    "SessionStart": ("source", "model"),
    "SessionEnd": ("reason",),
}
"""For events without a rule of their own: the fields worth reading, in order."""
_PATH_FIELDS: Final = frozenset({"file_path", "new_cwd", "cwd_after", "old_cwd", "directory",
                                 "path", "directory_path", "worktree_path"})  # fmt: skip


def event_label(event: str, data: Mapping[str, Any], *, cwd: str | None = None) -> str:
    """Say what a hook event (other than a tool call) was about, in a line.

    Args:
        event: ``hook_event_name``.
        data: the payload.
        cwd: the session's working directory.

    Returns:
        ``Event · what it names`` (just the event when the payload names nothing).
    """
    if event == "UserPromptExpansion" and _text(data.get("command_name")):
        command = "/" + str(data["command_name"]).lstrip("/")
        args = _text(data.get("command_args"))
        return _short(f"{event}{_SEP}{command}" + (f" {args}" if args else ""))
    if event in {"PermissionRequest", "PermissionDenied"}:
        tool = _text(data.get("tool_name")) or "tool"
        what = tool_label(tool, data.get("tool_input"), cwd=cwd)
        reason = _text(data.get("reason"))
        return _short(f"{event}{_SEP}{what}" + (f"{_SEP}{reason}" if reason else ""))
    if event == "PostToolBatch" and isinstance(data.get("tool_calls"), list):
        calls = [c for c in data["tool_calls"] if isinstance(c, Mapping)]
        names = ", ".join(str(c.get("tool_name") or "?") for c in calls[:6])
        more = f" +{len(calls) - 6}" if len(calls) > 6 else ""
        return _short(f"{event}{_SEP}{len(calls)} calls: {names}{more}")
    parts: list[str] = []
    for name in _EVENT_FIELDS.get(event, ()):
        value = (
            relative_path(data.get(name), cwd) if name in _PATH_FIELDS else _text(data.get(name))
        )
        if value and value not in parts:
            parts.append(value)
    return _short(event + (_SEP + _SEP.join(parts) if parts else ""))
