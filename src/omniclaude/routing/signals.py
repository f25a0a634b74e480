"""The router's signals, each a pure function of the prompt (and context) over a prepared index.

* :func:`explicit_mention` — ``@agent-name`` or "use agent-x": the user chose.
* :class:`TriggerIndex` — activation phrases, exact (in order), unordered, or fuzzy (typos).
* :class:`Bm25Index` — relevance of the prompt to each agent's description, capabilities,
  triggers and examples, over words and concepts.
* :class:`ExampleIndex` — similarity of the prompt to the example prompts of each agent.
* :class:`ContextIndex` — files and domain named in the request context.

Text is analysed once per prompt (:func:`omniclaude.routing.text.analyze`: words, stems,
named files, question forms, concepts); the indexes are built once per registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import translate
from typing import Any

from rapidfuzz import fuzz, process

from omniclaude.routing.concepts import (
    CONCEPTS,
    FORM_CONCEPTS,
    QUESTION_FORMS,
    TASK_CONCEPT,
)
from omniclaude.routing.text import (
    GENERIC_WORDS,
    STOP_WORDS,
    QueryTerms,
    analyze,
    stem,
    tokenize,
)

__all__ = [
    "GENERIC_WORDS",
    "STOP_WORDS",
    "Bm25Index",
    "ConceptIndex",
    "ContextIndex",
    "ExampleIndex",
    "ExampleMatch",
    "QueryTerms",
    "TriggerIndex",
    "TriggerMatch",
    "analyze",
    "explicit_mention",
    "stem",
    "tokenize",
]

_MENTION = re.compile(r"@([a-z0-9][a-z0-9_-]*)")
_USE = re.compile(
    r"\b(?:use|using|with|ask|run|invoke|call|delegate to|hand (?:it|this) to)\s+"
    r"(?:the\s+)?(?:agent\s+)?([a-z0-9][a-z0-9_-]*(?:[- ]agent)?)"
)
_GENERIC_WEIGHT = 0.35
"""How much a word every coding request uses (:data:`GENERIC_WORDS`) counts."""
_MIN_FUZZY = 6
"""Shorter words are never fuzzy-matched ("hello" is not a typo of "shell")."""
_SEMANTIC = frozenset(CONCEPTS) | {c for _, c in QUESTION_FORMS} | FORM_CONCEPTS | {TASK_CONCEPT}
_FORM_WEIGHT = 0.5
"""Concept tokens that say what a request asks for (file kinds excluded)."""
_SHRUNK_SCORE = 0.6
"""A one-word remainder of a longer trigger ("which tests" → "test") found without the
phrase as written counts like part of a phrase, not like the phrase."""
_AFFINITY_POWER = 0.5
"""An agent's affinity for a concept is (parts evoking it / parts evoking its commonest
concept) to this power: a test finder whose parts are mostly about tests has ``~tests`` at 1
and ``~size`` (three parts count tests) at about 0.35."""
_UNKNOWN_WEIGHT = 0.5
"""How much a prompt word no agent knows counts against every agent, relative to the rarest
known word: a request about haiku and autumn that shares only "write" with one agent is not
about that agent."""


def _phrase_terms(text: str) -> tuple[str, ...]:
    return analyze(text).terms


def explicit_mention(text: str, resolve: Any) -> str | None:
    """Return the agent the prompt names explicitly (``@name``, "use name"), or None.

    ``@name`` may use any alias. After a verb ("use", "run", "ask"...) only a name that cannot
    be an ordinary word counts: one with a hyphen (``code-analyzer``) or followed by "agent"
    ("use the security agent"); "run security checks" and "run tests" name no agent.

    Args:
        text: the prompt.
        resolve: ``name -> agent name | None`` (the registry's ``resolve_name``).
    """
    lowered = text.lower()
    candidates = _MENTION.findall(lowered)
    candidates += [
        m.replace(" ", "-") for m in _USE.findall(lowered) if "-" in m or m.endswith(" agent")
    ]
    for candidate in candidates:
        for name in (candidate, candidate.removesuffix("-agent"), f"{candidate}-agent"):
            resolved = resolve(name)
            if resolved is not None:
                return str(resolved)
    return None


class _Vocabulary:
    """Maps a misspelt word to the closest known term (rapidfuzz), with a memo."""

    def __init__(self, terms: Iterable[str], *, cutoff: float = 80.0) -> None:
        known = set(terms)
        self._known = frozenset(known)
        # concept tokens ("~deps") match exactly or not at all: no word is a typo of one
        self.terms = sorted(t for t in known if not t.startswith("~"))
        self._cutoff = cutoff
        self._memo: dict[str, tuple[str, float] | None] = {}

    def closest(self, term: str) -> tuple[str, float] | None:
        """Return ``(known term, similarity 0..1)`` for ``term``, or None when nothing is close."""
        if term in self._known:
            return term, 1.0
        if len(term) < _MIN_FUZZY or term.startswith("~"):
            return None
        if term in self._memo:
            return self._memo[term]
        found = process.extractOne(term, self.terms, scorer=fuzz.ratio, score_cutoff=self._cutoff)
        result = None if found is None else (str(found[0]), float(found[1]) / 100.0)
        if len(self._memo) < 50_000:
            self._memo[term] = result
        return result

    def normalize(self, terms: Sequence[str]) -> list[tuple[str, float]]:
        """Map each term to a known term (exact or fuzzy) with its similarity; drop unknowns."""
        out = []
        for term in terms:
            match = self.closest(term)
            if match is not None:
                out.append(match)
        return out


@dataclass(frozen=True, slots=True)
class TriggerMatch:
    """The best trigger of one agent for a prompt."""

    score: float
    matched: tuple[str, ...] = ()


_NO_TRIGGER = TriggerMatch(0.0)


@dataclass(slots=True)
class TriggerIndex:
    """Activation phrases of every agent, pre-tokenised, with an inverted index by term."""

    phrases: list[list[tuple[str, tuple[str, ...]]]]
    """Per agent (by index): ``(original phrase, stemmed terms)``."""
    by_term: dict[str, list[tuple[int, int]]] = field(init=False)
    vocabulary: _Vocabulary = field(init=False)
    _shrunk: list[dict[int, re.Pattern[str]]] = field(init=False)
    """Per agent: phrases that stop-word removal shrank to one word ("who calls" → "call"),
    with a pattern for the phrase as written."""

    def __post_init__(self) -> None:
        self.by_term = {}
        self._shrunk = [
            {
                number: re.compile(r"\b" + r"\W+".join(map(re.escape, tokenize(p))))
                for number, (p, terms) in enumerate(phrases)
                if len(terms) == 1 and len(tokenize(p)) > 1
            }
            for phrases in self.phrases
        ]
        for agent, phrases in enumerate(self.phrases):
            for number, (_, terms) in enumerate(phrases):
                for term in set(terms):
                    self.by_term.setdefault(term, []).append((agent, number))
        self.vocabulary = _Vocabulary(self.by_term)

    @classmethod
    def build(cls, triggers: Sequence[Sequence[str]]) -> TriggerIndex:
        """Index ``triggers[i]``, the phrases of agent ``i``."""
        phrases = [[(p, terms) for p in agent if (terms := _phrase_terms(p))] for agent in triggers]
        return cls(phrases)

    @staticmethod
    def _phrase_score(
        phrase: tuple[str, ...], seq: Sequence[str | None], sims: Mapping[str, float]
    ) -> float:
        """Score one phrase against the prompt's terms (``None`` marks an unknown word).

        Exact words in order and adjacent: 1.0; all words within a short span: 0.9; all words
        anywhere: 0.75 (times their mean similarity when fuzzy); some words: at most 0.6.
        """
        present = [sims.get(term, 0.0) for term in phrase]
        found = sum(1 for s in present if s > 0)
        coverage = sum(present) / len(phrase)
        if found < len(phrase):
            # Some words of a multi-word phrase: weak evidence, growing with coverage.
            return 0.6 * coverage * coverage
        n = len(phrase)
        if all(s == 1.0 for s in present) and any(
            tuple(seq[i : i + n]) == phrase for i in range(len(seq) - n + 1)
        ):
            return 1.0
        positions = [i for i, term in enumerate(seq) if term in phrase]
        span = positions[-1] - positions[0] + 1 if positions else n
        return coverage * (0.9 if span <= n + 2 else 0.75)

    def score(self, query: QueryTerms) -> list[TriggerMatch]:
        """Return, per agent, its best trigger score in [0, 1] and the triggers that matched."""
        sims: dict[str, float] = {}
        seq: list[str | None] = []
        for term in query.words:
            match = self.vocabulary.closest(term)
            seq.append(None if match is None else match[0])
            if match is not None:
                sims[match[0]] = max(match[1], sims.get(match[0], 0.0))
        candidates = {pair for term in sims for pair in self.by_term.get(term, ())}
        best = [0.0] * len(self.phrases)
        matched: dict[int, list[str]] = {}
        for agent, number in sorted(candidates):
            original, phrase = self.phrases[agent][number]
            value = self._phrase_score(phrase, seq, sims)
            shrunk = self._shrunk[agent].get(number)
            # "who calls" is "calls" once stop words go: it counts fully only verbatim
            if shrunk is not None and value > _SHRUNK_SCORE and not shrunk.search(query.text):
                value = _SHRUNK_SCORE * value
            if value >= 0.5:
                matched.setdefault(agent, []).append(original)
            best[agent] = max(best[agent], value)
        out = [_NO_TRIGGER] * len(self.phrases)
        for agent, value in enumerate(best):
            if value > 0.0:
                out[agent] = TriggerMatch(value, tuple(matched.get(agent, ())))
        return out


@dataclass(slots=True)
class Bm25Index:
    """Okapi BM25 over one document per agent, with precomputed per-term weights.

    ``postings[term]`` lists ``(agent index, weight)`` so scoring a prompt touches only the
    agents that share a term with it. The relevance in [0, 1] used as a confidence is the
    IDF-weighted share of the prompt's known terms that the agent's document covers, scaled by
    the amount of distinctive vocabulary matched (see :meth:`score`); raw BM25 breaks ties.
    """

    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    size: int
    evidence_scale: float = 1.0
    vocabulary: _Vocabulary = field(init=False)
    max_idf: float = field(init=False)

    def __post_init__(self) -> None:
        self.vocabulary = _Vocabulary(self.postings)
        self.max_idf = max(self.idf.values(), default=1.0)

    @classmethod
    def build(
        cls, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75
    ) -> Bm25Index:
        """Index ``documents[i]`` (stemmed terms of agent ``i``)."""
        n = len(documents)
        lengths = [len(doc) for doc in documents]
        average = (sum(lengths) / n) if n else 1.0
        df: dict[str, int] = {}
        for doc in documents:
            for term in set(doc):
                df[term] = df.get(term, 0) + 1
        idf = {t: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        postings: dict[str, list[tuple[int, float]]] = {}
        for index, doc in enumerate(documents):
            counts: dict[str, int] = {}
            for term in doc:
                counts[term] = counts.get(term, 0) + 1
            norm = k1 * (1 - b + b * lengths[index] / (average or 1.0))
            for term, tf in counts.items():
                weight = idf[term] * tf * (k1 + 1) / (tf + norm)
                postings.setdefault(term, []).append((index, weight))
        return cls(postings, idf, n)

    def score(self, query: QueryTerms) -> tuple[list[float], list[float], list[set[str]]]:
        """Score every agent.

        Returns:
            ``(bm25, relevance, matched terms)`` per agent: the raw BM25 score, a relevance in
            [0, 1] (IDF-weighted coverage of the prompt's known terms), and which terms hit.
        """
        bm25 = [0.0] * self.size
        covered = [0.0] * self.size
        hits: list[set[str]] = [set() for _ in range(self.size)]
        total = 0.0
        seen: set[str] = set()
        for word in dict.fromkeys(query.features):
            match = self.vocabulary.closest(word)
            if match is None:
                total += _UNKNOWN_WEIGHT * (_GENERIC_WEIGHT if word in GENERIC_WORDS else 1.0)
                continue
            term, sim = match
            if term in seen:
                continue
            seen.add(term)
            weight_of_term = self.idf[term] / self.max_idf * sim
            if term in GENERIC_WORDS:
                weight_of_term *= _GENERIC_WEIGHT
            total += weight_of_term
            for index, weight in self.postings[term]:
                bm25[index] += weight * sim
                covered[index] += weight_of_term
                hits[index].add(term)
        if total == 0.0:
            return bm25, [0.0] * self.size, hits
        # Coverage: how much of the prompt's distinctive vocabulary the agent explains.
        # Evidence: how much distinctive vocabulary it explains at all (one rare word counts
        # less than three), independent of the registry's size since IDF is normalised.
        relevance = [(c / total) * (1.0 - math.exp(-c / self.evidence_scale)) for c in covered]
        return bm25, relevance, hits


@dataclass(slots=True)
class ConceptIndex:
    """The concepts (:mod:`omniclaude.routing.concepts`) each agent's definition evokes.

    An agent *has* a concept with an affinity in (0, 1]: the number of parts of its definition
    (its name and domain, each description clause, capability, trigger and example) that
    evoke it, over :data:`_FULL_AFFINITY`. A code searcher whose every part is about searching
    has ``~search`` fully; a test finder with one example saying "matching" barely. A
    prompt's score for an agent is the IDF-weighted (IDF over the affinities) share of the
    prompt's concepts that the agent has, times a saturation in how much it has: one concept
    only this agent has fully scores about 0.76; the same concept shared with three other
    agents, or one of three concepts the prompt names (a multi-part request), much less.
    """

    concepts: list[frozenset[str]]
    affinity: list[dict[str, float]] = field(default_factory=list)
    """Per agent, concept → affinity; empty: 1.0 for every concept in ``concepts``."""
    idf: dict[str, float] = field(init=False)
    saturation: float = 0.7
    owners: dict[str, tuple[int, ...]] = field(init=False)
    """Concept → the agents whose definition evokes it."""

    def __post_init__(self) -> None:
        n = len(self.concepts)
        if not self.affinity:
            self.affinity = [dict.fromkeys(found, 1.0) for found in self.concepts]
        owners: dict[str, list[int]] = {}
        df: dict[str, float] = {}
        for index, found in enumerate(self.affinity):
            for c, value in found.items():
                owners.setdefault(c, []).append(index)
                df[c] = df.get(c, 0.0) + value
        self.owners = {c: tuple(agents) for c, agents in owners.items()}
        raw = {c: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for c, d in df.items()}
        top = max(raw.values(), default=1.0)
        self.idf = {c: v / top for c, v in raw.items()}

    @classmethod
    def build(cls, documents: Sequence[Iterable[str]]) -> ConceptIndex:
        """Index the concept tokens among each agent's document features (affinity 1)."""
        return cls([frozenset(f for f in doc if f in _SEMANTIC) for doc in documents])

    @classmethod
    def from_parts(cls, agents: Sequence[Sequence[Iterable[str]]]) -> ConceptIndex:
        """Index each agent's definition parts (the features of each), with affinities."""
        affinity: list[dict[str, float]] = []
        for parts in agents:
            counts: dict[str, int] = {}
            for part in parts:
                for c in set(part) & _SEMANTIC:
                    counts[c] = counts.get(c, 0) + 1
            top = max(counts.values(), default=1)
            affinity.append({c: (k / top) ** _AFFINITY_POWER for c, k in counts.items()})
        return cls([frozenset(found) for found in affinity], affinity)

    def score(self, query: QueryTerms) -> list[tuple[float, tuple[str, ...]]]:
        """Return, per agent, its concept score in [0, 1] and the concepts it shares."""
        asked = [c for c in query.concepts if c in _SEMANTIC]
        if not asked:
            return [(0.0, ())] * len(self.concepts)
        # how a question is asked counts half as much as what it is about, when the request
        # says what it is about; alone, the form is all there is to go by
        form = _FORM_WEIGHT if any(c not in FORM_CONCEPTS for c in asked) else 1.0
        scale = {c: form if c in FORM_CONCEPTS else 1.0 for c in asked}
        # a concept no agent has still counts in the prompt's total: the request asks for it
        total = sum(self.idf.get(c, 1.0) * scale[c] for c in asked)
        out: list[tuple[float, tuple[str, ...]]] = [(0.0, ())] * len(self.concepts)
        for index in {i for c in asked for i in self.owners.get(c, ())}:
            found = self.affinity[index]
            shared = tuple(c for c in asked if c in found)
            weight = sum(self.idf[c] * scale[c] * found[c] for c in shared)
            out[index] = ((weight / total) * (1.0 - math.exp(-weight / self.saturation)), shared)
        return out

    def has(self, index: int, concept: str) -> bool:
        """Whether agent ``index``'s definition evokes ``concept``."""
        return concept in self.concepts[index]

    def spread(self, query: QueryTerms, index: int) -> tuple[float, tuple[str, ...]]:
        """How much of a multi-domain request agent ``index`` covers.

        Returns:
            ``(share, missing)``: the IDF-weighted share of the prompt's domain concepts
            (:data:`~omniclaude.routing.concepts.FORM_CONCEPTS` left out) the agent has,
            counting only concepts some agent has; and the concepts other agents have and it
            lacks. ``(1.0, ())`` for a request about one domain, or one that does not join
            several asks (no "and", comma, "then"...: "how to install this from the docs" is
            one ask). "Check security, docs and dependencies" spans three agents: any one of
            them covers a third of it.
        """
        asked = [
            c
            for c in query.concepts
            if c in _SEMANTIC and c not in FORM_CONCEPTS and c != TASK_CONCEPT
        ]
        if len(asked) < 2 or query.asks < 2:
            return 1.0, ()
        mine = self.concepts[index]
        owned = [c for c in asked if c in self.idf]
        missing = tuple(c for c in owned if c not in mine)
        total = sum(self.idf[c] for c in owned)
        if not missing or total == 0.0:
            return 1.0, ()
        return sum(self.idf[c] for c in owned if c in mine) / total, missing


@dataclass(frozen=True, slots=True)
class ExampleMatch:
    """An agent's most similar example prompt and the cosine similarity to it."""

    score: float
    example: str | None = None


@dataclass(slots=True)
class ExampleIndex:
    """Example prompts of every agent as IDF-weighted feature vectors (nearest neighbour).

    A prompt's score for an agent is its cosine similarity to the agent's closest example,
    over words and concepts (:func:`analyze`). Common coding words count for little
    (:data:`GENERIC_WORDS`), and a feature most examples share has little IDF. Scoring touches
    only the examples that share a feature with the prompt.
    """

    examples: list[list[str]]
    """Per agent (by index): its example prompts."""
    postings: dict[str, list[tuple[int, float]]] = field(init=False)
    owner: list[tuple[int, str]] = field(init=False)
    idf: dict[str, float] = field(init=False)
    vocabulary: _Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.owner = []
        features: list[set[str]] = []
        for agent, prompts in enumerate(self.examples):
            for prompt in prompts:
                found = set(analyze(prompt, definition=True).features)
                if found:
                    features.append(found)
                    self.owner.append((agent, prompt))
        n = len(features)
        df: dict[str, int] = {}
        for found in features:
            for f in found:
                df[f] = df.get(f, 0) + 1
        self.idf = {f: math.log(1.0 + n / d) for f, d in df.items()}
        vectors = [self._weigh(found, 1.0) for found in features]
        self.postings = {}
        for number, vector in enumerate(vectors):
            for f, w in vector.items():
                self.postings.setdefault(f, []).append((number, w))
        self.vocabulary = _Vocabulary(self.postings)

    def _weigh(
        self, found: Iterable[str] | Mapping[str, float], default: float, *, unknown: float = 0.0
    ) -> dict[str, float]:
        """An L2-normalised vector; ``unknown`` (sum of squared weights of unknown words, each
        counted as :data:`_UNKNOWN_WEIGHT` of the rarest feature) only lengthens it."""
        sims = found if isinstance(found, Mapping) else dict.fromkeys(found, default)
        vector = {
            f: self.idf[f] * sim * (_GENERIC_WEIGHT if f in GENERIC_WORDS else 1.0)
            for f, sim in sims.items()
            if f in self.idf
        }
        rare = _UNKNOWN_WEIGHT * max(self.idf.values(), default=1.0)
        norm = math.sqrt(sum(w * w for w in vector.values()) + unknown * rare * rare) or 1.0
        return {f: w / norm for f, w in vector.items()}

    def score(self, query: QueryTerms) -> list[ExampleMatch]:
        """Return, per agent, its best cosine similarity in [0, 1] and that example."""
        sims: dict[str, float] = {}
        unknown = 0.0
        for word in dict.fromkeys(query.features):
            match = self.vocabulary.closest(word)
            if match is None:
                unknown += (_GENERIC_WEIGHT if word in GENERIC_WORDS else 1.0) ** 2
                continue
            sims[match[0]] = max(match[1], sims.get(match[0], 0.0))
        vector = self._weigh(sims, 1.0, unknown=unknown)
        dots: dict[int, float] = {}
        for f, w in vector.items():
            for number, weight in self.postings.get(f, ()):
                dots[number] = dots.get(number, 0.0) + w * weight
        best: list[ExampleMatch] = [ExampleMatch(0.0)] * len(self.examples)
        for number, value in dots.items():
            agent, prompt = self.owner[number]
            if value > best[agent].score:
                best[agent] = ExampleMatch(min(1.0, value), prompt)
        return best


def _specificity(pattern: str) -> int:
    """How specific a glob is: its literal characters (``test_*.py`` 8, ``*.py`` 3)."""
    return max(1, sum(1 for ch in pattern if ch not in "*?[]!"))


class ContextIndex:
    """Scores the request context (``files``, ``domain``) against every agent.

    Each file is shared among the agents whose ``file_patterns`` match it, in proportion to
    how specific their best matching pattern is: ``test_*.py`` claims a test file more
    strongly than ``*.py`` does, and a file only one agent claims is strong evidence for it.
    A ``domain`` equal to the agent's scores 1.
    """

    def __init__(self, agents: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index ``(domain, file patterns)`` per agent."""
        self._domains = [domain.lower() for domain, _ in agents]
        self._patterns = [
            [(re.compile(translate(p)), _specificity(p)) for p in patterns]
            for _, patterns in agents
        ]
        self._any = [
            re.compile("|".join(f"(?:{translate(p)})" for p in patterns)) if patterns else None
            for _, patterns in agents
        ]

    def _claim(self, index: int, name: str, base: str) -> int:
        return max(
            (w for regex, w in self._patterns[index] if regex.match(name) or regex.match(base)),
            default=0,
        )

    def score(
        self, context: Mapping[str, Any] | None, *, max_files: int = 50
    ) -> list[float] | None:
        """Return a score in [0, 1] per agent, or None when the context says nothing."""
        if not context:
            return None
        wanted = context.get("domain")
        domain = wanted.lower() if isinstance(wanted, str) and wanted else None
        paths = context.get("files")
        files = (
            [str(p).replace("\\", "/") for p in paths[:max_files]]
            if isinstance(paths, list)
            else []
        )
        if domain is None and not files:
            return None
        scores = [1.0 if domain is not None and d == domain else 0.0 for d in self._domains]
        if files:
            shares = [0.0] * len(self._any)
            for name in files:
                base = name.rsplit("/", 1)[-1]
                claims = {
                    i: self._claim(i, name, base)
                    for i, regex in enumerate(self._any)
                    if regex is not None and (regex.match(name) or regex.match(base))
                }
                total = sum(claims.values())
                for i, weight in claims.items():
                    shares[i] += weight / total
            scores = [max(s, share / len(files)) for s, share in zip(scores, shares, strict=True)]
        return scores
