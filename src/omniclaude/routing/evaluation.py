"""Routing evaluation: top-1 accuracy per split and per agent, confusions, reliability.

The labelled data lives in ``datasets/`` (see its README): ``routing.jsonl`` is split into a
``tune`` part and a fixed ``held-out`` part; ``fresh*.jsonl`` and ``dev-h17b.jsonl`` hold
paraphrased prompts the router's authors have looked at (splits ``dev-*``), and
``fresh-sealed.jsonl`` (split ``fresh-sealed``) prompts written apart from the router and
evaluated once. Every split is reported on its own; the fallback threshold is chosen on ``held-out``
only (:func:`choose_threshold`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any

from omniclaude.errors import ConfigurationError
from omniclaude.routing.registry import AgentRegistry
from omniclaude.routing.router import Router

__all__ = [
    "DATASET_FILES",
    "RELIABILITY_BINS",
    "Example",
    "Outcome",
    "ReliabilityRow",
    "SplitReport",
    "ThresholdChoice",
    "choose_threshold",
    "evaluate",
    "load_examples",
    "reliability",
    "report",
    "shipped_examples",
    "strict_concepts",
]

DATASET_FILES = (
    "routing.jsonl",
    "fresh.jsonl",
    "fresh-final.jsonl",
    "dev-h17b.jsonl",
    "fresh-sealed.jsonl",
)
"""The shipped labelled files, in report order."""
RELIABILITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)
"""Lower edges of the confidence bins of the reliability table (the last bin is [0.9, 1])."""
_DEFAULT_SPLIT = "all"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled prompt: the agent it should go to, its context and its split."""

    prompt: str
    agent: str
    split: str = _DEFAULT_SPLIT
    context: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the router decided for one example."""

    example: Example
    selected: str
    confidence: float
    is_fallback: bool
    strategy: str
    best: str | None
    """The best non-fallback candidate (what a threshold of 0 would choose)."""
    best_confidence: float

    @property
    def correct(self) -> bool:
        """The router picked the labelled agent."""
        return self.selected == self.example.agent


def _parse(text: str, where: str) -> list[Example]:
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{where}:{number}: not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise ConfigurationError(f"{where}:{number}: expected an object")
        for key in ("prompt", "agent"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise ConfigurationError(f"{where}:{number}: {key}: expected a non-empty string")
        context = row.get("context")
        if context is not None and not isinstance(context, dict):
            raise ConfigurationError(f"{where}:{number}: context: expected an object")
        split = row.get("split", _DEFAULT_SPLIT)
        if not isinstance(split, str) or not split:
            raise ConfigurationError(f"{where}:{number}: split: expected a non-empty string")
        examples.append(Example(row["prompt"], row["agent"], split, context))
    return examples


def load_examples(path: Path) -> list[Example]:
    """Read a JSONL file of ``{prompt, agent[, context][, split]}`` rows.

    Raises:
        ConfigurationError: a line is not JSON or a field is missing; names line and field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"dataset: cannot read {path}: {exc}") from exc
    return _parse(text, str(path))


def shipped_examples(names: Iterable[str] = DATASET_FILES) -> list[Example]:
    """The labelled prompts shipped with the package (every split, in file order)."""
    folder = files("omniclaude.routing") / "datasets"
    out: list[Example] = []
    for name in names:
        out.extend(_parse((folder / name).read_text(encoding="utf-8"), name))
    return out


def _without_example(router: Router, prompt: str) -> Router | None:
    """A router like ``router`` whose agents lack the example ``prompt``, or None if none has it."""
    key = prompt.strip().lower()
    agents = list(router.registry)
    if not any(key == e.strip().lower() for a in agents for e in a.examples):
        return None
    trimmed = [
        a.model_copy(update={"examples": tuple(e for e in a.examples if e.strip().lower() != key)})
        for a in agents
    ]
    return Router(AgentRegistry(trimmed), router.config)


def strict_concepts(examples: Iterable[Example]) -> dict[str, tuple[str, ...]]:
    """The concept map without any phrase that uses a word (stem) of ``examples``' prompts.

    The map's authors had seen the dev-* prompts; routing with this map shows what the
    concepts are worth on those prompts without any word the authors could have taken from them.
    """
    from omniclaude.routing.concepts import CONCEPTS
    from omniclaude.routing.text import stem, tokenize

    seen = {stem(w) for e in examples for w in tokenize(e.prompt)}
    return {
        concept: tuple(p for p in phrases if not any(stem(w) in seen for w in tokenize(p)))
        for concept, phrases in CONCEPTS.items()
    }


def evaluate(
    router: Router, examples: Iterable[Example], *, leave_one_out: bool = True
) -> list[Outcome]:
    """Route every example (cache bypassed) and record the decision and the best candidate.

    Args:
        router: the router to measure.
        examples: the labelled prompts.
        leave_one_out: a prompt that is also an agent's ``examples`` entry is routed by a
            router without that entry, so no prompt is scored as its own nearest neighbour
            (otherwise the tuning figure would only measure memory).
    """
    outcomes = []
    fallback = router.config.fallback_agent
    for example in examples:
        judge = (_without_example(router, example.prompt) if leave_one_out else None) or router
        result = judge.route(example.prompt, example.context, use_cache=False)
        if result.is_fallback:
            top = result.alternatives[0] if result.alternatives else None
            best, best_confidence = (None, 0.0) if top is None else (top.agent, top.confidence)
        else:
            best, best_confidence = result.selected, result.confidence
        if best == fallback:
            best = None
        outcomes.append(
            Outcome(
                example,
                result.selected,
                result.confidence,
                result.is_fallback,
                result.strategy,
                best,
                best_confidence,
            )
        )
    return outcomes


@dataclass(frozen=True, slots=True)
class ReliabilityRow:
    """Decisions whose confidence lies in ``[low, high)`` and how many were right."""

    low: float
    high: float
    decisions: int
    right: int

    @property
    def accuracy(self) -> float | None:
        """Share right, or None for an empty bin."""
        return self.right / self.decisions if self.decisions else None


def reliability(
    outcomes: Sequence[Outcome], bins: Sequence[float] = RELIABILITY_BINS
) -> list[ReliabilityRow]:
    """Bin the specialist decisions (fallbacks left out) by confidence; the last bin has 1.0.

    A well-calibrated router is right about as often as its confidence says: of the decisions
    at 0.8 or more, at least 80% right.
    """
    chosen = [o for o in outcomes if not o.is_fallback]
    rows = []
    edges = [*bins[:-1], 1.0 + 1e-9] if bins[-1] >= 1.0 else [*bins, 1.0 + 1e-9]
    for low, high in pairwise(edges):
        inside = [o for o in chosen if low <= o.confidence < high]
        rows.append(
            ReliabilityRow(low, min(high, 1.0), len(inside), sum(o.correct for o in inside))
        )
    return rows


def _with_threshold(outcome: Outcome, threshold: float, fallback: str) -> str:
    if outcome.strategy == "explicit":
        return outcome.selected  # an explicit mention is never thresholded
    if outcome.best is not None and outcome.best_confidence >= threshold:
        return outcome.best
    return fallback


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    """The fallback threshold best on a split, and the range of thresholds as good as it."""

    threshold: float
    accuracy: float
    low: float
    high: float


def choose_threshold(
    outcomes: Sequence[Outcome], fallback: str, *, grid: Sequence[float] | None = None
) -> ThresholdChoice:
    """The fallback threshold with the best top-1 accuracy on ``outcomes`` (held-out).

    Each outcome records its best specialist candidate, so any threshold can be replayed
    without routing again. Among thresholds with the best accuracy, the middle of the widest
    run of them is taken (the lower middle for an even run): a small held-out part rarely has
    prompts scoring in the middle, so many thresholds tie, and the middle is as far as the
    data allows from both edges where held-out accuracy starts to drop.
    """
    steps = list(grid) if grid is not None else [i / 100 for i in range(5, 96)]
    if not outcomes:
        middle = steps[len(steps) // 2]
        return ThresholdChoice(middle, 0.0, middle, middle)
    scored = [
        (t, sum(_with_threshold(o, t, fallback) == o.example.agent for o in outcomes))
        for t in steps
    ]
    top = max(s for _, s in scored)
    runs: list[list[float]] = []
    previous: float | None = None
    for t, s in scored:
        if s == top:
            if runs and previous is not None and runs[-1][-1] == previous:
                runs[-1].append(t)
            else:
                runs.append([t])
        previous = t
    widest = max(runs, key=len)
    chosen = widest[(len(widest) - 1) // 2]
    return ThresholdChoice(chosen, top / len(outcomes), widest[0], widest[-1])


@dataclass(slots=True)
class SplitReport:
    """Accuracy of one split, overall and per labelled agent, with its confusions."""

    split: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Examples in the split."""
        return len(self.outcomes)

    @property
    def right(self) -> int:
        """Examples routed to their labelled agent."""
        return sum(o.correct for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy (0 for an empty split)."""
        return self.right / self.total if self.total else 0.0

    def per_agent(self) -> dict[str, tuple[int, int]]:
        """``agent -> (right, total)`` over the examples labelled with that agent."""
        out: dict[str, tuple[int, int]] = {}
        for o in self.outcomes:
            right, total = out.get(o.example.agent, (0, 0))
            out[o.example.agent] = (right + o.correct, total + 1)
        return dict(sorted(out.items()))

    def confusions(self) -> list[tuple[tuple[str, str], int]]:
        """``((labelled, chosen), count)`` for every wrong pair, most frequent first."""
        pairs = Counter((o.example.agent, o.selected) for o in self.outcomes if not o.correct)
        return sorted(pairs.items(), key=lambda item: (-item[1], item[0]))

    def misses(self) -> list[Outcome]:
        """The wrong outcomes, in data order."""
        return [o for o in self.outcomes if not o.correct]


def report(outcomes: Iterable[Outcome]) -> dict[str, SplitReport]:
    """Group outcomes by split, in first-seen order."""
    out: dict[str, SplitReport] = {}
    for outcome in outcomes:
        out.setdefault(outcome.example.split, SplitReport(outcome.example.split)).outcomes.append(
            outcome
        )
    return out
