"""``code-analyzer``: files, languages, lines, functions, classes, complexity and TODOs."""

from __future__ import annotations

from typing import Any

from omniclaude.runtime.agents._common import (
    count_tree,
    focus_files,
    list_files,
    parse_modules,
    read_and_parse,
    target_path,
)
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import count_lines, language_of

__all__ = ["run"]

_TOP = 10
_MAX_TODOS = 50


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Analyse the tree under ``context["path"]`` (default: the workspace), in detail for the
    files ``context["files"]`` names; return ``{"analysis": ..., "summary": ...}``."""
    base = target_path(ctx)
    await ctx.decide(f"analyze {base!r}", path=base, focus=focus_files(ctx))
    files = await list_files(ctx, base)
    await ctx.progress("files listed", 20)
    counted = await count_tree(ctx, files)
    await ctx.progress("lines counted", 50)
    python = [f for f in files if language_of(f) == "Python"]
    modules = await parse_modules(ctx, python)
    await ctx.progress("python parsed", 80)

    functions = [{"file": rel, **fn} for rel, module in modules.items() for fn in module.functions]
    todos = [{"file": rel, **todo} for rel, module in modules.items() for todo in module.todos]
    focus = []
    if focus_files(ctx):
        await ctx.decide("inspect the files named in the request", files=focus_files(ctx))
    for rel in focus_files(ctx):
        text, module = await read_and_parse(ctx, rel)
        entry: dict[str, Any] = {
            "path": rel,
            "language": language_of(rel),
            "lines": count_lines(text),
        }
        if module is not None:
            entry.update(
                functions=[f["name"] for f in module.functions],
                classes=[c["name"] for c in module.classes],
                todos=module.todos[:_MAX_TODOS],
                imports=sorted(set(module.imports)),
                syntax_error=module.syntax_error,
            )
        focus.append(entry)

    analysis = {
        "path": base,
        "files": len(files),
        "languages": counted["languages"],
        "lines": counted["lines"],
        "python": {
            "modules": len(modules),
            "functions": len(functions),
            "classes": sum(len(m.classes) for m in modules.values()),
            "syntax_errors": [rel for rel, m in modules.items() if m.syntax_error],
        },
        "largest_files": sorted(counted["per_file"].items(), key=lambda kv: -kv[1])[:_TOP],
        "longest_functions": sorted(functions, key=lambda f: -f["lines"])[:_TOP],
        "most_complex_functions": sorted(functions, key=lambda f: -f["complexity"])[:_TOP],
        "todos": {"count": len(todos), "items": todos[:_MAX_TODOS]},
        "focus": focus,
    }
    top_language = max(
        counted["languages"].items(), key=lambda kv: kv[1]["lines"], default=(None, {})
    )[0]
    summary = (
        f"{len(files)} files, {counted['lines']['total']} lines"
        f"{f' (mostly {top_language})' if top_language else ''}; "
        f"{len(functions)} Python functions; {len(todos)} TODO/FIXME comments"
    )
    return {"analysis": analysis, "summary": summary}
