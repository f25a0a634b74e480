"""``file-reader``: one file, one tool call — its language, size, line counts, first lines."""

from __future__ import annotations

import re
from typing import Any

from omniclaude.runtime.agents._common import focus_files
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import count_lines, language_of

__all__ = ["pick_file", "run"]

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z0-9]{1,8})(?![\w/-])")
_HEAD_LINES = 20


def pick_file(prompt: str, context: dict[str, Any]) -> str | None:
    """The file to read: the first of ``context["files"]``, else a path written in the prompt."""
    files = context.get("files")
    if isinstance(files, list) and files:
        return str(files[0])
    match = _PATH.search(prompt)
    return match.group(1) if match else None


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Read the file the request names and summarise it."""
    path = pick_file(ctx.prompt, ctx.context)
    if path is None:
        raise ValueError("context.files: name the file to read (or write its path in the request)")
    await ctx.decide(f"read {path}", named_in="context" if focus_files(ctx) else "prompt")
    text: str = await ctx.tool(
        "read_file", {"path": path}, ctx.workspace.read_text, path,
        isolate=True,
        summary=lambda t: {"chars": len(t), "lines": t.count("\n") + 1},
    )  # fmt: skip
    lines = count_lines(text)
    return {
        "file": path,
        "language": language_of(path),
        "bytes": len(text.encode()),
        "lines": lines,
        "head": text.splitlines()[:_HEAD_LINES],
        "summary": f"{path}: {lines['total']} lines of {language_of(path) or 'text'}",
    }
