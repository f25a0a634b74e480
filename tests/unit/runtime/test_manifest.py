"""The manifest builder: sections, sizes, timing, and a bounded time budget."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from omniclaude.routing import AgentRegistry
from omniclaude.runtime import ManifestBuilder, Workspace


async def test_sections_are_built_sized_and_timed(project: Path) -> None:
    """Every section is present with its size, count and time; relevant files include named
    files and files whose names match the request."""

    async def recent(agent: str) -> list[dict[str, Any]]:
        return [{"user_prompt": f"earlier run of {agent}"}]

    agent = AgentRegistry.load().require("code-analyzer")
    manifest = await ManifestBuilder(Workspace(project), recent=recent).build(
        agent, "look at the utils module", {"files": ["main.py", "../escape.py", "absent.py"]}
    )
    names = [s.name for s in manifest.sections]
    assert names == [
        "agent_definition",
        "request_context",
        "relevant_files",
        "recent_patterns",
        "tools",
    ]
    assert all(s.size_bytes > 0 and s.query_time_ms is not None for s in manifest.sections)
    relevant = {f["path"]: f["why"] for f in manifest.data["relevant_files"]}
    assert relevant["main.py"] == "named"
    assert "utils.py" in relevant
    assert "../escape.py" not in relevant
    assert manifest.data["recent_patterns"][0]["user_prompt"].endswith("code-analyzer")
    assert manifest.size_bytes == sum(s.size_bytes for s in manifest.sections)
    assert not manifest.is_fallback
    assert manifest.warnings == []


async def test_failing_and_slow_sections_are_skipped_within_budget(project: Path) -> None:
    """A section that raises is a recorded failure; one that overruns the budget is cut off;
    the manifest is then a fallback with warnings, and building stays bounded in time."""

    async def broken(agent: str) -> list[dict[str, Any]]:
        raise ConnectionError("database away")

    agent = AgentRegistry.load().require("test-finder")
    manifest = await ManifestBuilder(Workspace(project), recent=broken).build(agent, "x", {})
    assert manifest.failures == {"recent_patterns": "ConnectionError: database away"}
    assert manifest.is_fallback
    assert "recent_patterns: failed (ConnectionError)" in manifest.warnings

    async def slow(agent: str) -> list[dict[str, Any]]:
        await asyncio.sleep(10)
        return []

    manifest = await ManifestBuilder(Workspace(project), recent=slow, timeout_s=0.2).build(
        agent, "x", {}
    )
    assert manifest.failures["recent_patterns"] == "timeout"
    assert manifest.failures.get("tools") == "timeout"
    assert manifest.total_ms < 2000


async def test_without_database_recent_patterns_is_skipped_with_a_warning(project: Path) -> None:
    """No loader: the section is left out and the manifest says why."""
    agent = AgentRegistry.load().require("file-reader")
    manifest = await ManifestBuilder(Workspace(project)).build(agent, "read main.py", {})
    assert "recent_patterns" not in manifest.data
    assert manifest.warnings == ["recent_patterns: no database configured; section skipped"]
