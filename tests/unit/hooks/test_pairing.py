"""Pairing Pre/Post tool hooks: by tool_use_id, by order without one, bounded, restorable."""

from __future__ import annotations

from omniclaude.hooks.pairing import OpenCall, ToolPairing


def call(key: str, tool: str = "Read", use_id: str | None = None, **kw: object) -> OpenCall:
    """An open call with defaults."""
    return OpenCall(key=key, session_id=str(kw.get("session", "s")), tool_name=tool,
                    received_ns=int(key.strip("k") or 0), correlation_id="c", tool_use_id=use_id,
                    agent_id=kw.get("agent"))  # type: ignore[arg-type]  # fmt: skip


def test_interleaved_calls_pair_by_tool_use_id() -> None:
    """Parallel calls whose results come back in another order pair by id."""
    pairing = ToolPairing()
    for i in (1, 2, 3):
        pairing.open(call(f"k{i}", use_id=f"t{i}"))
    for i in (2, 3, 1):
        found, how = pairing.close(
            session_id="s", tool_name="Read", tool_use_id=f"t{i}", agent_id=None
        )
        assert found is not None
        assert found.key == f"k{i}"
        assert how == "tool_use_id"
    assert len(pairing) == 0


def test_calls_without_ids_pair_in_order_per_tool_and_agent() -> None:
    """Old payloads (no ids) pair with the oldest open call of the same tool and agent."""
    pairing = ToolPairing()
    pairing.open(call("k1", "Bash"))
    pairing.open(call("k2", "Read"))
    pairing.open(call("k3", "Read", agent="a1"))
    pairing.open(call("k4", "Read"))
    found, how = pairing.close(session_id="s", tool_name="Read", tool_use_id=None, agent_id=None)
    assert found is not None
    assert found.key == "k2"
    assert how == "order"
    found, _ = pairing.close(session_id="s", tool_name="Read", tool_use_id=None, agent_id="a1")
    assert found is not None
    assert found.key == "k3", "a subagent's call paired with the main one"
    found, _ = pairing.close(session_id="s", tool_name="Bash", tool_use_id=None, agent_id=None)
    assert found is not None
    assert found.key == "k1"


def test_unknown_id_falls_back_to_an_id_less_call_only() -> None:
    """A result with an unseen id may pair with an id-less Pre, never with another id's Pre."""
    pairing = ToolPairing()
    pairing.open(call("k1", use_id="t1"))
    assert pairing.close(session_id="s", tool_name="Read", tool_use_id="t9", agent_id=None) == (
        None,
        None,
    )
    pairing.open(call("k2"))
    found, how = pairing.close(session_id="s", tool_name="Read", tool_use_id="t9", agent_id=None)
    assert found is not None
    assert found.key == "k2"
    assert how == "order"


def test_sessions_never_mix() -> None:
    """A call of one session never pairs with a result of another."""
    pairing = ToolPairing()
    pairing.open(call("k1", session="other"))
    assert pairing.close(session_id="s", tool_name="Read", tool_use_id=None, agent_id=None) == (
        None,
        None,
    )


def test_open_evicts_the_oldest_beyond_the_bound() -> None:
    """More open calls than the bound evicts the oldest (reported, never silently lost)."""
    pairing = ToolPairing(max_open=2)
    assert pairing.open(call("k1")) == []
    pairing.open(call("k2"))
    evicted = pairing.open(call("k3"))
    assert [c.key for c in evicted] == ["k1"]
    assert [c.key for c in pairing] == ["k2", "k3"]


def test_drain_and_state_round_trip() -> None:
    """drain removes matching calls; to_state/from_state restores the rest exactly."""
    pairing = ToolPairing()
    pairing.open(call("k1", "Bash"))
    pairing.open(call("k2", "Read", use_id="t2"))
    drained = pairing.drain(lambda c: c.tool_name == "Bash")
    assert [c.key for c in drained] == ["k1"]
    restored = ToolPairing.from_state(pairing.to_state())
    assert [c.key for c in restored] == ["k2"]
    found, how = restored.close(session_id="s", tool_name="Read", tool_use_id="t2", agent_id=None)
    assert found is not None
    assert how == "tool_use_id"
