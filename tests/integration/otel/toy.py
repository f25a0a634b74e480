"""The toy GenAI agent the OTLP export tests record (through the SDK, the broker and the
consumer), the wait for its rows, and ``omniclaude export-otlp`` run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from omniclaude.events import LlmCall, llm_call_id, utc_now
from omniclaude.publishing import ActionLogger, AgentExecutionLogger, EventPublisher, KafkaSink
from omniclaude.storage.queries import TraceTree, fetch_trace_tree
from tests.fixtures.waiting import wait_for

__all__ = ["TABLES", "Toy", "export_otlp", "record_toy_agent", "stored", "table_rows"]

TABLES = (
    "agent_execution_logs", "agent_execution_events", "agent_actions", "agent_llm_calls",
    "agent_routing_decisions", "agent_manifest_injections", "agent_transformation_events",
)  # fmt: skip
"""Every table a trace's rows are in."""

BIN = Path(sys.executable).parent


@dataclass
class Toy:
    """What the toy agent recorded."""

    root: uuid.UUID
    rows: int
    """Spans expected: executions + actions + LLM calls + routing + manifest + transformation."""
    child: uuid.UUID | None = None
    """The nested execution (when known before it is stored)."""


async def record_toy_agent(sink: KafkaSink) -> Toy:
    """A planner that routes, injects a manifest, reads a file, asks a model, and runs a
    worker (its child) whose tool call times out."""
    actions = ActionLogger(sink=sink)
    publisher = EventPublisher(sink=sink)
    planner = AgentExecutionLogger(sink=sink)
    root = await planner.start("toy-planner", "Summarise the repository", session_id="sess-toy")
    await publisher.routing_decision(
        root, user_request="Summarise the repository", selected_agent="toy-planner",
        confidence_score=0.92, routing_strategy="fuzzy", routing_time_ms=1.5,
        alternatives=[{"agent_name": "toy-other", "confidence": 0.31}],
    )  # fmt: skip
    await publisher.manifest_injection(
        root, agent_name="toy-planner", total_query_time_ms=2.5,
        sections=[{"name": "agent_definition", "size_bytes": 100, "source": "registry",
                   "query_time_ms": 0.5}],
    )  # fmt: skip
    await publisher.transformation(
        root, source_agent="polymorphic-agent", target_agent="toy-planner",
        transformation_reason="specialise",
    )  # fmt: skip
    await actions.log_tool_call(root, "Read", {"file_path": "README.md"}, duration_ms=12.0,
                                tool_use_id="toolu_01")  # fmt: skip
    now = utc_now()
    await publisher.publish(
        LlmCall(
            event_id=llm_call_id(request_id=f"req_{root.hex}", message_id="msg_toy"),
            correlation_id=root, model="claude-sonnet-4-5", provider="anthropic",
            input_tokens=10, output_tokens=200, cache_creation_input_tokens=300,
            cache_read_input_tokens=4000, stop_reason="end_turn", request_id=f"req_{root.hex}",
            message_id="msg_toy", cost_usd=0.0042, cost_source="exact", source="otel",
            session_id="sess-toy", started_at=now - timedelta(milliseconds=800), timestamp=now,
        )
    )  # fmt: skip
    worker = AgentExecutionLogger(sink=sink)
    child = await worker.start("toy-worker", "Count the files", parent_correlation_id=root)
    await actions.log_tool_call(child, "Bash", {"command": "ls -R"}, tool_use_id="toolu_02")
    await actions.log_error(child, TimeoutError("ls -R took too long"))
    await worker.fail(TimeoutError("ls -R took too long"))
    await actions.log_decision(root, "Summarise without the file count")
    await planner.complete(quality_score=0.7)
    await sink.flush()
    return Toy(root=root, child=child, rows=2 + 4 + 1 + 1 + 1 + 1)


async def stored(conn: Any, toy: Toy) -> TraceTree:
    """Wait until the toy's rows are all in PostgreSQL; return its tree."""

    async def complete() -> TraceTree | None:
        tree = await fetch_trace_tree(conn, toy.root)
        rows = (len(tree.executions) + len(tree.actions) + len(tree.llm_calls)
                + len(tree.routing) + len(tree.manifests) + len(tree.transformations))  # fmt: skip
        finished = len(tree.executions) == 2 and not tree.running
        return tree if finished and rows == toy.rows else None

    return await wait_for(complete, what=f"the toy agent's {toy.rows} rows", timeout_s=60)


def export_otlp(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``omniclaude export-otlp`` as a user would."""
    env = {**os.environ, "OMNICLAUDE_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [str(BIN / "omniclaude"), "export-otlp", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def table_rows(
    conn: Any, correlation_ids: list[uuid.UUID], *, leave_out: frozenset[str] = frozenset()
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the correlation ids, per table, each in a stable order, without the
    columns ``leave_out`` names."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        key = "correlation_id" if table == "agent_execution_logs" else "event_id"
        rows = await conn.fetch(
            f"SELECT * FROM {table} WHERE correlation_id = ANY($1::uuid[]) ORDER BY {key}",
            correlation_ids,
        )
        found[table] = [{k: v for k, v in dict(r).items() if k not in leave_out} for r in rows]
    return found
