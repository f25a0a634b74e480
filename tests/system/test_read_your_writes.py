"""Finished means readable (issue 12, item 7).

``GET /executions/{id}`` used to answer "success" from the runner's memory seconds before
the trace held the execution's actions: a client following the spec's system test (wait for
completion, then read the events) saw an empty trace. Now an execution is reported ended only
once every event it emitted is stored; until then the answer says what is in flight.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.fixtures.stack import FullStack

RUNS = 12


def _ids(trace: dict[str, Any]) -> set[uuid.UUID]:
    """Every event id a trace holds, its children's included."""
    found = {
        uuid.UUID(str(item["event_id"]))
        for section in (
            "lifecycle",
            "routing_decisions",
            "manifest_injections",
            "transformations",
            "actions",
        )
        for item in trace.get(section, [])
    }
    for child in trace.get("children", []):
        found |= _ids(child)
    return found


async def _spec_flow(stack: FullStack, body: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """POST /execute, poll until it ended, read the trace at once; say if in flight was seen."""
    cid = (await stack.submit_request(body))["correlation_id"]
    saw_in_flight = False
    for _ in range(1200):
        view = await stack.execution(cid)
        if view["status"] != "in_progress":
            break
        saw_in_flight |= view.get("progress_stage") == "recording events"
        await asyncio.sleep(0.025)
    else:
        raise AssertionError(f"execution {cid} never ended: {view}")
    response = await stack.client.get(f"/traces/{cid}", headers=stack.headers("read"))
    assert response.status_code == 200, f"GET /traces/{cid}: {response.text}"
    return cid, response.json(), saw_in_flight


async def test_finished_means_readable(full_stack: FullStack) -> None:
    """Over many runs (single agents, a parallel fan-out, a failure), the trace read right
    after the execution is reported ended holds every event the runtime emitted for it and
    for its children."""
    bodies = [
        {"user_prompt": "Analyze this codebase", "context": {"files": ["main.py"]}},
        {"user_prompt": "Read the file", "context": {"files": ["utils.py"]}},
        {"user_prompt": "Survey", "agents": ["file-reader", "test-finder"],
         "context": {"files": ["main.py"]}},
        {"user_prompt": "explode", "agent": "broken-agent"},
    ]  # fmt: skip
    runs = [bodies[i % len(bodies)] for i in range(RUNS)]
    outcomes = await asyncio.gather(*(_spec_flow(full_stack, body) for body in runs))
    runner = full_stack.app.state.omniclaude.runner
    in_flight_seen = 0
    for cid, trace, saw_in_flight in outcomes:
        in_flight_seen += saw_in_flight
        state = runner.get(uuid.UUID(cid))
        emitted = {event_id for _, event_id in state.emitted}
        for child in state.children:
            emitted |= {event_id for _, event_id in runner.get(child).emitted}
        missing = emitted - _ids(trace)
        assert not missing, (
            f"execution {cid} was reported {state.status} but its trace lacks "
            f"{len(missing)} of {len(emitted)} events: {sorted(map(str, missing))[:5]}"
        )
        assert trace["execution"]["status"] in {"success", "failed"}, trace["execution"]
    print(f"{RUNS} runs; {in_flight_seen} were seen 'recording events' before they ended")


async def test_the_database_path_waits_for_the_count_the_final_event_carries(
    full_stack: FullStack,
) -> None:
    """An execution the runner does not know (another API, a restart) is reported ended only
    when the database holds as many events as its final lifecycle event says were emitted."""
    from omniclaude.publishing.loggers import ActionLogger, AgentExecutionLogger

    cid = uuid.uuid4()
    execution = AgentExecutionLogger(db=full_stack.pool)
    actions = ActionLogger(db=full_stack.pool, agent_name="elsewhere")
    await execution.start("elsewhere", "ran on another server", cid)
    await actions.log_decision(cid, "first")
    await execution.complete(result={"ok": True}, event_count=4)  # one action still on its way
    view = await full_stack.execution(str(cid))
    assert view["source"] == "database"
    assert view["status"] == "in_progress", f"reported ended with an event missing: {view}"
    assert view["events"] == {"emitted": 4, "stored": 3, "pending": {}}, view["events"]
    await actions.log_success(cid, "done")
    view = await full_stack.execution(str(cid))
    assert view["status"] == "success", f"all events are stored, yet: {view}"
    assert view["result"] == {"ok": True}
