"""``dependency-auditor``: declared dependencies, imported modules, and the gaps between them."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import PurePosixPath
from typing import Any

from omniclaude.runtime.agents._common import list_files, parse_modules, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import Workspace, language_of

__all__ = ["normalize", "parse_requirement", "run"]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_IMPORT_NAMES = {
    "pyyaml": "yaml", "beautifulsoup4": "bs4", "pillow": "pil", "scikit-learn": "sklearn",
    "python-dateutil": "dateutil", "opencv-python": "cv2", "pyjwt": "jwt", "attrs": "attr",
    "protobuf": "google", "python-dotenv": "dotenv", "typing-extensions": "typing_extensions",
    "pydantic-settings": "pydantic_settings", "prometheus-client": "prometheus_client",
}  # fmt: skip


def normalize(name: str) -> str:
    """The import name a distribution is most likely imported as."""
    lowered = name.lower()
    return _IMPORT_NAMES.get(lowered, lowered.replace("-", "_").replace(".", "_"))


def parse_requirement(line: str) -> str | None:
    """The distribution name of one requirement line, or None for comments and options."""
    stripped = line.split("#", 1)[0].strip()
    if not stripped or stripped.startswith("-"):
        return None
    match = _REQUIREMENT.match(stripped)
    return match.group(1) if match else None


def _declared(workspace: Workspace, files: list[str]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for rel in files:
        name = PurePosixPath(rel).name
        text = workspace.read_text(rel)
        entries: list[dict[str, str]] = []
        if name == "pyproject.toml":
            data = tomllib.loads(text)
            project = data.get("project", {})
            specs = list(project.get("dependencies", []))
            for group, items in project.get("optional-dependencies", {}).items():
                specs.extend(f"{item} ; extra={group}" for item in items)
            entries = [{"name": n, "spec": s} for s in specs if (n := parse_requirement(s))]
        elif name.startswith("requirements") and name.endswith(".txt"):
            entries = [
                {"name": n, "spec": line.strip()}
                for line in text.splitlines()
                if (n := parse_requirement(line))
            ]
        elif name == "package.json":
            data = json.loads(text)
            for section in ("dependencies", "devDependencies"):
                entries.extend(
                    {"name": k, "spec": f"{v} ({section})"}
                    for k, v in data.get(section, {}).items()
                )
        if entries:
            found[rel] = entries
    return found


async def run(ctx: AgentContext) -> dict[str, Any]:
    """List declared and imported dependencies under ``context["path"]`` and compare them."""
    base = target_path(ctx)
    files = await list_files(ctx, base)
    manifests = [
        f
        for f in files
        if PurePosixPath(f).name in {"pyproject.toml", "package.json"}
        or (PurePosixPath(f).name.startswith("requirements") and f.endswith(".txt"))
    ]
    await ctx.decide(f"read {len(manifests)} dependency manifests", manifests=manifests)
    declared = await ctx.tool(
        "read_file",
        {"files": manifests},
        _declared,
        ctx.workspace,
        manifests,
        isolate=True,
        summary=lambda d: {k: len(v) for k, v in d.items()},
    )
    modules = await parse_modules(ctx, [f for f in files if language_of(f) == "Python"])
    local = {PurePosixPath(f).parts[0] for f in files} | {PurePosixPath(f).stem for f in files}
    local |= {
        PurePosixPath(f).parts[1]
        for f in files
        if f.startswith("src/") and len(PurePosixPath(f).parts) > 2
    }
    stdlib = set(sys.stdlib_module_names)
    imports: dict[str, set[str]] = {}
    for rel, module in modules.items():
        for name in module.imports:
            top = name.split(".")[0]
            if top not in stdlib and top not in local and not top.startswith("_"):
                imports.setdefault(top, set()).add(rel)
    declared_names = {
        normalize(e["name"]): e["name"] for entries in declared.values() for e in entries
    }
    undeclared = sorted(name for name in imports if name.lower() not in declared_names)
    unused = sorted(
        original
        for norm, original in declared_names.items()
        if norm not in {i.lower() for i in imports}
    )
    await ctx.decide(
        "compare imports with declarations", undeclared=len(undeclared), unused=len(unused)
    )
    return {
        "declared": declared,
        "third_party_imports": {k: sorted(v)[:10] for k, v in sorted(imports.items())},
        "undeclared_imports": undeclared,
        "declared_but_unused": unused,
        "summary": (
            f"{len(declared_names)} declared dependencies, {len(imports)} third-party "
            f"modules imported; {len(undeclared)} undeclared, {len(unused)} unused"
        ),
    }
