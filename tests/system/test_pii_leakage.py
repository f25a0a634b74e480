"""PII leakage: secrets sent through every way in never reach a column unredacted.

PII goes in through every ingress the system has — ``POST /events`` (every string of every
event type, secrets under sensitive keys, a card number as a JSON integer), ``POST /route``,
``POST /execute`` (prompt and context), the SDK loggers on both sinks (Kafka and direct
PostgreSQL), and Claude Code hooks (the real hook command and emitter process) — and once
all of it is stored, every text, varchar, text[] and JSON column of every table is scanned
with the redactor's own patterns (:mod:`tests.load.pii`). A hit names table, column, row
and JSON path. The load test runs the same scan after its load.
"""

from __future__ import annotations

import itertools
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import decode_mapping
from omniclaude.hooks import fast
from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.install import launcher_command, write_launcher
from omniclaude.publishing import ActionLogger, AgentExecutionLogger, PostgresSink
from omniclaude.storage.writers import write_events
from tests.chaos.traffic import kafka_sink
from tests.fixtures.stack import FullStack
from tests.fixtures.waiting import wait_for
from tests.load.clients import HookClient, Ledger
from tests.load.pii import scan_database
from tests.load.procs import BIN, ServiceProcess, service_env
from tests.load.report import LatencyRecorder
from tests.load.verify import wait_until_stored
from tests.load.workload import EVENT_TYPES, PII_SAMPLES, event_payload, may_hold_pii

pytestmark = pytest.mark.covers("endpoint:POST /events", "endpoint:POST /route",
                                "endpoint:POST /execute")  # fmt: skip

SENSITIVE = {"password": "hunter2", "api_key": "abc123", "Authorization": "Basic dXNlcjpwdw==",
             "db_password": "pw", "email": "dev@example.com"}  # fmt: skip
CARD_INT = 4111111111111111


def _pii_text(*, in_keys: bool = False) -> Any:
    samples = itertools.cycle(PII_SAMPLES)

    def text(path: str) -> str:
        if not may_hold_pii(path) and not (in_keys and path.endswith("<key>")):
            return path.replace(".", "-").replace("<key>", "k")
        return f"{next(samples)} ({path})"

    return text


def _pii_events() -> list[dict[str, Any]]:
    """Every event type with PII in every string, sensitive keys and a card integer."""
    events = []
    for event_type in EVENT_TYPES:
        payload = event_payload(event_type, text=_pii_text(), extra_field=True)
        for key, value in payload.items():
            if isinstance(value, dict) and key != "producer":
                value.update(SENSITIVE, card=CARD_INT, nested={"token": "t0k3n-value"})
        events.append(payload)
    return events


async def _sdk_traffic(stack: FullStack, tmp_path: Path) -> dict[uuid.UUID, str]:
    """The SDK loggers on a KafkaSink and on a PostgresSink, with secrets in everything."""
    sent: dict[uuid.UUID, str] = {}
    kafka = kafka_sink(stack.settings.kafka_bootstrap or "", stack.settings.topic_prefix,
                       tmp_path / "sdk-spool")  # fmt: skip
    async with kafka, PostgresSink(db=stack.pool) as direct:
        for sink in (kafka, direct):
            cid = uuid.uuid4()
            log = ActionLogger(sink=sink, agent_name="pii-agent")
            execution = AgentExecutionLogger(sink=sink)
            await execution.start("pii-agent", f"deploy with {PII_SAMPLES[1]}", cid,
                                  metadata={"password": "hunter2"})  # fmt: skip
            for action in (
                await log.log_tool_call(cid, "bash", {"cmd": f"curl -u {PII_SAMPLES[4]}",
                                                      "token": "secret"}, result=PII_SAMPLES[2]),
                await log.log_decision(cid, f"notify {PII_SAMPLES[0]}"),
                await log.log_error(cid, ValueError(f"bad key {PII_SAMPLES[5]}")),
                await log.log_success(cid, f"charged {PII_SAMPLES[3]}"),
            ):  # fmt: skip
                sent[action.event_id] = "agent_action"
            completed = await execution.complete(result={"card": CARD_INT, "api_key": "k"})
            sent[completed.event_id] = "execution_completed"
        await kafka.flush(30)
    return sent


async def _hook_traffic(stack: FullStack, tmp_path: Path) -> dict[uuid.UUID, str]:
    """One Claude Code session through the real hook command and emitter, with secrets."""
    spool = tmp_path / "hook-spool"
    env = service_env(
        OMNICLAUDE_KAFKA_BOOTSTRAP=stack.settings.kafka_bootstrap or "",
        OMNICLAUDE_TOPIC_PREFIX=stack.settings.topic_prefix,
        OMNICLAUDE_DATA_DIR=str(tmp_path / "hook-data"),
        OMNICLAUDE_SPOOL_DIR=str(spool),
        OMNICLAUDE_PRODUCER__LINGER_MS="5",
        **{fast.AUTOSTART_ENV: "0"},
    )
    launcher = tmp_path / "hook-data" / "bin" / "omniclaude-hook"
    write_launcher(launcher, python=sys.executable, hooks_dir=str(Path(fast.__file__).parent))
    emitter = ServiceProcess("emitter", [str(BIN / "omniclaude"), "emitter", "--spool-dir",
                                         str(spool)], env, tmp_path / "emitter.log")  # fmt: skip
    lock = EmitterLock(spool)

    async def emitter_ready() -> bool:
        return lock.held_by_other() and lock.holder() == emitter.pid

    ledger = Ledger()
    client = HookClient(launcher_command(launcher, python=sys.executable), env,
                        LatencyRecorder(), ledger)  # fmt: skip
    session = client.session
    try:
        await emitter.start(emitter_ready)
        assert await client.hook(session.start())
        assert await client.hook(session.prompt(f"ship it; {PII_SAMPLES[0]}, {PII_SAMPLES[2]}"))
        pre, post = session.tool_pair(
            "Bash", {"command": f"psql {PII_SAMPLES[4]}", "password": "hunter2", "env": SENSITIVE}
        )
        post["tool_response"] = {"stdout": PII_SAMPLES[5], "aws": "AKIAABCDEFGHIJKLMNOP"}
        assert await client.hook(pre)
        assert await client.hook(post)
        session.record_tool_call(post)
        assert await client.hook(session.stop())
        assert await client.hook(session.end())

        async def session_closed() -> bool:
            status = await stack.pool.fetchval(
                "SELECT status FROM agent_execution_logs WHERE correlation_id = $1",
                session.correlation_id,
            )
            return status == "success"

        await wait_for(session_closed, what="the hook session stored and closed", timeout_s=60)
    finally:
        await emitter.stop()
    return {session.tool_call_event_id(u): "agent_action" for u in session.tool_use_ids}


async def test_no_pii_reaches_any_column(full_stack: FullStack, tmp_path: Path) -> None:
    """PII through /events, /route, /execute, the SDK (Kafka and PostgreSQL sinks) and the
    hooks: after all of it is stored, no text or JSON column of any table holds any."""
    stack = full_stack
    events = _pii_events()
    response = await stack.client.post("/events", json={"events": events},
                                       headers=stack.headers("ingest"))  # fmt: skip
    assert response.status_code == 202, response.text
    expected = {uuid.UUID(e["event_id"]): e["event_type"] for e in events}
    routed = await stack.client.post(
        "/route",
        json={"user_prompt": f"email {PII_SAMPLES[0]} the report"},
        headers=stack.headers("ingest"),
    )
    assert routed.status_code == 200, routed.text
    expected[uuid.UUID(routed.json()["event_id"])] = "routing_decision"
    accepted = await stack.submit_request({
        "user_prompt": f"read main.py; my key is {PII_SAMPLES[2]}", "agent": "file-reader",
        "context": {"files": ["main.py"], "note": PII_SAMPLES[0], "password": "hunter2"},
    })  # fmt: skip
    expected |= await _sdk_traffic(stack, tmp_path)
    expected |= await _hook_traffic(stack, tmp_path)

    await wait_until_stored(stack.pool, expected, what="every PII-carrying event", timeout_s=60)
    await stack.wait_for_row(str(accepted["correlation_id"]), status="success")
    leaks, scanned = await scan_database(stack.pool)
    assert scanned > 200, f"the scan read only {scanned} column values: is the data there?"
    assert not leaks, f"{len(leaks)} unredacted values, e.g. {[str(x) for x in leaks[:6]]}"


async def test_the_scan_finds_a_leak_a_writer_lets_through(full_stack: FullStack) -> None:
    """The scanner is not blind: an event written without redaction is reported by table,
    column, row and path."""
    raw = decode_mapping(event_payload("agent_action", text=lambda _: f"call {PII_SAMPLES[0]}"))
    async with full_stack.pool.acquire() as conn:
        await write_events(conn, [raw])
    leaks, _ = await scan_database(full_stack.pool, tables=["agent_actions"])
    rows = {leak.row for leak in leaks}
    assert rows == {str(raw.event_id)}, f"the unredacted row was not (only) found: {leaks[:3]}"
    assert any(leak.column == "action_name" and "email" in leak.kind for leak in leaks), leaks


async def test_pii_in_json_keys_is_redacted(full_stack: FullStack) -> None:
    """A secret used as a JSON key (a mapping keyed by e-mail address) is redacted too."""
    stack = full_stack
    events = [event_payload("agent_action", text=_pii_text(in_keys=True))]
    response = await stack.client.post("/events", json={"events": events},
                                       headers=stack.headers("ingest"))  # fmt: skip
    assert response.status_code == 202, response.text
    expected = {uuid.UUID(e["event_id"]): e["event_type"] for e in events}
    await wait_until_stored(stack.pool, expected, what="the event", timeout_s=60)
    leaks, _ = await scan_database(stack.pool, tables=["agent_actions"])
    assert not leaks, f"{len(leaks)} unredacted values, e.g. {[str(x) for x in leaks[:3]]}"
