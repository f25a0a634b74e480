"""Checks before a start: one clear line for each thing in the way."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from omniclaude.settings import Settings
from omniclaude.stack.config import StackConfig
from omniclaude.stack.preflight import (
    AlreadyRunningError,
    DataDirVersionError,
    PortInUseError,
    StackLock,
    check_data_dir,
    check_ports,
    stop_leftovers,
)
from omniclaude.stack.state import Phase, ProcessRef, StackState


def _config(tmp_path: Path, **ports: int) -> StackConfig:
    return StackConfig.from_settings(
        Settings(data_dir=tmp_path),
        **{"pg_port": 0, "kafka_port": 0, "api_port": 0, "consumer_port": 0, **ports},
    )


def test_the_lock_admits_one_supervisor(tmp_path: Path) -> None:
    """A second lock on the same data directory fails and names the holder."""
    first, second = StackLock(tmp_path), StackLock(tmp_path)
    first.acquire()
    try:
        assert second.held_by_other()
        with pytest.raises(AlreadyRunningError, match=r"already running .*omniclaude down"):
            second.acquire()
    finally:
        first.release()
        first.release()  # idempotent
    assert not second.held_by_other()
    second.acquire()
    second.release()


def test_a_taken_port_is_named_with_its_option(tmp_path: Path) -> None:
    """The message names the port, the component and the option to change it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"port {port} .*\(api\).*--api-port"):
            check_ports(_config(tmp_path, api_port=port))
    check_ports(_config(tmp_path))


def test_one_port_for_two_components_is_refused(tmp_path: Path) -> None:
    """Giving the same port twice is caught before anything binds."""
    config = _config(tmp_path)
    clash = StackConfig.from_settings(
        Settings(data_dir=tmp_path), pg_port=config.api_port, kafka_port=0,
        api_port=config.api_port, consumer_port=0,
    )  # fmt: skip
    with pytest.raises(PortInUseError, match="given to both postgres and api"):
        check_ports(clash)


def test_a_data_dir_of_another_postgres_version_is_refused(tmp_path: Path) -> None:
    """A cluster of another major version gets a line saying what to do."""
    config = _config(tmp_path)
    check_data_dir(config, "18")  # no cluster yet: fine
    config.pgdata.mkdir(parents=True)
    (config.pgdata / "PG_VERSION").write_text("16\n")
    with pytest.raises(
        DataDirVersionError, match=r"PostgreSQL 16 .* bundles PostgreSQL 18.*--data-dir"
    ):
        check_data_dir(config, "18")
    check_data_dir(config, "16")


def test_leftovers_of_a_killed_stack_are_stopped() -> None:
    """Processes recorded by a dead supervisor are stopped; dead ones are skipped."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)  # fmt: skip
    try:
        state = StackState(data_dir="x")
        consumer = state.component("consumer")
        consumer.process, consumer.phase = ProcessRef.of(sleeper.pid), Phase.RUNNING
        state.component("api").process = ProcessRef(999_999, 1.0)
        assert stop_leftovers(state, timeout_s=5) == ["consumer"]
        assert sleeper.wait(timeout=5) is not None
    finally:
        sleeper.kill()
        sleeper.wait()
