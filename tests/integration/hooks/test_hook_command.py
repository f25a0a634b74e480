"""The real hook command: never fails, never waits, never in the way, stdlib only."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import pytest

from omniclaude.hooks import fast
from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.sessions import session_correlation_id
from omniclaude.hooks.spool import Spool, SpoolRecord
from omniclaude.hooks.status import spool_status
from omniclaude.stack.ports import unused_port
from omniclaude.stack.tansu import TansuBroker
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import BIN, HookRig
from tests.unit.hooks.builders import Session

pytestmark = pytest.mark.covers(
    "feature:claude-code-hooks",
)

BUDGET_S = 1.5
"""Claude Code's budget for SessionEnd hooks, the tightest there is."""


async def test_bad_input_exits_zero_with_the_reason_in_the_log(hook_rig: HookRig) -> None:
    """Not JSON, a truncated object and empty stdin each exit 0, silently, reason logged."""
    cases = {
        b"this is not json": "not JSON",
        b'{"session_id": "s1", "hook_event_name": "PreToolUse", "tool_input": {"command": "l': (
            "truncated JSON object"
        ),
        b"": "empty stdin",
    }
    for data, reason in cases.items():
        run = await hook_rig.hook(data)
        assert run.returncode == 0, run
        assert run.stdout == run.stderr == b"", run
        assert f"payload dropped: {reason}" in hook_rig.log_text, f"no reason logged for {data!r}"
    assert not (hook_rig.spool / fast.SPOOL_FILE).exists(), "bad input reached the spool"


async def test_console_script_and_launcher_both_record(hook_rig: HookRig) -> None:
    """`omniclaude hook` and the installed launcher write the same record format."""
    s = Session()
    for command in (f"{BIN / 'omniclaude'} hook", hook_rig.launcher):
        run = await hook_rig.hook(s.start(), command=command)
        assert run.returncode == 0, run
        assert run.stdout == b"", run
    spool = Spool(hook_rig.spool)
    records, _ = spool.read(spool.start())
    assert len([r for r in records if isinstance(r, SpoolRecord)]) == 2


async def test_parallel_hooks_never_interleave_records(hook_rig: HookRig) -> None:
    """Forty concurrent hooks with 64 KiB payloads give forty intact records."""
    s = Session()
    payloads = [
        s.post("Read", {"file_path": f"/f{i}"}, "x" * 65536, s.tool_id(), 1) for i in range(40)
    ]
    await hook_rig.hooks(payloads, parallel=True)
    spool = Spool(hook_rig.spool)
    records, _ = spool.read(spool.start(), max_records=1000, max_bytes=1 << 26)
    assert all(isinstance(r, SpoolRecord) for r in records), (
        "a record was torn by a concurrent hook"
    )
    assert len(records) == 40, "a concurrent record was lost"


async def test_parallel_hooks_while_the_spool_is_sealed_nonstop_lose_nothing(
    hook_rig: HookRig,
) -> None:
    """Sixty concurrent hooks while a reader seals, reads and deletes segments as fast as it
    can: every record is read exactly once and intact, and no segment is left behind."""
    s = Session()
    payloads = [
        s.post("Read", {"file_path": f"/f{i}"}, "y" * 4096, s.tool_id(), 1) for i in range(60)
    ]
    spool = Spool(hook_rig.spool, rotate_bytes=1)
    seen: list[SpoolRecord] = []
    seals = 0
    done = threading.Event()

    def reader() -> None:  # in a thread: it seals while the hook processes write
        nonlocal seals
        position = spool.start()
        while True:
            finished = done.is_set()
            records, position = spool.read(position, max_records=1000, max_bytes=1 << 24)
            assert all(isinstance(r, SpoolRecord) for r in records), f"torn: {records}"
            seen.extend(r for r in records if isinstance(r, SpoolRecord))
            spool.remove_consumed(position)  # as after a commit
            rotated = spool.maybe_rotate(position)
            seals += rotated != position
            position = rotated
            if finished and not records and not spool.sealed():
                return
            time.sleep(0.001)

    task = asyncio.create_task(asyncio.to_thread(reader))
    try:  # two bursts, so sealing meets concurrent appends more than once
        await hook_rig.hooks(payloads[:30], parallel=True)
        await hook_rig.hooks(payloads[30:], parallel=True)
    finally:
        done.set()
    await asyncio.wait_for(task, 60)
    keys = [r.key for r in seen]
    assert len(keys) == len(set(keys)), "a record was read twice"
    assert len(keys) == len(payloads), f"{len(payloads) - len(keys)} record(s) lost in sealing"
    assert seals >= 2, f"sealing was not exercised ({seals} seals)"
    assert spool.sealed() == [], "a sealed segment was left behind"


@pytest.mark.parametrize("launcher", [True, False], ids=["launcher", "console-script"])
def test_the_hook_path_imports_only_the_standard_library(hook_rig: HookRig, launcher: bool) -> None:
    """No third-party module (Kafka client, driver, pydantic, web framework) is imported."""
    script = str(Path(hook_rig.launcher)) if launcher else str(BIN / "omniclaude")
    args = [sys.executable, "-X", "importtime", *(["-I", "-S"] if launcher else []), script]
    if not launcher:
        args.append("hook")
    result = subprocess.run(args, input=b'{"session_id": "s"}', capture_output=True,
                            env=hook_rig.env, check=True)  # fmt: skip
    modules = {
        line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
        if line.startswith("import time:") and "|" in line
    }  # fmt: skip
    modules.discard("imported package")
    foreign = {
        m
        for m in modules
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0]
        not in {"omniclaude", "fast", "_distutils_hack", "sitecustomize", "_virtualenv"}
    }
    assert foreign == set(), f"the hook imported {sorted(foreign)}"
    assert "json" not in modules, "the hook imported json"
    ours = {m for m in modules if m.startswith("omniclaude")}
    assert ours <= {"omniclaude", "omniclaude._version", "omniclaude._entry", "omniclaude.hooks",
                    "omniclaude.hooks.fast"}, sorted(ours)  # fmt: skip


async def test_everything_down_then_back(
    hook_rig: HookRig,
    ingest_service_factory: IngestServiceFactory,
    postgres_connection: asyncpg.Connection,
) -> None:
    """With broker, database and emitter down, hooks exit 0 within budget; once the services
    return, the events reach the database (the emitter the hook started delivers them)."""
    port = unused_port()
    env = {
        **hook_rig.env,
        "OMNICLAUDE_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "OMNICLAUDE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{unused_port()}/nothing",
        fast.AUTOSTART_ENV: "1",
    }
    s = Session()
    items = [s.start(), s.prompt("ship it"), s.stop("Shipped."), s.end()]
    for payload in items:
        run = await hook_rig.hook(payload, env=env)
        assert run.returncode == 0, run
        assert run.stdout == b"", run
        assert run.seconds < BUDGET_S, f"{payload['hook_event_name']} took {run.seconds:.2f}s"
    lock = EmitterLock(hook_rig.spool)
    await wait_for(
        _check(lock.held_by_other), what="the hook to have started an emitter", timeout_s=60
    )

    def parked() -> bool:  # read from the spool, kept in the emitter's outbox: nothing lost
        status = spool_status(hook_rig.spool)
        return status["spool_records"] == 0 and status["outbox_events"] > 0

    await wait_for(_check(parked), what="the events parked in the emitter's outbox", timeout_s=60)

    broker = TansuBroker(port=port, log_path=hook_rig.root / "tansu.log")
    await asyncio.to_thread(broker.start, 60)
    service = None
    try:
        service = await ingest_service_factory(bootstrap_servers=[broker.bootstrap])

        async def session_done() -> bool:
            status = await postgres_connection.fetchval(
                "SELECT status FROM agent_execution_logs WHERE correlation_id = $1",
                session_correlation_id(s.session_id),
            )
            return status == "success"

        await wait_for(
            session_done, what="the session recorded after the services came back", timeout_s=120
        )
        prompts = await postgres_connection.fetchval(
            "SELECT count(*) FROM agent_execution_logs WHERE parent_correlation_id = $1",
            session_correlation_id(s.session_id),
        )
        assert prompts == 1
    finally:  # the spawned emitter and the consumer first, while the broker still answers
        await hook_rig.close()
        if service is not None:
            await service.stop()
        await asyncio.to_thread(broker.stop)


def _check(fn: object) -> object:
    async def call() -> object:
        return fn()  # type: ignore[operator]

    return call
