"""Steps the built-in agents share: choosing the target, listing and parsing files as tools."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import (
    PythonModule,
    Workspace,
    count_lines,
    language_of,
    parse_python,
)

__all__ = [
    "CHUNK",
    "Pacer",
    "count_tree",
    "focus_files",
    "list_files",
    "parse_modules",
    "read_and_parse",
    "target_path",
]

CHUNK = 100
"""Files per batched tool call (one action per chunk, not per file)."""


class Pacer:
    """Hands the event loop back every ``every_s`` inside a long loop an agent runs itself.

    Work done on the event loop (not in a tool) must not hold it: ``await pacer.tick()`` in
    each iteration lets other requests be answered and the execution's timeout cancel the
    loop there.
    """

    def __init__(self, every_s: float = 0.01) -> None:
        self.every_s = every_s
        self._last = time.perf_counter()

    async def tick(self) -> None:
        """Yield to the event loop if ``every_s`` passed since the last yield."""
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            await asyncio.sleep(0)
            self._last = time.perf_counter()


def target_path(ctx: AgentContext) -> str:
    """The directory or file the request is about: ``context["path"]`` or the whole tree."""
    path = ctx.context.get("path")
    return str(path) if isinstance(path, str) and path else "."


def focus_files(ctx: AgentContext) -> list[str]:
    """The files the request context names (``context["files"]``), as given."""
    files = ctx.context.get("files")
    return [str(f) for f in files[:50]] if isinstance(files, list) else []


async def list_files(ctx: AgentContext, base: str, patterns: Iterable[str] = ()) -> list[str]:
    """List files under ``base`` (a logged ``list_files`` tool call)."""
    wanted = list(patterns)
    files: list[str] = await ctx.tool(
        "list_files",
        {"path": base, "patterns": wanted},
        ctx.workspace.list_files,
        base,
        wanted,
        isolate=True,
        summary=lambda found: {"count": len(found), "first": found[:10]},
    )
    return files


def _count(workspace: Workspace, files: list[str]) -> dict[str, Any]:
    languages: dict[str, dict[str, int]] = {}
    totals = {"total": 0, "blank": 0, "comment": 0, "code": 0}
    per_file: dict[str, int] = {}
    for rel in files:
        language = language_of(rel)
        if language is None:
            continue
        counts = count_lines(workspace.read_text(rel))
        entry = languages.setdefault(language, {"files": 0, "lines": 0, "code": 0})
        entry["files"] += 1
        entry["lines"] += counts["total"]
        entry["code"] += counts["code"]
        per_file[rel] = counts["total"]
        for key, value in counts.items():
            totals[key] += value
    return {"languages": languages, "lines": totals, "per_file": per_file}


async def count_tree(ctx: AgentContext, files: list[str]) -> dict[str, Any]:
    """Count lines per language over ``files`` (one logged ``count_lines`` call per chunk)."""
    merged: dict[str, Any] = {
        "languages": {},
        "lines": {"total": 0, "blank": 0, "comment": 0, "code": 0},
        "per_file": {},
    }
    for start in range(0, len(files), CHUNK * 5):
        chunk = files[start : start + CHUNK * 5]
        part = await ctx.tool(
            "count_lines",
            {"files": len(chunk), "first": chunk[:3]},
            _count,
            ctx.workspace,
            chunk,
            isolate=True,
            summary=lambda p: {"languages": p["languages"], "lines": p["lines"]},
        )
        for language, entry in part["languages"].items():
            into = merged["languages"].setdefault(language, {"files": 0, "lines": 0, "code": 0})
            for key, value in entry.items():
                into[key] += value
        for key, value in part["lines"].items():
            merged["lines"][key] += value
        merged["per_file"].update(part["per_file"])
    return merged


def _parse_many(workspace: Workspace, files: list[str]) -> dict[str, dict[str, Any]]:
    return {rel: asdict(parse_python(workspace.read_text(rel))) for rel in files}


async def parse_modules(ctx: AgentContext, files: list[str]) -> dict[str, PythonModule]:
    """Parse Python files (one logged ``parse_python`` call per chunk of files)."""
    modules: dict[str, PythonModule] = {}
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        parsed: dict[str, dict[str, Any]] = await ctx.tool(
            "parse_python",
            {"files": len(chunk), "first": chunk[:3]},
            _parse_many,
            ctx.workspace,
            chunk,
            isolate=True,
            summary=lambda p: {
                "modules": len(p),
                "functions": sum(len(m["functions"]) for m in p.values()),
                "classes": sum(len(m["classes"]) for m in p.values()),
            },
        )
        modules.update({rel: PythonModule(**data) for rel, data in parsed.items()})
    return modules


async def read_and_parse(ctx: AgentContext, relative: str) -> tuple[str, PythonModule | None]:
    """Read one file (``read_file``) and, for Python, parse it (``parse_python``)."""
    text: str = await ctx.tool(
        "read_file",
        {"path": relative},
        ctx.workspace.read_text,
        relative,
        isolate=True,
        summary=lambda t: {"chars": len(t), "lines": t.count("\n") + 1},
    )
    if language_of(relative) != "Python":
        return text, None
    module: PythonModule = await ctx.tool(
        "parse_python",
        {"path": relative},
        parse_python,
        text,
        isolate=True,
        summary=lambda m: {
            "functions": len(m.functions),
            "classes": len(m.classes),
            "todos": len(m.todos),
        },
    )
    return text, module
