"""``omniclaude hooks install/uninstall``: our entries in Claude Code's ``settings.json``.

Claude Code reads hooks from ``~/.claude/settings.json`` (user) and ``.claude/settings.json``
(project) in this shape::

    {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command",
                                                          "command": "omniclaude hook"}]}],
               "Stop": [{"hooks": [{"type": "command", "command": "omniclaude hook"}]}]}}

:func:`merge` adds one group per event and never touches anything else (other keys, other
hooks, other groups); running it twice changes nothing. :func:`unmerge` removes only the
commands :func:`is_our_command` recognises, and the groups/events it leaves empty.

The command installed by default is a launcher script (:func:`launcher_source`) that runs
the hook as ``python -I -S`` importing only the standard library: faster than the
``omniclaude`` console script, which imports the package first (see ``bench/hook.py``).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shlex
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from omniclaude.errors import ConfigurationError
from omniclaude.hooks.payloads import (
    ALL_INSTALLABLE_EVENTS,
    CORE_EVENTS,
    FULL_EVENTS,
    INSTALL_EVENTS,
    KNOWN_EVENTS,
    NEWEST_SINCE,
    TOOL_EVENTS,
)

__all__ = [
    "CONSOLE_COMMAND",
    "LAUNCHER_NAME",
    "choose_events",
    "claude_version",
    "diff_text",
    "installed_events",
    "is_our_command",
    "launcher_command",
    "launcher_source",
    "merge",
    "read_settings_file",
    "unmerge",
    "write_launcher",
    "write_settings_file",
]

CONSOLE_COMMAND: Final = "omniclaude hook"
"""The plain console-script form of the hook command."""
LAUNCHER_NAME: Final = "omniclaude-hook"
"""File name of the fast launcher script."""
HOOK_TIMEOUT_S: Final = 10
"""Claude Code's per-command timeout we install (the hook itself exits in milliseconds)."""
_MAX_SHEBANG: Final = 120


def is_our_command(command: object) -> bool:
    """Return True when ``command`` is an OmniClaude hook command (console script or launcher)."""
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if not words:
        return False
    names = [os.path.basename(w) for w in words]
    if LAUNCHER_NAME in names:
        return True
    return len(words) >= 2 and names[-2] == "omniclaude" and words[-1] == "hook"


def claude_version(text: str | None) -> tuple[int, ...] | None:
    """Parse ``claude --version`` output (``"2.1.233 (Claude Code)"``) to a version tuple."""
    if not text:
        return None
    first = text.strip().split()[0] if text.strip() else ""
    parts = first.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def choose_events(spec: str, version: tuple[int, ...] | None) -> tuple[str, ...]:
    """Return the events to install for ``--events spec``.

    Args:
        spec: ``auto`` (core for Claude Code older than 2.1, full from 2.1.200, else
            standard), ``core``, ``standard``, ``full`` (every installable event but
            MessageDisplay), ``all`` (MessageDisplay too), or a comma-separated list of names.
        version: the installed Claude Code's version, when known.

    Raises:
        ConfigurationError: an unknown event name or set.
    """
    named = {
        "core": CORE_EVENTS, "standard": INSTALL_EVENTS, "full": FULL_EVENTS,
        "all": ALL_INSTALLABLE_EVENTS,
    }  # fmt: skip
    if spec == "auto":
        if version is not None and version < (2, 1):
            return CORE_EVENTS
        return FULL_EVENTS if version is not None and version >= NEWEST_SINCE else INSTALL_EVENTS
    if spec in named:
        return named[spec]
    events = tuple(e.strip() for e in spec.split(",") if e.strip())
    unknown = [e for e in events if e not in KNOWN_EVENTS]
    if unknown or not events:
        raise ConfigurationError(
            f"--events: unknown event(s) {unknown or spec!r}; use auto, core, standard, full, all "
            f"or names from: {', '.join(KNOWN_EVENTS)}"
        )
    return events


def _our_entry(command: str) -> dict[str, Any]:
    return {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}


def merge(
    settings: dict[str, Any], command: str, events: Iterable[str] = INSTALL_EVENTS
) -> dict[str, Any]:
    """Return ``settings`` with our hook command registered for ``events`` (input untouched).

    An event that already runs one of our commands keeps its place; the command is updated
    to ``command`` there (e.g. console script → launcher); our entries on events not in
    ``events`` are removed. Everything else stays as it was.

    Raises:
        ConfigurationError: ``settings["hooks"]`` (or an event's list) has the wrong shape.
    """
    chosen = list(events)
    if not isinstance(settings.get("hooks", {}), dict):
        raise ConfigurationError("settings.json: 'hooks' is not an object; fix it by hand first")
    # Ours on events no longer chosen go (e.g. --events core after a full install).
    result = unmerge(settings, only=[e for e in settings.get("hooks", {}) if e not in chosen])
    hooks = result.setdefault("hooks", {})
    for event in chosen:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise ConfigurationError(f"settings.json: hooks.{event} is not a list")
        found = False
        for group in groups:
            for entry in group.get("hooks", []) if isinstance(group, dict) else []:
                if isinstance(entry, dict) and is_our_command(entry.get("command")):
                    entry["command"] = command
                    found = True
        if not found:
            group = {"hooks": [_our_entry(command)]}
            if event in TOOL_EVENTS:
                group = {"matcher": "*", **group}
            groups.append(group)
    return result


def unmerge(settings: dict[str, Any], *, only: Iterable[str] | None = None) -> dict[str, Any]:
    """Return ``settings`` without our hook commands (and the groups/events left empty).

    Args:
        settings: the settings (not modified).
        only: remove ours from these events only (default: every event).
    """
    result = copy.deepcopy(settings)
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    for event in list(hooks) if only is None else [e for e in only if e in hooks]:
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                kept_groups.append(group)
                continue
            entries = [
                e
                for e in group["hooks"]
                if not (isinstance(e, dict) and is_our_command(e.get("command")))
            ]
            if entries:
                kept_groups.append({**group, "hooks": entries})
            elif len(entries) == len(group["hooks"]):
                kept_groups.append(group)  # an empty group that was never ours
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if not hooks:
        del result["hooks"]
    return result


def installed_events(settings: dict[str, Any]) -> list[str]:
    """Return the events whose hooks run one of our commands."""
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return []
    found = []
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            entries = group.get("hooks", []) if isinstance(group, dict) else []
            if any(isinstance(e, dict) and is_our_command(e.get("command")) for e in entries):
                found.append(event)
                break
    return found


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read a settings file (an absent or empty file reads as ``{}``).

    Raises:
        ConfigurationError: the file is not a JSON object (it is never overwritten then).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{path}: not valid JSON ({exc}); not touching it") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a JSON object; not touching it")
    return data


def _dump(settings: dict[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def write_settings_file(path: Path, settings: dict[str, Any]) -> None:
    """Write ``settings`` atomically (temporary file + rename), keeping the file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_dump(settings))
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def diff_text(path: Path, before: dict[str, Any], after: dict[str, Any]) -> str:
    """Return a unified diff between two versions of a settings file ('' when equal)."""
    old = _dump(before).splitlines(keepends=True) if before else []
    new = _dump(after).splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, f"{path} (now)", f"{path} (after)"))


def launcher_source(*, python: str, hooks_dir: str, spool_dir: str | None = None) -> str:
    """Return the fast launcher script.

    It runs ``python -I -S`` (no ``site``, no user environment for Python itself) and imports
    ``fast.py`` as a top-level module, skipping the ``omniclaude`` package ``__init__``.

    Args:
        python: the interpreter of the environment OmniClaude is installed in.
        hooks_dir: the directory of ``omniclaude/hooks/fast.py``.
        spool_dir: a spool directory to use when Claude Code's environment names none.
    """
    setdefault = (
        f"os.environ.setdefault('OMNICLAUDE_SPOOL_DIR', {spool_dir!r})\n" if spool_dir else ""
    )
    return (
        f"#!{python} -IS\n"
        '"""Claude Code hook for OmniClaude (written by `omniclaude hooks install`)."""\n'
        "import os\n"
        "import sys\n"
        f"{setdefault}"
        f"sys.path.append({hooks_dir!r})\n"
        "try:\n"
        "    from fast import main\n"
        "except ImportError:  # OmniClaude moved or was removed: never fail Claude Code\n"
        "    sys.stderr.write('omniclaude hook: run `omniclaude hooks install` again\\n')\n"
        "    sys.exit(0)\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )


def write_launcher(
    path: Path, *, python: str, hooks_dir: str, spool_dir: str | None = None
) -> None:
    """Write the launcher script at ``path`` (mode 0755)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(launcher_source(python=python, hooks_dir=hooks_dir, spool_dir=spool_dir))
    path.chmod(0o755)


def launcher_command(path: Path, *, python: str) -> str:
    """Return the settings command running the launcher at ``path``.

    The script runs directly through its ``#!`` line when the interpreter path allows it;
    otherwise (spaces, very long path) the interpreter is named explicitly.
    """
    if len(python) < _MAX_SHEBANG and not any(c.isspace() for c in python):
        return shlex.quote(str(path))
    return f"{shlex.quote(python)} -IS {shlex.quote(str(path))}"


# ------------------------------------------------------------------ telemetry (--telemetry)
TELEMETRY_MARKER: Final = "OMNICLAUDE_TELEMETRY_ENV"
"""The ``env`` entry naming the variables ``hooks install --telemetry`` wrote (so
``uninstall`` removes exactly those and nothing the user set)."""

_HEADERS_VAR: Final = "OTEL_EXPORTER_OTLP_HEADERS"
_BEARER: Final = "Authorization=Bearer "
MASK: Final = "********"


def telemetry_env(endpoint: str, key: str) -> dict[str, str]:
    """The ``env`` block that turns Claude Code's OTel logs and metrics on and sends them to
    an OmniClaude API at ``endpoint`` (``http://host:port``) with the ingest ``key``."""
    return {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint.rstrip("/"),
        _HEADERS_VAR: f"{_BEARER}{key}",
    }


def _env_of(settings: dict[str, Any]) -> dict[str, Any]:
    env = settings.get("env", {})
    if not isinstance(env, dict):
        raise ConfigurationError("settings.json: 'env' is not an object; fix it by hand first")
    return env


def _ours(env: dict[str, Any]) -> list[str]:
    names = env.get(TELEMETRY_MARKER, "")
    return [n for n in names.split(",") if n] if isinstance(names, str) else []


def installed_telemetry_key(settings: dict[str, Any]) -> str | None:
    """The ingest key an earlier ``--telemetry`` install wrote (reused, not replaced), else None."""
    env = _env_of(settings)
    value = env.get(_HEADERS_VAR)
    if _HEADERS_VAR in _ours(env) and isinstance(value, str) and value.startswith(_BEARER):
        return value[len(_BEARER) :]
    return None


def merge_telemetry(settings: dict[str, Any], variables: dict[str, str]) -> dict[str, Any]:
    """Return ``settings`` with ``variables`` in its ``env`` block (input untouched).

    Raises:
        ConfigurationError: ``env`` is not an object, or the user set one of the variables to
            another value (named; never overwritten).
    """
    result = copy.deepcopy(settings)
    env = _env_of(result)
    ours = set(_ours(env))
    for name, value in variables.items():
        current = env.get(name)
        if current is not None and current != value and name not in ours:
            shown = MASK if name == _HEADERS_VAR else repr(current)
            raise ConfigurationError(
                f"settings.json: env.{name} is already set (to {shown}), not by OmniClaude; "
                "remove it or install without --telemetry"
            )
    env.update(variables)
    env[TELEMETRY_MARKER] = ",".join(sorted(ours | set(variables)))
    result["env"] = env
    return result


def unmerge_telemetry(settings: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings`` without the ``env`` variables a ``--telemetry`` install wrote."""
    result = copy.deepcopy(settings)
    env = result.get("env")
    if not isinstance(env, dict) or TELEMETRY_MARKER not in env:
        return result
    for name in [*_ours(env), TELEMETRY_MARKER]:
        env.pop(name, None)
    if not env:
        del result["env"]
    return result


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the telemetry key hidden (for diffs and messages)."""
    env = settings.get("env")
    if not isinstance(env, dict) or not isinstance(env.get(_HEADERS_VAR), str):
        return settings
    result = copy.deepcopy(settings)
    value: str = result["env"][_HEADERS_VAR]
    if value.startswith(_BEARER):
        result["env"][_HEADERS_VAR] = _BEARER + MASK
    else:
        result["env"][_HEADERS_VAR] = MASK
    return result
