"""The load test's stack: real processes on this test's topics and database.

``load_stack`` starts, like an operator would:

* ``omniclaude consume`` (the ingestion service) with its health endpoint on a free port;
* ``omniclaude api`` — uvicorn on a free port — publishing through its KafkaSink;
* ``omniclaude emitter`` tailing a private hook spool; the hook clients run, half of them,
  the launcher ``omniclaude hooks install`` writes (Claude Code's default command) and the
  others the ``omniclaude hook`` console script;

on the session's broker (``kafka_service``) and this test's fresh database. Everything is
stopped after the test. The figures the test measures are printed in the terminal summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omniclaude.hooks import fast
from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.install import launcher_command, write_launcher
from omniclaude.stack.ports import unused_port
from omniclaude.storage.api_keys import ApiKeyStore
from tests.fixtures.kafka import KafkaService
from tests.fixtures.stack import write_sample_project
from tests.load.procs import BIN, ServiceProcess, http_ok, service_env
from tests.load.report import OUTPUT_DIR, WRITTEN, format_table

_REPORT = OUTPUT_DIR / "load.json"


@dataclass
class LoadStack:
    """What the load test talks to."""

    api_url: str
    api_key: str
    hook_commands: dict[str, str]
    """Operation name → the command Claude Code would run: the launcher ``hooks install``
    writes (the default), and the ``omniclaude hook`` console script."""
    hook_env: dict[str, str]
    spool_dir: Path
    pool: Any
    processes: dict[str, ServiceProcess]

    def logs(self) -> str:
        """Every process's log tail (for failure messages)."""
        return "\n".join(f"--- {n}:\n{p.log_tail()}" for n, p in self.processes.items())


@pytest.fixture
async def load_stack(
    kafka_service: KafkaService, database_url: str, topic_prefix: str, db_pool: Any,
    tmp_path: Path,
) -> AsyncIterator[LoadStack]:  # fmt: skip
    """Consumer, API and hook emitter as real processes on this test's topics and database."""
    _, key = await ApiKeyStore(db_pool).create("load", ["ingest", "read"])
    workspace = write_sample_project(tmp_path / "workspace")
    common = {
        "OMNICLAUDE_DATABASE_URL": database_url,
        "OMNICLAUDE_KAFKA_BOOTSTRAP": kafka_service.bootstrap,
        "OMNICLAUDE_TOPIC_PREFIX": topic_prefix,
        "OMNICLAUDE_LOG_LEVEL": "WARNING",
    }
    health_port, api_port = unused_port(), unused_port()
    consumer = ServiceProcess(
        "consumer",
        [str(BIN / "omniclaude"), "consume", "--group-id", f"{topic_prefix}load",
         "--health-port", str(health_port)],
        service_env(**common),
        tmp_path / "consumer.log",
    )  # fmt: skip
    api = ServiceProcess(
        "api",
        [str(BIN / "omniclaude"), "api", "--port", str(api_port), "--workspace",
         str(workspace), "--log-level", "warning"],
        service_env(**common, OMNICLAUDE_DATA_DIR=str(tmp_path / "api-data"),
                    OMNICLAUDE_SPOOL_DIR=str(tmp_path / "api-spool")),
        tmp_path / "api.log",
    )  # fmt: skip
    spool = tmp_path / "hook-spool"
    hook_env = service_env(
        **common,
        OMNICLAUDE_DATA_DIR=str(tmp_path / "hook-data"),
        OMNICLAUDE_SPOOL_DIR=str(spool),
        OMNICLAUDE_PRODUCER__LINGER_MS="5",
        **{fast.AUTOSTART_ENV: "0"},
    )
    emitter = ServiceProcess(
        "emitter",
        [str(BIN / "omniclaude"), "emitter", "--spool-dir", str(spool)],
        hook_env,
        tmp_path / "emitter.log",
    )
    launcher = tmp_path / "hook-data" / "bin" / "omniclaude-hook"
    write_launcher(launcher, python=sys.executable, hooks_dir=str(Path(fast.__file__).parent))
    processes = {"consumer": consumer, "api": api, "emitter": emitter}
    lock = EmitterLock(spool)

    async def emitter_ready() -> bool:
        return lock.held_by_other() and lock.holder() == emitter.pid

    try:
        await consumer.start(lambda: http_ok(f"http://127.0.0.1:{health_port}/ready"))
        await api.start(lambda: http_ok(f"http://127.0.0.1:{api_port}/ready"))
        await emitter.start(emitter_ready)
        yield LoadStack(
            api_url=f"http://127.0.0.1:{api_port}",
            api_key=key,
            hook_commands={
                "hook (launcher)": launcher_command(launcher, python=sys.executable),
                "hook (omniclaude hook)": f"{BIN / 'omniclaude'} hook",
            },
            hook_env=hook_env,
            spool_dir=spool,
            pool=db_pool,
            processes=processes,
        )
    finally:
        for proc in (emitter, api, consumer):
            await proc.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the load figures written during this session (test-output/load.json)."""
    if _REPORT not in WRITTEN:
        return
    report = json.loads(_REPORT.read_text())
    terminalreporter.write_sep("-", f"load figures ({_REPORT})")
    for line in format_table(report["requests"]):
        terminalreporter.write_line(line)
    for key in (
        "events",
        "executions",
        "hooks",
        "ingest_drain_s",
        "cpu_seconds_during_traffic",
        "seconds",
        "clients",
    ):
        terminalreporter.write_line(f"{key}: {report.get(key)}")
