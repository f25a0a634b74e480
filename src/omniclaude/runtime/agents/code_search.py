"""``code-search``: where a symbol is defined and used, or every line matching a pattern."""

from __future__ import annotations

import re
from typing import Any

from omniclaude.routing.signals import STOP_WORDS
from omniclaude.runtime.agents._common import list_files, parse_modules, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.patterns import compile_user_pattern
from omniclaude.runtime.workspace import language_of

__all__ = ["extract_query", "run"]

_QUOTED = re.compile(r"""[`'"]([^`'"]{1,200})[`'"]""")
_IDENTIFIER = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\b")
_COMMAND_WORDS = frozenset(
    [
        "find",
        "search",
        "grep",
        "locate",
        "show",
        "where",
        "defined",
        "define",
        "definition",
        "usages",
        "usage",
        "uses",
        "used",
        "calls",
        "call",
        "callers",
        "caller",
        "references",
        "reference",
        "occurrences",
        "occurrence",
        "every",
        "all",
        "word",
        "lines",
        "line",
        "matching",
        "match",
        "across",
        "tree",
        "code",
        "file",
        "files",
        "function",
        "class",
        "symbol",
        "implemented",
        "look",
        "up",
        "appears",
        "src",
    ]
)


def extract_query(prompt: str, context: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Return ``(what to search for, is it a regular expression)`` from a request.

    ``context["query"]`` wins; then a quoted string (a regular expression); then the most
    code-like word (snake_case, CamelCase, dotted); then the longest remaining word.
    """
    if context and isinstance(context.get("query"), str) and context["query"]:
        return context["query"], bool(context.get("regex"))
    quoted = _QUOTED.search(prompt)
    if quoted:
        return quoted.group(1), True
    words = [
        w
        for w in _IDENTIFIER.findall(prompt)
        if w.lower() not in STOP_WORDS and w.lower() not in _COMMAND_WORDS
    ]
    if not words:
        return prompt.strip()[:100], False

    def code_likeness(word: str) -> tuple[int, int]:
        shaped = (
            "_" in word or "." in word or (word[0].isupper() and any(c.isupper() for c in word[1:]))
        )
        return (2 if shaped else 1 if word[0].isupper() else 0, len(word))

    return max(words, key=code_likeness), False


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Search the tree under ``context["path"]`` for the symbol or pattern the request names."""
    query, is_regex = extract_query(ctx.prompt, ctx.context)
    pattern = query if is_regex else rf"\b{re.escape(query)}\b"
    field = "context.query" if ctx.context.get("query") else "user_prompt"
    compile_user_pattern(pattern, field=field)  # a bad pattern fails here, before any work
    await ctx.decide(f"search for {query!r}", regex=is_regex)
    files = [f for f in await list_files(ctx, target_path(ctx)) if language_of(f) is not None]
    matches = await ctx.tool(
        "search_text",
        {"pattern": pattern, "files": len(files)},
        ctx.workspace.search,
        pattern,
        files,
        field=field,
        summary=lambda m: {"matches": len(m)},
        isolate=True,
    )
    definitions: list[dict[str, Any]] = []
    symbol = query.rsplit(".", 1)[-1]
    if not is_regex:
        touched = sorted({m["file"] for m in matches if language_of(m["file"]) == "Python"})
        for rel, module in (await parse_modules(ctx, touched)).items():
            definitions += [
                {"file": rel, "kind": "function", "line": f["line"]}
                for f in module.functions
                if f["name"] == symbol
            ]
            definitions += [
                {"file": rel, "kind": "class", "line": c["line"]}
                for c in module.classes
                if c["name"] == symbol
            ]
    by_file: dict[str, int] = {}
    for match in matches:
        by_file[match["file"]] = by_file.get(match["file"], 0) + 1
    return {
        "query": query,
        "regex": is_regex,
        "definitions": definitions,
        "matches": matches[:200],
        "files": by_file,
        "summary": (
            f"{len(matches)} matches of {query!r} in {len(by_file)} files; "
            f"{len(definitions)} definitions"
        ),
    }
