"""Running the emitter from settings: where the broker comes from, lock waiting, routing."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import RoutingDecision
from omniclaude.hooks.emitter import EmitterLock, load_state
from omniclaude.hooks.fast import SPOOL_FILE, encode_record
from omniclaude.hooks.runner import (
    BrokerTarget,
    build_mapper,
    find_broker,
    package_router,
    run_emitter,
)
from omniclaude.settings import Settings
from omniclaude.stack.state import StackState, save_state
from omniclaude.testing import InMemorySink
from tests.unit.hooks.builders import Session


def settings(tmp_path: Path, **kw: Any) -> Settings:
    """Settings with a private data dir."""
    return Settings(data_dir=tmp_path / "data", **kw)


def test_the_configured_broker_wins(tmp_path: Path) -> None:
    """OMNICLAUDE_KAFKA_BOOTSTRAP is used as given and never 'changes'."""
    target = find_broker(settings(tmp_path, kafka_bootstrap="127.0.0.1:9092"))
    assert target is not None
    assert target.servers == ["127.0.0.1:9092"]
    assert not target.changed()


def test_a_local_stack_is_found_and_its_restart_noticed(tmp_path: Path) -> None:
    """Without a bootstrap, a running stack's broker is used; a new state file ends it."""
    s = settings(tmp_path)
    assert find_broker(s) is None
    save_state(StackState(data_dir=str(s.data_dir), kafka_bootstrap="127.0.0.1:1234"))
    target = find_broker(s)
    assert target is not None
    assert target.servers == ["127.0.0.1:1234"]
    assert "local stack" in target.source
    assert not target.changed()
    stamp = time.time_ns() + 10**9
    path = target.stack_state_file
    assert path is not None
    os.utime(path, ns=(stamp, stamp))
    assert target.changed(), "a restarted stack was not noticed"
    path.unlink()
    assert target.changed()


def test_a_stack_without_broker_is_no_target(tmp_path: Path) -> None:
    """A stack state without a broker (or a broken address) gives no target."""
    s = settings(tmp_path)
    save_state(StackState(data_dir=str(s.data_dir)))
    assert find_broker(s) is None
    save_state(StackState(data_dir=str(s.data_dir), kafka_bootstrap="nonsense"))
    assert find_broker(s) is None


def test_the_package_router_routes_prompts() -> None:
    """The router adapter returns fields a RoutingDecision accepts."""
    route = package_router()
    assert route is not None
    fields = route("review this pull request for security problems")
    decision = RoutingDecision(correlation_id="00000000-0000-0000-0000-000000000001",
                               user_request="x", **fields)  # fmt: skip
    assert decision.selected_agent
    assert 0 <= decision.confidence_score <= 1


def test_a_broken_router_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the router cannot be built, prompts get Claude Code's own decision instead."""
    from omniclaude.routing import Router

    def broken() -> Any:
        raise RuntimeError("no registry")

    monkeypatch.setattr(Router, "default", broken)
    assert package_router() is None


def test_build_mapper_uses_the_hook_settings(tmp_path: Path) -> None:
    """Truncation and timeout come from HookSettings."""
    from omniclaude.settings import HookSettings

    mapper = build_mapper(
        settings(tmp_path, hooks=HookSettings(max_tool_response_bytes=512, session_timeout_s=5))
    )
    assert mapper._shaper.max_value_bytes == 512
    assert mapper._timeout_ns == 5 * 10**9


async def test_run_emitter_ships_the_spool_then_idles_out(tmp_path: Path) -> None:
    """run_emitter tails the spool into the sink and exits when idle."""
    spool = tmp_path / "spool"
    spool.mkdir()
    s = Session()
    with (spool / SPOOL_FILE).open("ab") as handle:
        for i, payload in enumerate([s.start(), s.end()]):
            handle.write(encode_record(json.dumps(payload).encode(), time.time_ns() + i, 1))
    sinks: list[InMemorySink] = []

    def make_sink(target: BrokerTarget) -> InMemorySink:
        sinks.append(InMemorySink(redact=False))
        return sinks[-1]

    code = await asyncio.wait_for(
        run_emitter(
            settings(tmp_path, kafka_bootstrap="127.0.0.1:1"),
            spool_dir=spool,
            idle_exit_s=0.05,
            make_sink=make_sink,
        ),
        20,
    )
    assert code == 0
    assert len(sinks[0].events) == 2
    state = load_state(spool)
    assert state is not None
    assert state.records == 2


async def test_run_emitter_leaves_a_running_emitter_alone(tmp_path: Path) -> None:
    """--if-not-running: with the lock held elsewhere it returns at once."""
    spool = tmp_path / "spool"
    spool.mkdir()
    lock = EmitterLock(spool)
    lock.acquire()
    try:
        code = await asyncio.wait_for(
            run_emitter(
                settings(tmp_path, kafka_bootstrap="127.0.0.1:1"),
                spool_dir=spool,
                wait_for_lock=False,
                make_sink=lambda _: pytest.fail("built a sink"),
            ),
            5,
        )
    finally:
        lock.release()
    assert code == 0


async def test_an_emitter_waiting_for_a_broker_holds_the_lock_and_is_registered(
    tmp_path: Path,
) -> None:
    """Without a broker the emitter already holds the spool's lock (no second one starts),
    hooks status and the registry both say it runs and why it waits, and it idles out."""
    from omniclaude.hooks.status import spool_status
    from omniclaude.stack.registry import registered

    spool = tmp_path / "spool"
    conf = settings(tmp_path)
    task = asyncio.create_task(
        run_emitter(conf, spool_dir=spool, idle_exit_s=3.0, started_by="hook",
                    make_sink=lambda _: pytest.fail("built a sink without a broker"))
    )  # fmt: skip
    lock = EmitterLock(spool)
    deadline = time.monotonic() + 5
    while not (lock.path.exists() and lock.held_by_other()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    try:
        assert lock.held_by_other(), "the emitter waits for a broker without holding the lock"
        [entry] = registered(conf.data_dir, role="emitter")
        assert entry.started_by == "hook"
        status = spool_status(spool, data_dir=conf.data_dir)
        assert status["emitter_running"] is True
        assert status["emitter_started_by"] == "hook"
        assert status["emitter_detail"] == "waiting for a Kafka broker"
    finally:
        assert await asyncio.wait_for(task, 10) == 0, "it did not idle out without a broker"
    assert not lock.held_by_other()
    assert registered(conf.data_dir) == [], "the registry entry outlived the emitter"
