"""``omniclaude demo``: a few realistic agent sessions through the real path.

The agents run in this process with the runtime (:class:`~omniclaude.runtime.AgentRunner`)
on a small sample project written under ``<data_dir>/demo/sample-project``; every event goes
through a :class:`~omniclaude.publishing.sinks.kafka.KafkaSink` to the stack's broker, the
consumer writes it to PostgreSQL, and the demo waits until each trace is there before printing
its viewer address. The sessions cover routing, manifest injection, several tool calls, a
transformation, a parallel fan-out, and a flaky tool that is retried (once recovering, once
failing for good). One tool call carries a bearer token to show that it is redacted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omniclaude.runtime import AgentContext, ExecutionRequest, TransientToolError
from omniclaude.stack.demo_project import write_sample_project

__all__ = ["DEMO_AGENT", "DemoResult", "DemoSession", "demo_sessions", "release_notes_agent"]

DEMO_AGENT = "release-notes-writer"
_FAKE_TOKEN = "Bearer sk-demo-" + "7f3a9c2e4b1d8f6a0c5e9b2d4f7a1c3e"  # redacted by every sink


@dataclass(frozen=True, slots=True)
class DemoSession:
    """One scripted request and what it shows."""

    title: str
    shows: str
    request: ExecutionRequest


@dataclass(slots=True)
class DemoResult:
    """How one session ended, once its trace is in the database."""

    session: DemoSession
    correlation_id: uuid.UUID
    agent: str | None
    status: str
    actions: int = 0
    children: int = 0
    stored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


async def release_notes_agent(ctx: AgentContext) -> dict[str, Any]:
    """A demo agent whose status service is flaky: ``context.failures`` calls fail first.

    With fewer failures than attempts the tool recovers after retries; with more, the last
    attempt's error fails the execution.
    """
    failures = int(ctx.context.get("failures", 2))
    version = str(ctx.context.get("version", "2.4.1"))
    await ctx.decide(
        "check the deployment status before drafting the notes", service="status.example.com"
    )
    calls = {"n": 0}

    def fetch_status() -> dict[str, Any]:
        calls["n"] += 1
        time.sleep(0.03)
        if calls["n"] <= failures:
            raise TransientToolError(f"status.example.com answered 503 (call {calls['n']})")
        return {"service": "shop-api", "version": version, "healthy": True}

    status = await ctx.tool(
        "fetch_status",
        {
            "url": "https://status.example.com/api/v1/shop",
            "headers": {"authorization": _FAKE_TOKEN},
        },
        fetch_status,
    )
    changes = await ctx.tool(
        "read_file", {"path": "CHANGELOG.md"}, ctx.workspace.read_text, "CHANGELOG.md"
    )
    await ctx.progress("drafting", 80)
    lines = [line for line in changes.splitlines() if line.startswith("- ")][:5]
    notes = f"shop {status['version']}: " + "; ".join(item[2:] for item in lines)
    return {"version": status["version"], "notes": notes, "summary": notes[:120]}


def _agent_definition() -> Any:
    from omniclaude.routing.registry import AgentDefinition

    return AgentDefinition(
        name=DEMO_AGENT,
        description="Drafts release notes from the changelog after checking the deployment.",
        domain="docs",
        triggers=("release notes", "draft the release notes"),
        capabilities=("write release notes from a changelog",),
        tools=("fetch_status", "read_file"),
        entrypoint="omniclaude.stack.demo:release_notes_agent",
        max_retries=2,
    )


def demo_sessions(session_id: str) -> list[DemoSession]:
    """Return the scripted sessions, all in the session ``session_id``."""

    def request(prompt: str, **kwargs: Any) -> ExecutionRequest:
        return ExecutionRequest(user_prompt=prompt, session_id=session_id, **kwargs)

    return [
        DemoSession(
            "Code analysis",
            "routing, manifest injection, several tool calls",
            request("Analyze the code structure of this project: modules, functions and TODOs"),
        ),
        DemoSession(
            "Transformation",
            "the polymorphic agent transforms into a specialised one",
            request(
                "Where are the unit tests for the cart and what do they cover?",
                agent="polymorphic-agent",
            ),
        ),
        DemoSession(
            "Parallel review",
            "a fan-out to three agents as child executions",
            request(
                "Review the shop project before the release: code, tests and dependencies",
                agents=("code-analyzer", "test-finder", "dependency-auditor"),
            ),
        ),
        DemoSession(
            "Secrets scan",
            "a finding about a hard-coded key (its value is never recorded)",
            request("Scan the project for hard-coded secrets and credentials"),
        ),
        DemoSession(
            "Flaky service, recovered",
            "an error, then a retry that succeeds",
            request(
                "Draft the release notes for shop 2.4.1",
                agent=DEMO_AGENT,
                context={"failures": 2, "version": "2.4.1"},
                max_attempts=3,
            ),
        ),
        DemoSession(
            "Flaky service, gave up",
            "every retry fails: the execution fails with the last error",
            request(
                "Draft the release notes for shop 2.5.0-rc1",
                agent=DEMO_AGENT,
                context={"failures": 9, "version": "2.5.0-rc1"},
                max_attempts=3,
            ),
        ),
    ]


async def run_sessions(
    sessions: list[DemoSession],
    *,
    settings: Any,
    workspace: Path,
    outbox_dir: Path,
    db: Any = None,
) -> list[DemoResult]:
    """Run ``sessions`` concurrently through a Kafka sink; return one result each.

    Args:
        sessions: what to run.
        settings: the broker address, topics and producer settings.
        workspace: the sample project (written here if missing).
        outbox_dir: the Kafka sink's durable outbox.
        db: a pool for the manifests' recent-executions section (None: section skipped).
    """
    from omniclaude.publishing.sinks.kafka import KafkaSink
    from omniclaude.routing import AgentRegistry, Router
    from omniclaude.runtime import AgentRunner, Workspace
    from omniclaude.storage.queries import recent_successes

    write_sample_project(workspace)
    registry = AgentRegistry([*AgentRegistry.load(), _agent_definition()])
    sink = KafkaSink.from_settings(settings, spool_dir=outbox_dir)
    await sink.start()
    try:
        runner = AgentRunner(
            registry=registry,
            router=Router(registry),
            sink=sink,
            workspace=Workspace(workspace),
            recent=recent_successes(db) if db is not None else None,
        )
        async with runner:
            states = await asyncio.gather(*(runner.run(s.request) for s in sessions))
        await sink.flush(timeout_s=30.0)
    finally:
        await sink.stop()
    return [
        DemoResult(s, state.correlation_id, state.agent_name, state.status)
        for s, state in zip(sessions, states, strict=True)
    ]


_STORED_SQL = """
SELECT l.status,
       (SELECT count(*) FROM agent_actions a WHERE a.correlation_id = l.correlation_id) AS actions,
       (SELECT count(*) FROM agent_execution_logs c
         WHERE c.parent_correlation_id = l.correlation_id) AS children
  FROM agent_execution_logs l WHERE l.correlation_id = $1
"""


async def wait_stored(
    results: list[DemoResult],
    database_url: str,
    *,
    timeout_s: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Wait until every session's execution is in the database with its final status."""
    from omniclaude.storage.pool import connect

    conn = await connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            for result in results:
                row = await conn.fetchrow(_STORED_SQL, result.correlation_id)
                if row is not None and row["status"] != "in_progress":
                    result.stored = True
                    result.actions, result.children = int(row["actions"]), int(row["children"])
            if all(r.stored for r in results) or time.monotonic() > deadline:
                return
            await sleep(0.25)
    finally:
        await conn.close()
