"""The router: choices, fallback, explicit mentions, history, cache and the event it emits."""

from __future__ import annotations

import json
import uuid
from importlib.resources import files

import pytest

from omniclaude.routing import AgentRegistry, AgentStats, Router, RouterConfig

ACCURACY_TARGET = 0.90


@pytest.fixture(scope="module")
def router() -> Router:
    """A router over the shipped agents."""
    return Router.default()


def _dataset() -> list[dict[str, object]]:
    text = (files("omniclaude.routing") / "datasets" / "routing.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_dataset_is_large_and_covers_every_shipped_agent() -> None:
    """The labelled set has at least 60 prompts and labels every shipped agent."""
    rows = _dataset()
    assert len(rows) >= 60
    assert {r["agent"] for r in rows} == set(AgentRegistry.load().names)


def test_top1_accuracy_on_the_labelled_set(router: Router) -> None:
    """Top-1 routing accuracy on the labelled set stays at or above 90%."""
    rows = _dataset()
    misses = []
    for row in rows:
        context = row.get("context")
        got = router.route(
            str(row["prompt"]), context if isinstance(context, dict) else None, use_cache=False
        )
        if got.selected != row["agent"]:
            misses.append(
                f"{row['prompt']!r}: expected {row['agent']}, "
                f"got {got.selected} ({got.confidence:.2f})"
            )
    accuracy = 1 - len(misses) / len(rows)
    assert accuracy >= ACCURACY_TARGET, f"accuracy {accuracy:.1%} < 90%; misses:\n" + "\n".join(
        misses
    )


def test_confident_choice_has_components_and_alternatives(router: Router) -> None:
    """A clear prompt picks its agent with a confidence in [0, 1], alternatives and reasoning."""
    result = router.route("Find every TODO and FIXME comment")
    assert result.selected == "code-analyzer"
    assert not result.is_fallback
    assert 0.5 <= result.confidence <= 1
    assert result.strategy == "trigger"
    assert result.chosen is not None
    assert result.chosen.matched_triggers
    assert len(result.alternatives) == router.config.max_alternatives
    assert all(0 <= c.confidence <= 1 for c in result.alternatives)
    assert "code-analyzer" in result.reasoning


def test_low_confidence_falls_back_as_a_recorded_decision(router: Router) -> None:
    """Below the threshold the polymorphic agent is chosen; strategy and reasoning say so."""
    result = router.route("Write a haiku about autumn")
    assert result.selected == "polymorphic-agent"
    assert result.is_fallback
    assert result.strategy == "fallback"
    assert "threshold" in result.reasoning
    event = result.to_event(correlation_id=uuid.uuid4(), user_request="Write a haiku about autumn")
    assert event.is_fallback
    assert event.routing_strategy == "fallback"


def test_explicit_mention_wins_over_signals(router: Router) -> None:
    """ "@docs-auditor" selects it at confidence 1 whatever the rest says."""
    result = router.route("@docs-auditor find the tests")
    assert (result.selected, result.confidence, result.strategy) == (
        "docs-auditor",
        1.0,
        "explicit",
    )


def test_exclude_removes_an_agent(router: Router) -> None:
    """An excluded agent is never chosen, even when mentioned."""
    result = router.route("find the tests", exclude={"test-finder"})
    assert result.selected != "test-finder"
    assert all(c.agent != "test-finder" for c in result.alternatives)


def test_history_scales_confidence() -> None:
    """A poor success rate (over enough executions) lowers an agent's confidence."""
    router = Router.default()

    def score() -> float:
        chosen = router.route("find the tests", use_cache=False).chosen
        assert chosen is not None
        assert chosen.agent == "test-finder"
        return chosen.confidence

    before = score()
    router.set_history({"test-finder": AgentStats(executions=10, success_rate=0.0)})
    assert score() == pytest.approx(before * (1 - router.config.history_weight))
    after = router.route("find the tests", use_cache=False).chosen
    assert after is not None
    assert after.history == 0.0
    router.set_history({"test-finder": AgentStats(executions=1, success_rate=0.0)})
    assert score() == pytest.approx(before)


def test_identical_requests_hit_the_cache() -> None:
    """The second identical request is a cache hit with the same choice."""
    router = Router.default()
    first = router.route("list the dependencies")
    second = router.route("  LIST the dependencies ")
    assert not first.cache_hit
    assert second.cache_hit
    assert second.selected == first.selected
    assert router.route("list the dependencies", {"files": ["a.py"]}).cache_hit is False


def test_event_carries_the_decision() -> None:
    """to_event fills the routing decision's fields and bounds a large context snapshot."""
    router = Router.default()
    result = router.route("Is there any hardcoded password?")
    cid, parent = uuid.uuid4(), uuid.uuid4()
    event = result.to_event(
        correlation_id=cid,
        user_request="Is there any hardcoded password?",
        context={"blob": "x" * 20_000},
        session_id="s1",
        parent_correlation_id=parent,
    )
    assert event.correlation_id == cid
    assert event.parent_correlation_id == parent
    assert event.selected_agent == "security-scanner"
    assert event.trigger_confidence is not None
    assert event.context_snapshot == {"keys": ["blob"], "truncated": True}
    assert event.alternatives
    assert event.alternatives[0].reason
    decided = router.decide("find the tests", correlation_id=cid)
    assert decided.selected_agent == "test-finder"


def test_empty_registry_falls_back() -> None:
    """With no agent registered the router still answers, with the fallback."""
    result = Router(AgentRegistry(), RouterConfig(min_confidence=0.5)).route("anything")
    assert result.is_fallback
    assert result.confidence == 0.0
    assert "no agent" in result.reasoning
