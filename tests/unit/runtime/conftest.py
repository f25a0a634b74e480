"""Fixtures of the runtime unit tests: a sample project and runners on an in-memory sink."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniclaude.routing import AgentDefinition, AgentRegistry, Router
from omniclaude.runtime import AgentRunner, RetryPolicy, RuntimeConfig, Workspace
from omniclaude.testing import InMemorySink
from tests.fixtures.stack import write_sample_project

TEST_AGENTS = [
    AgentDefinition(
        name="flaky-fetcher",
        description="flaky upstream",
        tools=("fetch_report",),
        entrypoint="tests.fixtures.stack:flaky_agent",
    ),
    AgentDefinition(
        name="slow-agent",
        description="sleeps",
        tools=("sleep",),
        entrypoint="tests.fixtures.stack:slow_agent",
    ),
    AgentDefinition(
        name="broken-agent",
        description="fails",
        tools=("explode",),
        entrypoint="tests.fixtures.stack:broken_agent",
    ),
    AgentDefinition(
        name="shapeshifter",
        description="transforms",
        tools=(),
        entrypoint="tests.fixtures.stack:shapeshifter_agent",
    ),
    AgentDefinition(
        name="plain-agent",
        description="returns anything",
        tools=(),
        entrypoint="tests.fixtures.stack:plain_agent",
    ),
    AgentDefinition(
        name="sneaky-agent",
        description="calls a tool it may not",
        tools=("read_file",),
        entrypoint="omniclaude.runtime.agents.code_analyzer:run",
    ),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small sample project to analyse."""
    return write_sample_project(tmp_path / "project")


RunnerFactory = Callable[..., tuple[AgentRunner, InMemorySink]]


@pytest.fixture
def make_runner(project: Path) -> RunnerFactory:
    """``make_runner(**runtime_config)`` → (runner over shipped + test agents, its sink)."""

    def make(recent: Any = None, **config: Any) -> tuple[AgentRunner, InMemorySink]:
        registry = AgentRegistry([*AgentRegistry.load(), *TEST_AGENTS])
        sink = InMemorySink()
        config.setdefault(
            "retry", RetryPolicy(max_attempts=3, initial_delay_s=0.001, max_delay_s=0.002)
        )
        # Tools run in threads here (no worker processes to start per test); the isolated
        # path has its own tests (test_isolation.py) and runs in every integration test.
        config.setdefault("tool_processes", 0)
        runner = AgentRunner(
            registry=registry,
            router=Router(registry),
            sink=sink,
            workspace=Workspace(project),
            config=RuntimeConfig(**config),
            recent=recent,
        )
        return runner, sink

    return make
