"""The router: choices, fallback, explicit mentions, history, cache and the event it emits."""

from __future__ import annotations

import json
import uuid
from importlib.resources import files

import pytest

from omniclaude.routing import AgentRegistry, AgentStats, Router, RouterConfig


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
    prompt = "Purple elephants dance at noon"
    result = router.route(prompt)
    assert result.selected == "polymorphic-agent"
    assert result.is_fallback
    assert result.strategy == "fallback"
    assert "threshold" in result.reasoning
    event = result.to_event(correlation_id=uuid.uuid4(), user_request=prompt)
    assert event.is_fallback
    assert event.routing_strategy == "fallback"


@pytest.mark.parametrize(
    ("prompt", "concept"),
    [("Write a haiku about autumn", "~task"), ("give me a workspace overview", None)],
)
def test_the_general_agent_is_chosen_on_its_own_evidence(
    router: Router, prompt: str, concept: str | None
) -> None:
    """A request for work no specialist does, or the general agent's own capability (a
    workspace overview), selects polymorphic-agent as a choice, not a fallback; excluded (as
    it excludes itself when it re-routes), it is never chosen."""
    result = router.route(prompt, use_cache=False)
    assert (result.selected, result.is_fallback) == ("polymorphic-agent", False)
    assert result.chosen is not None
    assert concept is None or concept in result.chosen.concepts
    assert "polymorphic-agent" in result.reasoning
    again = router.route(prompt, exclude={"polymorphic-agent"}, use_cache=False)
    assert again.is_fallback or again.selected != "polymorphic-agent"
    assert all(c.agent != "polymorphic-agent" for c in again.alternatives)


def test_work_no_specialist_does_is_not_given_to_one(router: Router) -> None:
    """ "Write unit tests" names tests, but the test finder only finds them: its confidence is
    cut and the reasoning says why."""
    result = router.route("write unit tests for the cache module", use_cache=False)
    assert result.selected == "polymorphic-agent"
    again = router.route(
        "write unit tests for the cache module", exclude={"polymorphic-agent"}, use_cache=False
    )
    assert again.is_fallback
    assert "does not do" in again.reasoning


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


def test_a_multi_part_request_falls_back_to_the_coordinator(router: Router) -> None:
    """A list of asks for several agents goes to the polymorphic agent, with the reason."""
    result = router.route("check security, docs and dependencies", use_cache=False)
    assert result.is_fallback
    assert "multi-part" in result.reasoning
    single = router.route("is anything in the parser dangerous", use_cache=False)
    assert single.selected == "security-scanner"


def test_a_close_runner_up_lowers_the_decision_confidence(router: Router) -> None:
    """The decision confidence is the best score discounted by the runner-up's closeness."""
    result = router.route("Where are the unit tests for the API?", use_cache=False)
    assert result.chosen is not None
    runner_up = result.alternatives[0].confidence
    ratio = runner_up / result.chosen.confidence
    expected = result.chosen.confidence * (1 - router.config.margin_weight * ratio * ratio)
    assert result.confidence == pytest.approx(expected)
    assert f"next {result.alternatives[0].agent!r}" in result.reasoning


def test_reasoning_shows_every_signal(router: Router) -> None:
    """The decision and each alternative name trigger, capability, concept and example scores."""
    result = router.route("which libs do we rely on", use_cache=False)
    assert result.selected == "dependency-auditor"
    for text in (result.reasoning, *(c.reason() for c in result.alternatives)):
        for signal in ("trigger", "capability", "concept", "example"):
            assert signal in text
    assert "~deps" in result.reasoning
    event = result.to_event(correlation_id=uuid.uuid4(), user_request="which libs")
    assert event.alternatives[0].reason is not None
    assert "concept" in event.alternatives[0].reason


def test_a_plain_word_after_a_verb_is_not_an_explicit_mention(router: Router) -> None:
    """ "run security checks" is routed on its words, not taken as naming an agent."""
    result = router.route("run security checks on the hooks", use_cache=False)
    assert result.strategy != "explicit"
    assert result.selected == "security-scanner"


def test_an_agent_for_one_file_needs_a_file(router: Router) -> None:
    """The file reader keeps half its score when the request names no file, and says so;
    with a named file it is chosen."""
    tree = router.score("count up the files per language", limit=None)
    reader = next(c for c in tree if c.agent == "file-reader")
    assert reader.scope == 0.5
    assert "scope x0.50" in reader.reason()
    assert tree[0].agent == "code-analyzer"
    one = router.route("how many lines does router.py have", use_cache=False)
    assert one.selected == "file-reader"
    assert one.chosen is not None
    assert one.chosen.scope == 1.0
