"""send_durably: what POST /events acknowledges is on the local disk before the 202."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import AgentAction
from omniclaude.publishing.outbox import Outbox
from omniclaude.stack.ports import unused_port
from tests.fixtures.waiting import wait_for
from tests.integration.publishing.conftest import make_sink


def _actions(count: int) -> list[AgentAction]:
    cid = uuid.uuid4()
    return [
        AgentAction(correlation_id=cid, action_type="tool_call", action_name=f"t{i}")
        for i in range(count)
    ]


async def test_durable_events_are_in_the_outbox_when_the_call_returns(tmp_path: Path) -> None:
    """With no broker at all, every event is in the outbox file as soon as the call returns."""
    sink = make_sink(f"127.0.0.1:{unused_port()}", "t.", tmp_path)
    events = _actions(25)
    async with sink:
        await sink.send_durably(events)
        with Outbox(sink.outbox.path) as reader:
            stored = {r.event_id for r in reader.peek(100)}
        assert {str(e.event_id) for e in events} <= stored, "acknowledged events not on disk"


@pytest.mark.covers("topic:agent-actions", "table:agent_actions")
async def test_durable_events_reach_the_database(
    kafka_service: Any, topic_prefix: str, tmp_path: Path, ingest: Any, db_pool: Any
) -> None:
    """Events written durably are then shipped from the outbox and stored once each."""
    events = _actions(40)
    async with make_sink(kafka_service.bootstrap, topic_prefix, tmp_path) as sink:
        await sink.send_durably(events)

        async def stored() -> bool:
            count = await db_pool.fetchval(
                "SELECT count(*) FROM agent_actions WHERE event_id = ANY($1::uuid[])",
                [e.event_id for e in events],
            )
            return count == len(events)

        await wait_for(stored, what="40 durably sent events in agent_actions", timeout_s=60)
