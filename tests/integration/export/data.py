"""The export tests' data set: 5,000 actions and 40 executions (every event type) over three
days, with text a CSV must carry intact; and the CLI run from a test."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from typer.testing import CliRunner, Result

from omniclaude.cli import _register_all, app
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    MetricPoint,
    RoutingDecision,
    llm_call_id,
)
from omniclaude.storage.pool import connect
from omniclaude.storage.writers import write_events

__all__ = ["ACTIONS", "SINCE", "TRICKY", "UNTIL", "cli", "run_cli", "seed", "window"]

SINCE = datetime(2026, 11, 28, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
ACTIONS = 5000
TRICKY = ('comma, "quoted" and\nnewline', "naïve café — ☃ 日本", "", "tab\there", "back\\slash")
"""Text the CSV must carry intact (an empty string is not NULL)."""


def _execution(index: int, at: datetime) -> list[EventBase]:
    """Every event type of one execution at ``at`` (three of four finish; one fails)."""
    cid = uuid.UUID(int=index + 1)
    end = at + timedelta(seconds=40)
    events: list[EventBase] = [
        ExecutionStarted(correlation_id=cid, agent_name=f"agent-{index % 3}", timestamp=at,
                         user_prompt=TRICKY[index % len(TRICKY)] + f" #{index}",
                         session_id=f"s-{index % 4}", metadata={"n": index}),
        ExecutionProgress(correlation_id=cid, stage="working", percent=50,
                          timestamp=at + timedelta(seconds=1)),
        RoutingDecision(correlation_id=cid, user_request=f"do {index}, \"now\"",
                        selected_agent="agent-1", confidence_score=Decimal("0.8125"),
                        routing_strategy="enhanced", routing_time_ms=1.5,
                        alternatives=[{"agent_name": "agent-2", "confidence": 0.25}],
                        matched_triggers=["do", 'say "hi"'], timestamp=at),
        ManifestInjection(correlation_id=cid, agent_name="agent-1",
                          sections=[{"name": "agent_definition", "size_bytes": 120,
                                     "source": "registry", "query_time_ms": 0.5}],
                          total_query_time_ms=0.5, timestamp=at + timedelta(seconds=2)),
        AgentTransformation(correlation_id=cid, source_agent="polymorphic-agent",
                            target_agent="agent-1", transformation_reason="specialise",
                            confidence=Decimal("0.75"), timestamp=at + timedelta(seconds=3)),
        LlmCall(event_id=llm_call_id(request_id=f"req_{index}", message_id=f"msg_{index}"),
                correlation_id=cid, model="claude-sonnet-4-5", provider="anthropic",
                input_tokens=12, output_tokens=345 + index, cache_read_input_tokens=20000,
                request_id=f"req_{index}", message_id=f"msg_{index}",
                tool_use_ids=["toolu_1", "toolu,2"], duration_ms=2500.0,
                cost_usd=0.0123456789, cost_source="estimate", source="transcript",
                timestamp=at + timedelta(seconds=5), started_at=at + timedelta(seconds=2.5)),
        MetricPoint(correlation_id=cid, metric_name="claude_code.commit.count", kind="sum",
                    temporality="delta", is_monotonic=True, series_key=f"commits-{index}",
                    value=float(index), attributes={"type": "x,\"y\""}, session_id=f"s-{index}",
                    timestamp=at + timedelta(seconds=6), started_at=at),
    ]  # fmt: skip
    if index % 4 == 3:
        events.append(ExecutionFailed(correlation_id=cid, timestamp=end, error_type="Boom",
                                      error_message="disk, \"full\"\n"))  # fmt: skip
    else:
        events.append(ExecutionCompleted(correlation_id=cid, timestamp=end,
                                         result={"files": index}))  # fmt: skip
    return events


def dataset() -> list[EventBase]:
    """5000 actions and 40 executions over three days (three partitions), tricky text, one
    action exactly at ``SINCE`` and one exactly at ``UNTIL`` (outside the window)."""
    events: list[EventBase] = []
    span = (UNTIL - SINCE).total_seconds()
    for i in range(40):
        events += _execution(i, SINCE + timedelta(seconds=span * i / 40 + 5))
    for i in range(ACTIONS):
        at = SINCE + timedelta(seconds=span * i / ACTIONS)
        events.append(AgentAction(
            correlation_id=uuid.UUID(int=(i % 40) + 1), agent_name=None if i % 7 == 0 else "a",
            action_type="tool_call", action_name=TRICKY[i % len(TRICKY)] or "x",
            action_details={"command": TRICKY[i % len(TRICKY)], "i": i, "ok": i % 2 == 0},
            duration_ms=None if i % 5 == 0 else i / 8, session_id=TRICKY[i % len(TRICKY)],
            tool_use_id=f"toolu_{i}", timestamp=at,
        ))  # fmt: skip
    events.append(AgentAction(correlation_id=uuid.UUID(int=1), action_type="decision",
                              action_name="at-until", timestamp=UNTIL))  # fmt: skip
    return events


async def seed(url: str) -> None:
    conn = await connect(url)
    try:
        events = dataset()
        for start in range(0, len(events), 1000):
            await write_events(conn, events[start : start + 1000])
    finally:
        await conn.close()


def cli(url: str, *args: str) -> Result:
    """Run the CLI (call it in a thread of its own: it runs its own event loop)."""
    _register_all()
    env = {"OMNICLAUDE_DATABASE_URL": url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


async def run_cli(url: str, *args: str) -> Result:
    """Run the CLI in a thread; it must succeed."""
    result = await asyncio.to_thread(cli, url, *args)
    assert result.exit_code == 0, f"omniclaude {' '.join(args)}: {result.output}"
    return result


def window() -> tuple[str, ...]:
    """The options of the data set's window."""
    return ("--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
