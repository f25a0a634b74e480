"""``docs-auditor``: docstring coverage of public code, and whether the README explains usage."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from omniclaude.runtime.agents._common import list_files, parse_modules, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import language_of

__all__ = ["readme_sections", "run"]

_HEADING = re.compile(r"^(#{1,6}\s+.+|.+\n[=-]{3,})$", re.M)


def readme_sections(text: str) -> dict[str, bool]:
    """Which of the expected topics a README covers (install, usage, license)."""
    lowered = text.lower()
    return {
        "install": "install" in lowered,
        "usage": "usage" in lowered or "quick start" in lowered or "getting started" in lowered,
        "license": "license" in lowered or "licence" in lowered,
    }


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Measure docstring coverage per module and check the README under ``context["path"]``."""
    files = await list_files(ctx, target_path(ctx))
    python = [
        f
        for f in files
        if language_of(f) == "Python" and not PurePosixPath(f).name.startswith("test_")
    ]
    modules = await parse_modules(ctx, python)
    per_module: dict[str, dict[str, Any]] = {}
    missing: list[dict[str, Any]] = []
    documented = total = 0
    for rel, module in sorted(modules.items()):
        public = [("function", f) for f in module.functions if f["public"]] + [
            ("class", c) for c in module.classes if c["public"]
        ]
        have = sum(1 for _, item in public if item["docstring"])
        documented += have + (1 if module.docstring else 0)
        total += len(public) + 1
        per_module[rel] = {
            "public": len(public),
            "documented": have,
            "module_docstring": module.docstring,
            "coverage": round((have + module.docstring) / (len(public) + 1), 3),
        }
        missing.extend(
            {"file": rel, "kind": kind, "name": item["name"], "line": item["line"]}
            for kind, item in public
            if not item["docstring"]
        )
    readmes = [f for f in files if PurePosixPath(f).name.lower().startswith("readme")]
    readme: dict[str, Any] = {"present": bool(readmes)}
    if readmes:
        text = await ctx.tool(
            "read_file",
            {"path": readmes[0]},
            ctx.workspace.read_text,
            readmes[0],
            isolate=True,
            summary=lambda t: {"chars": len(t)},
        )
        readme.update(
            path=readmes[0], sections=readme_sections(text), headings=len(_HEADING.findall(text))
        )
    await ctx.decide(
        "rank modules by missing docstrings", modules=len(per_module), missing=len(missing)
    )
    coverage = round(documented / total, 3) if total else 1.0
    worst = sorted(per_module.items(), key=lambda kv: kv[1]["coverage"])[:10]
    return {
        "docstring_coverage": coverage,
        "missing_docstrings": missing[:200],
        "worst_modules": dict(worst),
        "readme": readme,
        "quality_score": coverage,
        "summary": (
            f"docstring coverage {coverage:.0%} over {len(per_module)} modules; "
            f"{len(missing)} public symbols undocumented"
        ),
    }
