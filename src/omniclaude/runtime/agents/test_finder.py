"""``test-finder``: test files and test functions, what they exercise, what has no tests."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import PurePosixPath
from typing import Any

from omniclaude.routing.signals import analyze
from omniclaude.runtime.agents._common import Pacer, list_files, parse_modules, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import language_of

__all__ = ["is_test_file", "run"]

_TEST_PATTERNS = ("test_*.py", "*_test.py", "*.test.js", "*.test.ts", "*.spec.js", "*.spec.ts")


def is_test_file(relative: str) -> bool:
    """Whether a path names a test file (by name, or a Python file under a ``tests`` dir)."""
    path = PurePosixPath(relative)
    if any(fnmatch(path.name, p) for p in _TEST_PATTERNS):
        return True
    return (
        path.suffix == ".py"
        and path.name != "__init__.py"
        and ("tests" in path.parts[:-1] or "test" in path.parts[:-1])
        and path.name != "conftest.py"
    )


def _module_names(relative: str) -> set[str]:
    path = PurePosixPath(relative)
    names = {path.stem}
    if path.stem == "__init__" and len(path.parts) > 1:
        names = {path.parts[-2]}
    return names


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Find tests under ``context["path"]``; map them to modules; list untested modules."""
    base = target_path(ctx)
    files = await list_files(ctx, base)
    tests = [f for f in files if is_test_file(f)]
    sources = [
        f
        for f in files
        if language_of(f) == "Python"
        and not is_test_file(f)
        and PurePosixPath(f).name not in {"conftest.py", "__init__.py"}
    ]
    await ctx.decide(
        f"found {len(tests)} test files and {len(sources)} source modules",
        tests=len(tests),
        sources=len(sources),
    )
    parsed = await parse_modules(ctx, [t for t in tests if t.endswith(".py")])
    test_functions: dict[str, list[str]] = {}
    imported: dict[str, set[str]] = {}
    for rel, module in parsed.items():
        test_functions[rel] = [f["name"] for f in module.functions if f["name"].startswith("test")]
        imported[rel] = {part for name in module.imports for part in name.split(".")}
    coverage: dict[str, list[str]] = {}
    pacer = Pacer()  # sources x tests pairs: up to millions in a large tree
    for source in sources:
        await pacer.tick()
        names = _module_names(source)
        coverage[source] = [
            test
            for test in tests
            if names & imported.get(test, set())
            or any(n in PurePosixPath(test).stem for n in names)
        ]
    wanted = {t for t in analyze(ctx.prompt).terms if len(t) >= 3}
    focus = {
        source: covering
        for source, covering in coverage.items()
        if set(analyze(PurePosixPath(source).stem.replace("_", " ")).terms) & wanted
    }
    if focus:
        await ctx.decide(
            "narrow the answer to the modules the request names", modules=sorted(focus)
        )
    untested = sorted(s for s, covering in coverage.items() if not covering)
    count = sum(len(v) for v in test_functions.values())
    return {
        "tests": {
            "files": len(tests),
            "test_functions": count,
            "per_file": {k: len(v) for k, v in sorted(test_functions.items())},
        },
        "modules_without_tests": untested,
        "tests_by_module": {k: v for k, v in sorted(coverage.items()) if v},
        "focus": focus,
        "summary": (
            f"{len(tests)} test files with {count} tests; "
            f"{len(untested)} of {len(sources)} modules have no test"
        ),
    }
