"""The per-execution timeout holds even when the manifest steps finish instantly."""

from __future__ import annotations

from pathlib import Path

from omniclaude.routing.registry import AgentRegistry
from omniclaude.routing.router import Router
from omniclaude.runtime import AgentRunner
from omniclaude.runtime.models import ExecutionRequest
from omniclaude.runtime.workspace import Workspace
from omniclaude.testing import InMemorySink


async def test_an_expired_timeout_fails_the_execution_with_an_error_action(tmp_path: Path) -> None:
    """A timeout shorter than any work ends the execution as failed, logged as an error.

    Regression: ``asyncio.wait_for`` in the manifest builder swallowed the execution's own
    cancellation on Python 3.11, and the agent ran to completion past its deadline.
    """
    (tmp_path / "main.py").write_text("def main():\n    return 1\n")
    sink = InMemorySink()
    registry = AgentRegistry.load()
    runner = AgentRunner(
        registry=registry, sink=sink, router=Router.default(), workspace=Workspace(tmp_path)
    )
    async with runner:
        state = await runner.run(
            ExecutionRequest(user_prompt="analyze", agent="code-analyzer", timeout_s=0.000001)
        )
    assert state.status == "failed", f"the execution outlived its timeout: {state.status}"
    types = [getattr(e, "action_type", e.event_type) for e in sink.events]
    assert "error" in types, f"the timeout was not logged as an error: {types}"
    assert types[-1] == "execution_failed", f"the execution was not closed as failed: {types}"
