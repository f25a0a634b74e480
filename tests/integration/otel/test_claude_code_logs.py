"""Issue 14's Done-when: a recorded Claude Code session with both streams makes one trace.

The costed session (``tests/unit/hooks/costed_session.py``, from the documented formats) is
played through the real hook command → spool → emitter → broker → consumer, its transcripts
followed as Claude Code writes them (estimated costs); then Claude Code's OTel log export of the
same session (an ``api_request`` per API response with its own ``cost_usd``, a ``tool_result``
per tool call, one ``tool_result`` of a call no hook saw) is POSTed to ``/v1/logs``. The trace
must cost the sum of ``api_request.cost_usd`` (exact, each response once) and show every tool
call once, enriched by its ``tool_result``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from omniclaude.consuming import IngestService
from omniclaude.hooks.sessions import session_correlation_id
from omniclaude.storage.queries import fetch_trace_tree
from tests.fixtures.otlp_logs import set_attributes
from tests.fixtures.stack import FullStack
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import HookRig, hook_rig
from tests.integration.hooks.test_costed_session import _played, _settled
from tests.unit.hooks.costed_session import build, hand_count

__all__ = ["hook_rig"]

pytestmark = pytest.mark.covers(
    "endpoint:POST /v1/logs", "event:llm_call", "table:agent_llm_calls", "table:agent_actions"
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _export(session_id: str, records: list[tuple[str, dict[str, object]]]) -> bytes:
    start = time.time_ns()
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.add(key="service.name").value.string_value = "claude-code"
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "com.anthropic.claude_code.events"
    for n, (name, attrs) in enumerate(records):
        record = scope_logs.log_records.add()
        record.time_unix_nano = start + n * 1_000_000
        record.body.string_value = f"claude_code.{name}"
        set_attributes(record, {"event.name": name, "session.id": session_id, **attrs})
    return bytes(request.SerializeToString())


async def test_both_streams_make_one_trace_with_the_exact_cost_and_each_call_once(
    hook_rig: HookRig,
    ingest_service: IngestService,
    full_stack: FullStack,
    postgres_connection: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    conn = postgres_connection
    session = build(tmp_path / "projects")
    await hook_rig.start_emitter()
    await _played(hook_rig, session)
    count = hand_count(session)
    await _settled(conn, session, len(count.responses))
    sid = session.session_id
    calls = await conn.fetch(
        "SELECT tool_use_id, action_name FROM agent_actions"
        " WHERE session_id = $1 AND action_type = 'tool_call'", sid,
    )  # fmt: skip
    use_ids = sorted({r["tool_use_id"] for r in calls})
    assert use_ids
    assert None not in use_ids
    assert len(use_ids) == len(calls)

    costs = {req: round(0.001 * (i + 1) + 0.0000123, 10)
             for i, (_, req) in enumerate(sorted(count.responses))}  # fmt: skip
    records: list[tuple[str, dict[str, object]]] = [
        ("api_request", {"request_id": req, "model": r["model"], "cost_usd": costs[req],
                         "input_tokens": r["usage"]["input_tokens"],
                         "output_tokens": r["usage"]["output_tokens"], "duration_ms": 900})
        for (_, req), r in sorted(count.responses.items())
    ]  # fmt: skip
    records += [("tool_result", {"tool_use_id": u, "tool_name": "T", "success": "true",
                                 "duration_ms": 7}) for u in use_ids]  # fmt: skip
    records.append(("tool_result", {"tool_use_id": "toolu_orphan", "tool_name": "WebFetch"}))
    records.append(("compaction", {"trigger": "auto"}))
    body = _export(sid, records)
    response = await full_stack.client.post(
        "/v1/logs", content=body, headers={**full_stack.headers("ingest"), **PROTOBUF}
    )
    assert response.status_code == 200, response.text
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 0, answer.partial_success.error_message
    # A resend stores nothing new.
    again = await full_stack.client.post(
        "/v1/logs", content=body, headers={**full_stack.headers("ingest"), **PROTOBUF}
    )
    assert again.status_code == 200

    expected = Decimal(str(round(sum(costs.values()), 10)))

    async def exact() -> bool:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, sum(cost_usd) AS cost,"
            " count(*) FILTER (WHERE cost_source = 'exact') AS exact"
            " FROM agent_llm_calls WHERE session_id = $1", sid,
        )  # fmt: skip
        actions = await conn.fetchval(
            "SELECT count(*) FROM agent_actions WHERE session_id = $1"
            " AND action_name IN ('tool_result', 'compaction')", sid,
        )  # fmt: skip
        return bool(row["exact"] == len(costs) and actions == len(use_ids) + 2)

    await wait_for(exact, what="every api_request and tool_result stored", timeout_s=60)
    totals = await conn.fetchrow(
        "SELECT count(*) AS n, sum(cost_usd) AS cost FROM agent_llm_calls WHERE session_id = $1",
        sid,
    )
    assert totals["n"] == len(count.responses), "an OTel row came in beside the transcript's"
    assert totals["cost"] == expected

    tree = await fetch_trace_tree(conn, session_correlation_id(sid))
    assert len(tree.llm_calls) == len(count.responses)
    assert sum(Decimal(str(c.cost_usd)) for c in tree.llm_calls) == expected
    tool_calls = [a for a in tree.actions if a.action_type == "tool_call"]
    by_id: dict[str, int] = {}
    for a in tool_calls:
        by_id[a.tool_use_id or ""] = by_id.get(a.tool_use_id or "", 0) + 1
    assert by_id == dict.fromkeys([*use_ids, "toolu_orphan"], 1), "a tool call shown twice"
    for a in tool_calls:
        result = a.action_details["telemetry"]["tool_result"]
        assert result["attributes"]["tool_use_id"] == a.tool_use_id
    orphan = next(a for a in tool_calls if a.tool_use_id == "toolu_orphan")
    assert (orphan.action_name, orphan.action_details["orphan_telemetry"]) == ("WebFetch", True)
    assert not [a for a in tree.actions if a.action_name == "tool_result"]
    assert [a.action_name for a in tree.actions if a.action_name == "compaction"] == ["compaction"]
