"""The router: rank the registry's agents for a prompt and explain the choice.

Signals (see :mod:`omniclaude.routing.signals`) and how they combine, per agent:

1. an explicit mention (``@agent``, "use agent-x") selects that agent at confidence 1.0;
2. four lexical signals in [0, 1]: ``trigger`` (an activation phrase, or 0.7 for a matching
   ``patterns`` regex), ``capability`` (BM25 relevance of the prompt's words and concepts to
   the agent's name, description, capabilities, triggers and examples), ``concept`` (the
   share of the prompt's concepts the agent's definition has, by affinity) and ``example``
   (cosine similarity to the agent's closest example prompt, weighted by
   ``example_weight``); the score is the strongest plus a quarter of the runner-up's
   agreement: ``lex = s1 + 0.25 * s2 * (1 - s1)``;
3. scope: an agent that works on one file (its definition says "one file", "a file") keeps
   half its score when the request names no file and has no context files;
4. the request context (files matching the agent's patterns, its domain) only raises it:
   ``score = lex + w_ctx * context * (1 - lex)``;
5. the agent's past success rate, when it ran often enough, scales it:
   ``score *= (1 - w_hist) + w_hist * success_rate``.

The general ``polymorphic-agent`` is scored like the others from its own definition (a
workspace overview, small talk, work no specialist does); it is also the fallback.

Each candidate's ``confidence`` is that score. The decision's confidence also accounts for
how close the runner-up is (two agents at 0.8 are a coin toss, not a sure thing):
``confidence = best * (1 - margin_weight * (second / best) ** 2)``; for a multi-part request
(two list items about concepts different agents own) it is multiplied by ``share ** 2``, the
share of the request's concepts the best agent has; for a request to make or change
something, or for general knowledge (``~task``), that the best agent's definition never asks
for, by 0.2. Below ``min_confidence`` (chosen on the held-out evaluation split) the request
falls back to ``polymorphic-agent``, and that is a recorded decision (strategy ``fallback``,
``is_fallback``) with the best candidate kept among the alternatives. Identical requests are
answered from a bounded TTL cache.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.events import AgentAlternative, RoutingDecision, dumps
from omniclaude.routing.cache import TtlCache
from omniclaude.routing.concepts import FORM_CONCEPTS, TASK_CONCEPT
from omniclaude.routing.registry import AgentDefinition, AgentRegistry
from omniclaude.routing.signals import (
    Bm25Index,
    ConceptIndex,
    ContextIndex,
    ExampleIndex,
    TriggerIndex,
    explicit_mention,
)
from omniclaude.routing.text import analyze, file_kinds

__all__ = [
    "MAX_PROMPT_CHARS",
    "PATTERN_SCORE",
    "AgentStats",
    "Candidate",
    "RouteResult",
    "Router",
    "RouterConfig",
]

MAX_PROMPT_CHARS = 10_000
"""The most of a prompt the router reads (≈20 ms of scoring here), and so the longest prompt
``POST /route`` and ``POST /execute`` accept: routing runs on the server's event loop."""
_MAX_SNAPSHOT_BYTES = 8192
PATTERN_SCORE = 0.7
"""Trigger strength of a matching ``patterns`` regular expression (a phrase scores up to 1)."""
_AGREEMENT = 0.25
_SCOPE = 0.5
"""What an agent that works on one named file (its definition says "one file", "a file")
keeps of its score when the request names no file, says no "this file" and has no context
files: "count the files per language" is about the code tree, not one file."""
_TASK_FACTOR = 0.2
"""How much a request for work the best agent never does (:data:`TASK_CONCEPT`) keeps of its
confidence: "write unit tests for the cache" names tests, but a test finder only finds them."""


class RouterConfig(BaseModel):
    """How the router decides; every field has a sensible default."""

    model_config = ConfigDict(frozen=True)

    min_confidence: float = Field(default=0.26, ge=0, le=1)
    fallback_agent: str = "polymorphic-agent"
    max_alternatives: int = Field(default=5, ge=0, le=50)
    context_weight: float = Field(default=0.6, ge=0, le=1)
    example_weight: float = Field(default=0.7, ge=0, le=1)
    margin_weight: float = Field(default=0.25, ge=0, le=1)
    history_weight: float = Field(default=0.15, ge=0, le=1)
    history_min_executions: int = Field(default=5, ge=1)
    cache_max_entries: int = Field(default=1024, ge=0)
    cache_ttl_s: float = Field(default=300.0, ge=0)


@dataclass(frozen=True, slots=True)
class AgentStats:
    """An agent's recent record: how many executions ended, and the share that succeeded."""

    executions: int
    success_rate: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """One agent's score for a prompt, with its components."""

    agent: str
    confidence: float
    trigger: float
    capability: float
    context: float | None
    history: float | None
    matched_triggers: tuple[str, ...] = ()
    matched_capabilities: tuple[str, ...] = ()
    bm25: float = 0.0
    example: float = 0.0
    matched_example: str | None = None
    concept: float = 0.0
    concepts: tuple[str, ...] = ()
    """Concepts (``~deps``, ``~locate``...) the prompt shares with the agent's definition."""
    scope: float = 1.0
    """< 1 when the agent works on one file and the request names none (see ``_SCOPE``)."""

    def reason(self) -> str:
        """A short explanation of the score: every signal's value and what it matched."""
        parts = [f"trigger {self.trigger:.2f}", f"capability {self.capability:.2f}"]
        if self.matched_triggers:
            parts[0] += f" ({', '.join(repr(t) for t in self.matched_triggers[:3])})"
        parts.append(f"concept {self.concept:.2f}")
        if self.concepts:
            parts[-1] += f" ({' '.join(self.concepts[:4])})"
        parts.append(f"example {self.example:.2f}")
        if self.matched_example:
            parts[-1] += f" ({self.matched_example[:60]!r})"
        if self.scope < 1.0:
            parts.append(f"scope x{self.scope:.2f} (works on one file, the request names none)")
        if self.context is not None:
            parts.append(f"context {self.context:.2f}")
        if self.history is not None:
            parts.append(f"history {self.history:.2f}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The router's answer for one prompt."""

    selected: str
    confidence: float
    strategy: str
    is_fallback: bool
    reasoning: str
    alternatives: tuple[Candidate, ...]
    chosen: Candidate | None
    routing_time_ms: float
    cache_hit: bool = False

    def to_event(
        self,
        *,
        correlation_id: uuid.UUID | str,
        user_request: str,
        context: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        parent_correlation_id: uuid.UUID | str | None = None,
        **extra: Any,
    ) -> RoutingDecision:
        """Build the routing decision event for this result (context bounded to 8 KiB)."""
        chosen = self.chosen
        return RoutingDecision(
            correlation_id=correlation_id,
            user_request=user_request,
            selected_agent=self.selected,
            confidence_score=round(self.confidence, 4),
            routing_strategy=self.strategy,
            routing_time_ms=self.routing_time_ms,
            alternatives=[
                AgentAlternative(
                    agent_name=c.agent, confidence=round(c.confidence, 4), reason=c.reason()
                )
                for c in self.alternatives
            ],
            reasoning=self.reasoning,
            trigger_confidence=None if chosen is None else round(chosen.trigger, 4),
            context_confidence=None if chosen is None or chosen.context is None else chosen.context,
            capability_confidence=None if chosen is None else round(chosen.capability, 4),
            historical_confidence=None if chosen is None else chosen.history,
            matched_triggers=[] if chosen is None else list(chosen.matched_triggers),
            matched_capabilities=[] if chosen is None else list(chosen.matched_capabilities),
            cache_hit=self.cache_hit,
            is_fallback=self.is_fallback,
            session_id=session_id,
            parent_correlation_id=parent_correlation_id,
            context_snapshot=_snapshot(context),
            **extra,
        )


def combine(*signals: float) -> float:
    """The lexical score: the strongest signal plus a quarter of the runner-up's agreement."""
    ordered = sorted(signals, reverse=True)
    if not ordered:
        return 0.0
    second = ordered[1] if len(ordered) > 1 else 0.0
    return min(1.0, ordered[0] + _AGREEMENT * second * (1.0 - ordered[0]))


def decision_confidence(best: float, second: float, margin_weight: float) -> float:
    """The confidence of choosing ``best`` over a runner-up at ``second`` (see module doc)."""
    if best <= 0.0:
        return 0.0
    ratio = min(1.0, second / best)
    return best * (1.0 - margin_weight * ratio * ratio)


def _strategy(best: Candidate) -> str:
    """Which signal carried the choice: ``trigger``, ``capability`` or ``example``."""
    signals = {
        "trigger": best.trigger,
        "capability": best.capability,
        "concept": best.concept,
        "example": best.example,
    }
    return max(signals, key=lambda name: signals[name])


def _snapshot(context: Mapping[str, Any] | None) -> dict[str, Any]:
    if not context:
        return {}
    data = dict(context)
    if len(dumps(data)) <= _MAX_SNAPSHOT_BYTES:
        return data
    return {"keys": sorted(str(k) for k in data)[:100], "truncated": True}


def _document(agent: AgentDefinition) -> list[str]:
    """The text BM25 indexes for an agent: name, aliases, domain, description, capabilities."""
    text = " ".join(
        [
            agent.name.replace("-", " "),
            " ".join(a.replace("-", " ") for a in agent.aliases),
            agent.domain,
            agent.description,
            " ".join(agent.capabilities),
            " ".join(agent.triggers),
            " ".join(agent.examples),
        ]
    )
    features = list(analyze(text, definition=True).features)
    # the kinds of the files the agent works on ("pyproject.toml" → ~manifest, "test_*.py" →
    # ~test): a request naming such a file is a hint for it
    for pattern in agent.file_patterns:
        kinds = file_kinds(pattern.lower().replace("*", "x"))
        features.extend(k for k in kinds if k in FORM_CONCEPTS and k not in features)
    # an agent that makes or changes things says so in one of its parts ("Drafts release
    # notes", "write the release notes for 2.0"): the task forms look at how each part opens
    parts = [*re.split(r"(?<=[.;:])\s+", agent.description), *agent.capabilities, *agent.examples]
    if TASK_CONCEPT not in features and any(TASK_CONCEPT in analyze(p).concepts for p in parts):
        features.append(TASK_CONCEPT)
    return features


_HELD_FULLY = frozenset({"~manifest", "~test", "~doc", TASK_CONCEPT})


def _parts(agent: AgentDefinition, document: list[str]) -> list[list[str]]:
    """The features of each part of an agent's definition, for concept affinities: its name
    and domain (counted twice: they say what it is for), each description clause,
    capability, trigger and example, and its file kinds and task concept (from ``document``)."""
    name = " ".join([agent.name.replace("-", " "), *agent.aliases, agent.domain])
    texts = [
        *re.split(r"(?<=[.;:,])\s+", agent.description),
        *agent.capabilities,
        *agent.triggers,
        *agent.examples,
    ]
    named = list(analyze(name.replace("-", " "), definition=True).features)
    parts = [named, named, *(list(analyze(t, definition=True).features) for t in texts)]
    # file kinds of its file patterns and the task concept hold fully (see _document)
    extra = [f for f in document if f in _HELD_FULLY]
    parts.extend([extra] * 3)
    return parts


def _context_key(context: Mapping[str, Any] | None) -> Any:
    if not context:
        return None
    files = context.get("files")
    files_key = tuple(str(f) for f in files[:200]) if isinstance(files, list) else None
    domain = context.get("domain")
    return (files_key, domain if isinstance(domain, str) else None)


class Router:
    """Ranks the agents of a registry for a prompt; see the module docstring for the maths."""

    def __init__(
        self,
        registry: AgentRegistry,
        config: RouterConfig | None = None,
        *,
        history: Mapping[str, AgentStats] | None = None,
    ) -> None:
        """Index ``registry`` (once); ``history`` holds past success rates by agent name."""
        self.registry = registry
        self.config = config or RouterConfig()
        self._agents = list(registry)
        self._triggers = TriggerIndex.build([a.triggers for a in self._agents])
        documents = [_document(a) for a in self._agents]
        self._bm25 = Bm25Index.build(documents)
        self._examples = ExampleIndex([list(a.examples) for a in self._agents])
        self._concepts = ConceptIndex.from_parts(
            [_parts(a, doc) for a, doc in zip(self._agents, documents, strict=True)]
        )
        self._one_file = frozenset(
            i for i, doc in enumerate(documents) if "~onefile" in doc and "~project" not in doc
        )
        self._contexts = ContextIndex([(a.domain, a.file_patterns) for a in self._agents])
        self._patterns = [
            re.compile("|".join(f"(?:{p})" for p in a.patterns)) if a.patterns else None
            for a in self._agents
        ]
        self._patterned = [i for i, p in enumerate(self._patterns) if p is not None]
        self._by_name = sorted(range(len(self._agents)), key=lambda i: self._agents[i].name)
        self._index = {a.name: i for i, a in enumerate(self._agents)}
        self._capability_terms = [
            [(cap, frozenset(analyze(cap, definition=True).features)) for cap in a.capabilities]
            for a in self._agents
        ]
        self._history: dict[str, AgentStats] = dict(history or {})
        self._history_scales = self._scales()
        self.cache: TtlCache[RouteResult] = TtlCache(
            max_entries=self.config.cache_max_entries, ttl_s=self.config.cache_ttl_s
        )

    def set_history(self, history: Mapping[str, AgentStats]) -> None:
        """Replace the past success rates (and drop cached answers that used the old ones)."""
        self._history = dict(history)
        self._history_scales = self._scales()
        self.cache.clear()

    def _scales(self) -> list[float] | None:
        """Per agent, the factor its history applies to its score (None: no history at all)."""
        cfg = self.config
        rates = [self._history_of(a.name) for a in self._agents]
        if all(r is None for r in rates):
            return None
        return [
            1.0 if r is None else (1.0 - cfg.history_weight) + cfg.history_weight * r for r in rates
        ]

    def _history_of(self, name: str) -> float | None:
        stats = self._history.get(name)
        if stats is None or stats.executions < self.config.history_min_executions:
            return None
        return max(0.0, min(1.0, stats.success_rate))

    def score(
        self,
        prompt: str,
        context: Mapping[str, Any] | None = None,
        *,
        exclude: Iterable[str] = (),
        limit: int | None = None,
    ) -> list[Candidate]:
        """Score the routable agents (the fallback agent and ``exclude`` left out), best first.

        Only agents with some evidence (a trigger, a pattern, description words, context) are
        scored in full; the others score 0 and are listed, by name, only to fill ``limit``
        (None: every agent is listed). This keeps routing cost proportional to the evidence,
        not to the size of the registry.
        """
        query = analyze(prompt)
        triggers = self._triggers.score(query)
        bm25, relevance, hits = self._bm25.score(query)
        examples = self._examples.score(query)
        concepts = self._concepts.score(query)
        contexts = self._contexts.score(context)
        excluded = set(exclude)
        active = {i for i, m in enumerate(triggers) if m.score > 0}
        active.update(i for i, r in enumerate(relevance) if r > 0)
        active.update(i for i, m in enumerate(examples) if m.score > 0)
        active.update(i for i, (value, _) in enumerate(concepts) if value > 0)
        active.update(self._patterned)
        active.update(i for i, x in enumerate(contexts or ()) if x > 0)
        # Score every agent with evidence as plain numbers, then build the explained
        # candidates only for the ones listed: cost stays small with many agents.
        ranked: list[tuple[float, float, str, int, float]] = []
        unscoped = "~onefile" not in query.concepts and not (context and context.get("files"))
        cfg = self.config
        weight = cfg.example_weight
        scales = self._history_scales
        for i in active:
            name = self._agents[i].name
            if name in excluded:
                continue
            t = triggers[i].score
            pattern = self._patterns[i]
            if pattern is not None and t < PATTERN_SCORE and pattern.search(prompt):
                t = PATTERN_SCORE
            confidence = combine(t, relevance[i], weight * examples[i].score, concepts[i][0])
            if unscoped and i in self._one_file:
                confidence *= _SCOPE
            context_score = contexts[i] if contexts is not None else 0.0
            confidence += cfg.context_weight * context_score * (1.0 - confidence)
            if scales is not None:
                confidence *= scales[i]
            if confidence > 0 or bm25[i] > 0:
                ranked.append((-confidence, -bm25[i], name, i, t))
        ranked.sort()
        kept = ranked if limit is None else ranked[:limit]
        candidates = []
        for negative, negative_bm25, name, i, t in kept:
            matched = triggers[i].matched
            if t > triggers[i].score:
                matched = (*matched, "(pattern)")
            caps = tuple(cap for cap, terms in self._capability_terms[i] if terms & hits[i])
            candidates.append(
                Candidate(
                    agent=name,
                    confidence=-negative,
                    trigger=t,
                    capability=relevance[i],
                    context=None if contexts is None else contexts[i],
                    history=self._history_of(name),
                    matched_triggers=matched,
                    matched_capabilities=caps,
                    bm25=-negative_bm25,
                    example=examples[i].score,
                    matched_example=examples[i].example,
                    concept=concepts[i][0],
                    concepts=concepts[i][1],
                    scope=_SCOPE if unscoped and i in self._one_file else 1.0,
                )
            )
        scored = {name for _, _, name, _, _ in ranked}
        for index in self._by_name:
            if limit is not None and len(candidates) >= limit:
                break
            name = self._agents[index].name
            if name not in scored and name not in excluded:
                candidates.append(
                    Candidate(
                        agent=name,
                        confidence=0.0,
                        trigger=0.0,
                        capability=0.0,
                        context=None if contexts is None else contexts[index],
                        history=self._history_of(name),
                    )
                )
        return candidates

    def route(
        self,
        prompt: str,
        context: Mapping[str, Any] | None = None,
        *,
        exclude: Iterable[str] = (),
        use_cache: bool = True,
    ) -> RouteResult:
        """Choose an agent for ``prompt``.

        Args:
            prompt: the user's request (only its first :data:`MAX_PROMPT_CHARS` are read).
            context: optional request context (``files``, ``domain``...).
            exclude: agents not to choose (the polymorphic agent excludes itself).
            use_cache: answer identical requests from the TTL cache.

        Returns:
            The selected agent, its confidence in [0, 1], the strategy, the top alternatives
            with their scores and a short reasoning.
        """
        started = time.perf_counter()
        prompt = prompt[:MAX_PROMPT_CHARS]  # the signals of a request are in its first lines
        excluded = frozenset(exclude)
        key = (prompt.strip().lower(), _context_key(context), excluded)
        if use_cache:
            cached = self.cache.get(key)
            if cached is not None:
                elapsed = (time.perf_counter() - started) * 1000
                return replace(cached, cache_hit=True, routing_time_ms=elapsed)
        result = self._decide(prompt, context, excluded)
        result = replace(result, routing_time_ms=(time.perf_counter() - started) * 1000)
        if use_cache:
            self.cache.put(key, result)
        return result

    def _decide(
        self, prompt: str, context: Mapping[str, Any] | None, excluded: frozenset[str]
    ) -> RouteResult:
        cfg = self.config
        candidates = self.score(prompt, context, exclude=excluded, limit=cfg.max_alternatives + 1)
        mentioned = explicit_mention(prompt, self.registry.resolve_name)
        if mentioned is not None and mentioned not in excluded:
            chosen = next((c for c in candidates if c.agent == mentioned), None)
            others = tuple(c for c in candidates if c.agent != mentioned)[: cfg.max_alternatives]
            return RouteResult(
                selected=mentioned,
                confidence=1.0,
                strategy="explicit",
                is_fallback=False,
                reasoning=f"the request names {mentioned!r} explicitly",
                alternatives=others,
                chosen=chosen,
                routing_time_ms=0.0,
            )
        best = candidates[0] if candidates else None
        runner_up = candidates[1] if len(candidates) > 1 else None
        confidence = (
            0.0
            if best is None
            else decision_confidence(
                best.confidence,
                0.0 if runner_up is None else runner_up.confidence,
                cfg.margin_weight,
            )
        )
        margin = (
            ""
            if best is None or runner_up is None or runner_up.confidence <= 0
            else f"; next {runner_up.agent!r} at {runner_up.confidence:.2f}, "
            f"so confidence {confidence:.2f}"
        )
        if best is not None:
            share, missing = self._concepts.spread(analyze(prompt), self._index[best.agent])
            if missing:
                # one agent does the whole of a multi-part request with probability about
                # share (what it covers) times share (that the rest is incidental)
                confidence *= share * share
                margin += (
                    f"; the request also asks for {' '.join(missing)}, which other agents "
                    f"cover (a multi-part request), so confidence x{share:.2f}^2 = "
                    f"{confidence:.2f}"
                )
        if (
            best is not None
            and TASK_CONCEPT in analyze(prompt).concepts
            and not self._concepts.has(self._index[best.agent], TASK_CONCEPT)
        ):
            confidence *= _TASK_FACTOR
            margin += (
                f"; the request asks for work {best.agent!r} does not do (it makes or "
                f"changes something, or asks general knowledge), so confidence "
                f"x{_TASK_FACTOR:.2f} = {confidence:.2f}"
            )
        if best is None or confidence < cfg.min_confidence:
            reason = (
                "no agent is registered"
                if best is None
                else f"best candidate {best.agent!r} scored {best.confidence:.2f} "
                f"({best.reason()}){margin}, below the threshold {cfg.min_confidence:.2f}"
            )
            return RouteResult(
                selected=cfg.fallback_agent,
                confidence=confidence,
                strategy="fallback",
                is_fallback=True,
                reasoning=f"fell back to {cfg.fallback_agent!r}: {reason}",
                alternatives=tuple(candidates[: cfg.max_alternatives]),
                chosen=None,
                routing_time_ms=0.0,
            )
        strategy = _strategy(best)
        return RouteResult(
            selected=best.agent,
            confidence=confidence,
            strategy=strategy,
            is_fallback=False,
            reasoning=f"{best.agent!r} at {best.confidence:.2f}: {best.reason()}{margin}",
            alternatives=tuple(candidates[1 : 1 + cfg.max_alternatives]),
            chosen=best,
            routing_time_ms=0.0,
        )

    def decide(
        self,
        prompt: str,
        *,
        correlation_id: uuid.UUID | str,
        context: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        parent_correlation_id: uuid.UUID | str | None = None,
    ) -> RoutingDecision:
        """Route ``prompt`` and return the routing decision event (not yet published)."""
        result = self.route(prompt, context)
        return result.to_event(
            correlation_id=correlation_id,
            user_request=prompt,
            context=context,
            session_id=session_id,
            parent_correlation_id=parent_correlation_id,
        )

    @classmethod
    def default(cls, config: RouterConfig | None = None) -> Router:
        """A router over the agents shipped with the package."""
        return cls(AgentRegistry.load(), config)
