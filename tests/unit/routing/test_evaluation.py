"""Routing evaluation: the fixed splits, accuracy targets, calibration and the threshold rule."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from omniclaude.errors import ConfigurationError
from omniclaude.routing import AgentRegistry, Router, RouterConfig
from omniclaude.routing.evaluation import (
    Example,
    Outcome,
    SplitReport,
    choose_threshold,
    evaluate,
    load_examples,
    reliability,
    report,
    shipped_examples,
)

HELD_OUT_TARGET = 0.90
DEV_FLOOR = 0.85
"""The dev-* sets were looked at while the router was changed (datasets/README.md): their
figures (98%, 90%, 97% at issue 17's end) are development figures, not the measure. This floor
guards against regressions; the sealed split is the measure."""


@pytest.fixture(scope="module")
def reports() -> dict[str, SplitReport]:
    """Every shipped split routed by the default router (examples left out of their own rows)."""
    return report(evaluate(Router.default(), shipped_examples()))


def _misses(split: SplitReport) -> str:
    return "\n".join(
        f"{o.example.prompt!r}: expected {o.example.agent}, got {o.selected} ({o.confidence:.2f})"
        for o in split.misses()
    )


def test_held_out_top1_is_at_least_90_percent(reports: dict[str, SplitReport]) -> None:
    """The held-out part, which nothing is fitted to, is routed right at least 90% of the time."""
    held = reports["held-out"]
    assert held.accuracy >= HELD_OUT_TARGET, f"held-out {held.accuracy:.1%}:\n{_misses(held)}"


SEALED_TARGET = 0.90
"""The issue's target, met on the sealed split's one evaluation (58/64 = 90.6%, issue 17)."""


def test_sealed_paraphrases_are_routed_right_at_least_90_percent(
    reports: dict[str, SplitReport],
) -> None:
    """The sealed split (64 prompts written from the agents' descriptions by someone who never
    saw the router's scores, 8 per agent) is routed right at least 90% of the time."""
    sealed = reports["fresh-sealed"]
    assert sealed.total == 64
    assert all(total == 8 for _, total in sealed.per_agent().values())
    assert sealed.accuracy >= SEALED_TARGET, f"sealed {sealed.accuracy:.1%}:\n{_misses(sealed)}"


@pytest.mark.parametrize("split", ["dev-fresh", "dev-fresh-final", "dev-h17b"])
def test_dev_paraphrases_stay_above_the_floor(reports: dict[str, SplitReport], split: str) -> None:
    """The dev paraphrased prompts stay at or above the regression floor (see DEV_FLOOR)."""
    dev = reports[split]
    assert dev.total >= 40
    assert dev.accuracy >= DEV_FLOOR, f"{split} {dev.accuracy:.1%}:\n{_misses(dev)}"


def test_tuning_figure_is_leave_one_out(reports: dict[str, SplitReport]) -> None:
    """A tuning prompt that is also an agent example is not its own nearest neighbour."""
    tune = reports["tune"]
    assert tune.accuracy >= HELD_OUT_TARGET, _misses(tune)
    router = Router.default()
    prompt = "Audit our dependencies"
    assert prompt in router.registry.require("dependency-auditor").examples
    own = router.route(prompt, use_cache=False).chosen
    left_out = evaluate(router, [Example(prompt, "dependency-auditor", "tune")])[0]
    assert own is not None
    assert own.example == pytest.approx(1.0)
    assert left_out.correct
    assert left_out.confidence < 1.0


def test_confident_decisions_are_right(reports: dict[str, SplitReport]) -> None:
    """Of the decisions at confidence >= 0.8 on data nothing was fitted to, >= 90% are right."""
    unfitted = ("held-out", "dev-fresh", "dev-fresh-final", "dev-h17b", "fresh-sealed")
    outcomes = [o for name in unfitted for o in reports[name].outcomes]
    rows = [r for r in reliability(outcomes) if r.low >= 0.8]
    decisions = sum(r.decisions for r in rows)
    right = sum(r.right for r in rows)
    assert decisions >= 20
    assert right / decisions >= 0.9, f"{right}/{decisions} right at confidence >= 0.8"


def test_default_threshold_is_the_held_out_choice(reports: dict[str, SplitReport]) -> None:
    """The shipped fallback threshold is the one the held-out part chooses."""
    choice = choose_threshold(reports["held-out"].outcomes, "polymorphic-agent")
    assert RouterConfig().min_confidence == pytest.approx(choice.threshold)
    assert choice.low <= choice.threshold <= choice.high


def test_no_evaluation_prompt_is_an_agent_example() -> None:
    """No held-out or fresh prompt appears among the shipped agents' examples."""
    examples = {e.strip().lower() for a in AgentRegistry.load() for e in a.examples}
    leaked = [
        e.prompt for e in shipped_examples() if e.split != "tune" and e.prompt.lower() in examples
    ]
    assert leaked == []


def test_held_out_split_is_the_fixed_seeded_draw() -> None:
    """The held-out rows are ``random.Random(17)``'s stratified 30% per agent, in file order."""
    rows = shipped_examples(["routing.jsonl"])
    rng = random.Random(17)
    by_agent: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_agent.setdefault(row.agent, []).append(index)
    held: set[int] = set()
    for agent in sorted(by_agent):
        held.update(rng.sample(by_agent[agent], round(0.3 * len(by_agent[agent]))))
    assert {i for i, r in enumerate(rows) if r.split == "held-out"} == held
    assert {r.split for r in rows} == {"tune", "held-out"}
    assert len(held) == 29


def _outcome(agent: str, best: str | None, confidence: float) -> Outcome:
    example = Example("p", agent, "held-out")
    fallback = confidence < 0.5
    selected = "fb" if fallback or best is None else best
    return Outcome(example, selected, confidence, fallback, "x", best, confidence)


def test_choose_threshold_replays_thresholds_and_prefers_near_half() -> None:
    """The threshold maximises accuracy; among ties the one nearest 0.5 wins."""
    outcomes = [
        _outcome("a", "a", 0.9),
        _outcome("a", "a", 0.7),
        _outcome("fb", "b", 0.3),
        _outcome("fb", "c", 0.1),
    ]
    choice = choose_threshold(outcomes, "fb", grid=[i / 10 for i in range(1, 10)])
    assert choice.accuracy == 1.0
    assert (choice.low, choice.high) == (0.4, 0.7)
    assert choice.threshold == 0.5
    empty = choose_threshold([], "fb", grid=[0.2, 0.4, 0.6])
    assert (empty.threshold, empty.accuracy) == (0.4, 0.0)


def test_reliability_bins_specialist_decisions_only() -> None:
    """Fallbacks are left out of the reliability bins; 1.0 falls in the last bin."""
    outcomes = [_outcome("a", "a", 1.0), _outcome("b", "a", 0.85), _outcome("fb", "b", 0.2)]
    rows = reliability(outcomes, bins=(0.0, 0.5, 0.8, 1.0))
    assert [(r.decisions, r.right) for r in rows] == [(0, 0), (0, 0), (2, 1)]
    assert rows[0].accuracy is None
    assert rows[-1].accuracy == 0.5


def test_load_examples_names_the_line_and_field(tmp_path: Path) -> None:
    """A bad row is reported with its file, line and field."""
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"prompt": "x", "agent": "a"}) + "\n" + json.dumps({"prompt": "y"}))
    with pytest.raises(ConfigurationError, match=r"set.jsonl:2: agent"):
        load_examples(path)
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"set.jsonl:1: not JSON"):
        load_examples(path)
    path.write_text(json.dumps({"prompt": "x", "agent": "a", "context": [1]}))
    with pytest.raises(ConfigurationError, match="context"):
        load_examples(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_examples(tmp_path / "missing.jsonl")


USER_AGENT = """
name: release-notes
description: Drafts release notes and changelog entries from the commit history.
examples:
  - write the release notes for version 2.0
  - summarise what changed since the last tag
  - draft a changelog entry for this release
entrypoint: omniclaude.runtime.agents.file_reader:run
"""


@pytest.mark.parametrize(
    "prompt",
    [
        "prepare the release notes for 3.1",
        "what changed since the previous tag?",
        "can you draft the changelog for the upcoming release",
    ],
)
def test_user_agent_defined_only_in_yaml_is_picked_for_paraphrases(
    tmp_path: Path, prompt: str
) -> None:
    """An agent with only a description and three examples gets paraphrases of its examples."""
    (tmp_path / "release-notes.yaml").write_text(USER_AGENT)
    registry = AgentRegistry.load([tmp_path])
    assert registry.problems == []
    result = Router(registry).route(prompt)
    assert result.selected == "release-notes", result.reasoning
    assert result.chosen is not None
    assert result.chosen.example > 0 or result.chosen.capability > 0
