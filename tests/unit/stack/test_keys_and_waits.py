"""ensure_viewer_key and the demo's wait for stored traces, against fake connections."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from omniclaude.stack import demo as demo_module
from omniclaude.stack.keys import ensure_viewer_key, read_viewer_key


class FakeConnection:
    """A connection that only records being closed."""

    closed = False

    async def close(self) -> None:
        self.closed = True


class FakeStore:
    """An API key store knowing a set of keys."""

    known: dict[str, tuple[str, ...]] = {}
    created: list[str] = []

    def __init__(self, db: Any) -> None:
        self.db = db

    async def authenticate(self, key: str) -> Any:
        scopes = self.known.get(key)
        return None if scopes is None else type("Key", (), {"scopes": scopes})()

    async def create(self, name: str, scopes: list[str]) -> tuple[Any, str]:
        key = f"oc_new_{len(self.created)}"
        self.created.append(name)
        self.known[key] = tuple(scopes)
        return None, key


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> type[FakeStore]:
    """Replace the connection and the key store."""
    FakeStore.known, FakeStore.created = {}, []

    async def fake_connect(url: str) -> FakeConnection:
        return FakeConnection()

    monkeypatch.setattr("omniclaude.storage.pool.connect", fake_connect)
    monkeypatch.setattr("omniclaude.storage.api_keys.ApiKeyStore", FakeStore)
    return FakeStore


async def test_a_key_is_created_once_and_replaced_when_revoked(
    tmp_path: Path, fake_store: type[FakeStore]
) -> None:
    """The first start creates and saves a key; later starts reuse it; a dead one is replaced."""
    key, created = await ensure_viewer_key("postgresql://x", tmp_path)
    assert created
    assert read_viewer_key(tmp_path) == key
    assert await ensure_viewer_key("postgresql://x", tmp_path) == (key, False)
    fake_store.known.clear()  # revoked, or a new database
    new_key, created = await ensure_viewer_key("postgresql://x", tmp_path)
    assert created
    assert new_key != key
    assert read_viewer_key(tmp_path) == new_key


async def test_wait_stored_counts_actions_and_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finished execution is marked stored with its counts; a running one is not."""
    done, running = uuid.uuid4(), uuid.uuid4()
    answers = {
        done: {"status": "success", "actions": 4, "children": 2},
        running: {"status": "in_progress", "actions": 1, "children": 0},
    }

    class Conn(FakeConnection):
        async def fetchrow(self, query: str, cid: uuid.UUID) -> dict[str, Any] | None:
            return answers.get(cid)

    async def fake_connect(url: str) -> Conn:
        return Conn()

    async def no_sleep(seconds: float) -> None:
        """Do not wait."""

    monkeypatch.setattr("omniclaude.storage.pool.connect", fake_connect)
    sessions = demo_module.demo_sessions("s")
    results = [
        demo_module.DemoResult(sessions[0], done, "a", "success"),
        demo_module.DemoResult(sessions[1], running, "b", "in_progress"),
    ]
    await demo_module.wait_stored(results, "postgresql://x", timeout_s=0, sleep=no_sleep)
    assert (results[0].stored, results[0].actions, results[0].children) == (True, 4, 2)
    assert not results[1].stored
