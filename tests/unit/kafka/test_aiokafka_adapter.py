"""The one adapter over aiokafka internals still matches the installed aiokafka."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient

from omniclaude.kafka import KafkaClients, close_quietly
from omniclaude.kafka._aiokafka import HOOK, on_connection_closed


def test_the_installed_aiokafka_passes_the_hook_to_every_connection() -> None:
    """AIOKafkaClient has the hook and hands it to the connections it opens."""
    assert callable(getattr(AIOKafkaClient, HOOK, None)), f"aiokafka lost {HOOK}"
    assert f"on_close=self.{HOOK}" in inspect.getsource(AIOKafkaClient._get_conn)


def test_the_callback_runs_before_aiokafka_handles_the_close() -> None:
    """The chained hook calls ours, then aiokafka's own (which refreshes metadata)."""
    calls: list[Any] = []
    client = SimpleNamespace(**{HOOK: lambda conn, reason: calls.append((conn, reason))})
    on_connection_closed(client, lambda: calls.append("ours"))
    getattr(client, HOOK)("conn", "broken")
    assert calls == ["ours", ("conn", "broken")]


async def test_a_real_producer_can_be_watched() -> None:
    """An unstarted producer built by the factory accepts the hook."""
    producer = KafkaClients(["127.0.0.1:1"]).producer()
    seen: list[int] = []
    on_connection_closed(producer, lambda: seen.append(1))
    try:
        getattr(producer.client, HOOK)(None, None)
        assert seen == [1]
    finally:
        await close_quietly(producer)


def test_an_incompatible_client_is_a_clear_error() -> None:
    """Without the hook the adapter refuses loudly instead of silently losing the signal."""
    with pytest.raises(RuntimeError, match="not supported"):
        on_connection_closed(SimpleNamespace(), lambda: None)
