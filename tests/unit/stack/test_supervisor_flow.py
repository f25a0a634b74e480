# ruff: noqa: ARG005 - the fakes take the real signatures and ignore most arguments
"""The supervisor's whole start/watch/stop sequence, with the services replaced by fakes.

PostgreSQL, the broker, migrations, topics and the key are fakes; the three children are
real processes (a Python sleeper each), so start order, readiness, the state file and the
reverse-order stop are exercised for real.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import TOPICS
from omniclaude.settings import Settings
from omniclaude.stack import components
from omniclaude.stack import supervisor as sup
from omniclaude.stack.config import StackConfig
from omniclaude.stack.state import Phase, load_state

SLEEPER = "import time; time.sleep(120)"


class FakePostgres:
    """Stands in for EmbeddedPostgres (no server)."""

    instances: list[FakePostgres] = []

    def __init__(self, data_dir: Path, *, port: int, host: str) -> None:
        self.data_dir, self.port, self.host = data_dir, port, host
        self.running = False
        self.starts = 0
        self.log_path = data_dir / "postgres.log"
        FakePostgres.instances.append(self)

    @property
    def pid(self) -> int | None:
        return None

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self, timeout_s: float = 30) -> None:
        self.running, self.starts = True, self.starts + 1

    def stop(self) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running


class FakeBroker:
    """Stands in for TansuBroker (no broker)."""

    instances: list[FakeBroker] = []

    def __init__(self, *, port: int, log_path: Path, die_with_parent: bool) -> None:
        self.port, self.running, self.starts = port, False, 0
        FakeBroker.instances.append(self)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None

    def start(self, timeout_s: float = 30) -> None:
        self.running, self.starts = True, self.starts + 1

    def stop(self) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Replace every service step; children run a Python sleeper and are ready at once."""
    calls: dict[str, list[Any]] = {"migrate": [], "topics": [], "database": [], "keys": []}
    FakePostgres.instances.clear()
    FakeBroker.instances.clear()
    monkeypatch.setattr(sup, "EmbeddedPostgres", FakePostgres)
    monkeypatch.setattr(sup, "TansuBroker", FakeBroker)
    monkeypatch.setattr(sup, "migrate", lambda url: calls["migrate"].append(url) or "0001")
    monkeypatch.setattr(sup, "create_database", lambda url, name: calls["database"].append(name))
    monkeypatch.setattr(
        sup, "create_topics", lambda bootstrap, names, n: calls["topics"].append(names) or names
    )
    monkeypatch.setattr(components, "http_ok", lambda url, timeout_s=1.0: True)
    monkeypatch.setattr(components, "lock_held", lambda path: lambda: True)
    monkeypatch.setattr(components, "omniclaude_argv", lambda *a: [sys.executable, "-c", SLEEPER])
    monkeypatch.setattr(sup, "check_data_dir", lambda config, major: None)

    async def fake_key(url: str, data_dir: Path) -> tuple[str, bool]:
        calls["keys"].append(url)
        return "oc_key", True

    monkeypatch.setattr("omniclaude.stack.keys.ensure_viewer_key", fake_key)
    monkeypatch.setattr("omniclaude.stack.postgres.binary_version", lambda bin_dir: "18.1")
    monkeypatch.setattr("omniclaude.stack.postgres.postgres_bin_dir", lambda: Path("/nowhere"))
    return calls


def _config(tmp_path: Path, settings: Settings | None = None) -> StackConfig:
    return StackConfig.from_settings(
        settings or Settings(data_dir=tmp_path),
        pg_port=0, kafka_port=0, api_port=0, consumer_port=0,
    )  # fmt: skip


def test_start_runs_every_step_in_order_and_stop_reverses_it(
    tmp_path: Path, fakes: dict[str, list[Any]]
) -> None:
    """All components run with their addresses recorded; stop leaves nothing and no file."""
    lines: list[str] = []
    supervisor = sup.Supervisor(_config(tmp_path), progress=lines.append)
    state = supervisor.start()
    try:
        assert state.phase is Phase.RUNNING
        names = [c.name for c in state.components]
        assert names == ["postgres", "kafka", "consumer", "emitter", "api", "viewer"]
        assert all(c.phase is Phase.RUNNING for c in state.components), state.components
        assert state.viewer_url == f"{state.api_url}/viewer/"
        assert fakes["database"] == ["omniclaude"]
        assert fakes["migrate"][0].endswith("/omniclaude")
        assert len(fakes["topics"][0]) == 2 * len(TOPICS)  # each topic and its dead letters
        saved = load_state(tmp_path)
        assert saved is not None
        assert saved.phase is Phase.RUNNING
        children = [c.process for c in state.components if c.name in ("consumer", "emitter", "api")]
        assert all(ref is not None and ref.alive() for ref in children)
        supervisor.check_once()  # all healthy: nothing changes
    finally:
        supervisor.stop()
    assert all(ref is None or not ref.alive() for ref in children), "a child outlived stop()"
    assert not FakePostgres.instances[0].running
    assert not FakeBroker.instances[0].running
    assert load_state(tmp_path) is None
    stopped = [line.split()[0] for line in lines if line.endswith("stopped")]
    assert stopped == ["api", "emitter", "consumer", "kafka", "postgres"], "stop order is wrong"


def test_services_that_die_are_restarted(tmp_path: Path, fakes: dict[str, list[Any]]) -> None:
    """A dead PostgreSQL is started again; a dead broker too, with its topics recreated."""
    supervisor = sup.Supervisor(_config(tmp_path), progress=lambda line: None)
    supervisor.start()
    try:
        FakePostgres.instances[0].running = False
        FakeBroker.instances[0].running = False
        supervisor.check_once()
        assert FakePostgres.instances[0].starts == 2
        assert FakeBroker.instances[0].starts == 2
        assert len(fakes["topics"]) == 2, "the topics were not recreated on the empty broker"
        assert supervisor.state.component("kafka").restarts == 1
    finally:
        supervisor.stop()


def test_external_services_are_used_as_they_are(
    tmp_path: Path, fakes: dict[str, list[Any]]
) -> None:
    """With a database URL and a bootstrap, nothing of ours runs in their place."""
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql://u:pw@db.example/x", kafka_bootstrap="k:9092"
    )
    supervisor = sup.Supervisor(_config(tmp_path, settings), progress=lambda line: None)
    state = supervisor.start()
    try:
        assert FakePostgres.instances == []
        assert FakeBroker.instances == []
        assert state.component("postgres").phase is Phase.EXTERNAL
        assert state.component("postgres").address == "postgresql://u:***@db.example/x"
        assert state.component("kafka").address == "k:9092"
        env = supervisor._child_env()
        assert env["OMNICLAUDE_DATABASE_URL"] == "postgresql://u:pw@db.example/x"
    finally:
        supervisor.stop()


def test_an_interrupted_start_stops_what_was_started(
    tmp_path: Path, fakes: dict[str, list[Any]]
) -> None:
    """Ctrl-C during the start: the started services are stopped, the state says failed."""
    supervisor = sup.Supervisor(_config(tmp_path), progress=lambda line: None)
    supervisor.request_stop()
    with pytest.raises(sup.StartInterruptedError):
        supervisor.start()
    assert not FakePostgres.instances[0].running
    state = load_state(tmp_path)
    assert state is not None
    assert state.phase is Phase.FAILED
    assert "interrupted" in (state.error or "")
