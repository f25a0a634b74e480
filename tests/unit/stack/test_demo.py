"""The demo's script, sample project and flaky agent (without a broker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniclaude.runtime import TransientToolError, is_retriable
from omniclaude.stack.demo import DEMO_AGENT, _agent_definition, demo_sessions, release_notes_agent
from omniclaude.stack.demo_project import SAMPLE_FILES, write_sample_project


def test_the_sessions_cover_what_the_demo_promises() -> None:
    """Routing, a transformation, a fan-out and both retry outcomes are all scripted."""
    sessions = demo_sessions("demo-1")
    assert all(s.request.session_id == "demo-1" for s in sessions)
    requests = [s.request for s in sessions]
    assert any(r.agent is None and not r.agents for r in requests), "no routed session"
    assert any(r.agent == "polymorphic-agent" for r in requests), "no transformation session"
    assert any(len(r.agents) >= 2 for r in requests), "no parallel session"
    flaky = [r for r in requests if r.agent == DEMO_AGENT]
    assert sorted(r.context["failures"] < (r.max_attempts or 3) for r in flaky) == [False, True]


def test_the_demo_agent_is_a_valid_definition() -> None:
    """The demo agent declares the tools it calls and an importable entrypoint."""
    from omniclaude.routing.registry import resolve_entrypoint

    agent = _agent_definition()
    assert agent.name == DEMO_AGENT
    assert set(agent.tools) == {"fetch_status", "read_file"}
    assert resolve_entrypoint(agent.entrypoint) is release_notes_agent


def test_the_sample_project_is_written_once(tmp_path: Path) -> None:
    """Every file is written; a file the user changed is left alone."""
    write_sample_project(tmp_path)
    assert sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
    ) == sorted(SAMPLE_FILES)
    (tmp_path / "README.md").write_text("mine")
    write_sample_project(tmp_path)
    assert (tmp_path / "README.md").read_text() == "mine"


class FakeContext:
    """Just enough of AgentContext: tools retried while retriable, like the runtime."""

    def __init__(self, root: Path, context: dict[str, Any], attempts: int = 3) -> None:
        self.context = context
        self.attempts = attempts
        self.calls: list[tuple[str, str]] = []
        self.workspace = type("W", (), {"read_text": lambda _self, p: (root / p).read_text()})()

    async def decide(self, decision: str, **details: Any) -> None:
        self.calls.append(("decision", decision))

    async def progress(self, stage: str, percent: float) -> None:
        self.calls.append(("progress", stage))

    async def tool(
        self, name: str, params: dict[str, Any], fn: Callable[..., Any], *args: Any
    ) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                value = fn(*args)
            except Exception as exc:
                self.calls.append(("error", name))
                if attempt == self.attempts or not is_retriable(exc):
                    raise
                continue
            self.calls.append(("tool_call", name))
            return value
        raise AssertionError("unreachable")


async def test_the_flaky_agent_recovers_after_retries(tmp_path: Path) -> None:
    """Two failures, three attempts: two errors, then the notes from the changelog."""
    write_sample_project(tmp_path)
    ctx = FakeContext(tmp_path, {"failures": 2, "version": "2.4.1"})
    result = await release_notes_agent(ctx)  # type: ignore[arg-type]
    assert [kind for kind, _ in ctx.calls].count("error") == 2
    assert result["version"] == "2.4.1"
    assert "rounding of cart totals" in result["notes"]


async def test_the_flaky_agent_gives_up(tmp_path: Path) -> None:
    """More failures than attempts: the last retriable error is raised."""
    write_sample_project(tmp_path)
    ctx = FakeContext(tmp_path, {"failures": 9})
    with pytest.raises(TransientToolError, match="503"):
        await release_notes_agent(ctx)  # type: ignore[arg-type]
