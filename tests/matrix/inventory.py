"""Enumerate, from the code itself, everything an integration test must cover.

* tables: read from a database migrated by the shipped Alembic migrations;
* topics: the catalogue's topic families (``omniclaude.events.TOPICS``);
* event types: the catalogue (``omniclaude.events.CATALOG``);
* endpoints: the routes of the FastAPI app built by ``create_app``.

Items are strings ``kind:name`` (``table:agent_actions``, ``topic:agent-actions``,
``event:agent_action``, ``endpoint:POST /route``). Tests declare what they cover with
``@pytest.mark.covers("table:agent_actions", ...)``; :func:`covered_items` finds those marks by
reading the test sources, so the registry is the tests themselves, not a hand-kept list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omniclaude.events import CATALOG, TOPICS

TESTS_ROOT = Path(__file__).resolve().parent.parent
REAL_SERVICE_DIRS = ("integration", "system")
IGNORED_TABLES = frozenset({"alembic_version"})
IGNORED_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def topic_items() -> set[str]:
    """Every topic family the consumer subscribes to."""
    return {f"topic:{spec.default_name}" for spec in TOPICS}


def event_items() -> set[str]:
    """Every catalogued event type."""
    return {f"event:{kind.event_type}" for kind in CATALOG}


def table_items(table_names: Iterable[str]) -> set[str]:
    """The tables a migrated database holds (pass the names read from it)."""
    return {f"table:{name}" for name in table_names if name not in IGNORED_TABLES}


def endpoint_items(openapi: dict[str, Any]) -> set[str]:
    """Every method + path of the API's OpenAPI document (what clients are promised).

    The viewer's pages are left out of the document on purpose; its own integration and
    browser tests cover them.
    """
    methods = {"get", "post", "put", "patch", "delete"}
    return {
        f"endpoint:{method.upper()} {path}"
        for path, operations in openapi.get("paths", {}).items()
        if path not in IGNORED_PATHS
        for method in operations
        if method in methods
    }


KINDS = frozenset({"table", "topic", "endpoint", "event", "join", "feature"})
"""``feature:`` items are free-form (a CLI command, a hook path); the others are checked."""


def _covers_calls(node: ast.AST) -> list[ast.Call]:
    return [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "covers"
    ]


def _covers_args(node: ast.AST) -> list[str]:
    """The literal string arguments of every ``covers(...)`` call inside ``node``."""
    return [
        arg.value
        for call in _covers_calls(node)
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    ]


def covers_problems(roots: Iterable[Path] | None = None) -> list[str]:
    """Marks the matrix cannot trust: non-literal arguments, or items of an unknown kind."""
    roots = list(roots) if roots is not None else [TESTS_ROOT / d for d in REAL_SERVICE_DIRS]
    problems = []
    for root in roots:
        for path in sorted(root.rglob("test_*.py")):
            for call in _covers_calls(ast.parse(path.read_text(), filename=str(path))):
                where = f"{path.relative_to(root.parent)}:{call.lineno}"
                for arg in call.args:
                    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                        problems.append(f"{where}: covers() needs literal strings")
                    elif arg.value.partition(":")[0] not in KINDS:
                        problems.append(f"{where}: {arg.value!r} is not kind:name {sorted(KINDS)}")
    return problems


def covered_items(roots: Iterable[Path] | None = None) -> dict[str, list[str]]:
    """Map each covered item to the tests (``file::name``) that declare covering it."""
    roots = list(roots) if roots is not None else [TESTS_ROOT / d for d in REAL_SERVICE_DIRS]
    covered: dict[str, list[str]] = {}
    for root in roots:
        for path in sorted(root.rglob("test_*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            module_level = [
                item
                for stmt in tree.body
                if isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets)
                for item in _covers_args(stmt)
            ]
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    items = module_level + [i for d in node.decorator_list for i in _covers_args(d)]
                    if node.name.startswith(("test", "Test")):
                        for item in items:
                            covered.setdefault(item, []).append(f"{path.name}::{node.name}")
    return covered


def missing(inventory: set[str], covered: dict[str, list[str]]) -> list[str]:
    """The inventory items no real-service test covers, sorted."""
    return sorted(inventory - set(covered))


def stale(inventory: set[str], covered: dict[str, list[str]]) -> list[str]:
    """Covered table/topic/endpoint/event items that the code no longer defines (typos too)."""
    checked = {"table", "topic", "endpoint", "event"}
    return sorted(
        item for item in covered if item.partition(":")[0] in checked and item not in inventory
    )
