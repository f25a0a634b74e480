"""The router's signals, each a pure function of the prompt (and context) over a prepared index.

* :func:`explicit_mention` — ``@agent-name`` or "use agent-x": the user chose.
* :class:`TriggerIndex` — activation phrases, exact (in order), unordered, or fuzzy (typos).
* :class:`Bm25Index` — relevance of the prompt to each agent's description and capabilities.
* :class:`ContextIndex` — files and domain named in the request context.

Text is lower-cased, split on non-alphanumerics, stripped of stop words and lightly stemmed
(:func:`stem`), once per prompt (:func:`analyze`); the indexes are built once per registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import translate
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

__all__ = [
    "GENERIC_WORDS",
    "STOP_WORDS",
    "Bm25Index",
    "ContextIndex",
    "QueryTerms",
    "TriggerIndex",
    "TriggerMatch",
    "analyze",
    "explicit_mention",
    "stem",
    "tokenize",
]

_WORD = re.compile(r"[a-z0-9]+")
_MENTION = re.compile(r"@([a-z0-9][a-z0-9_-]*)")
_USE = re.compile(
    r"\b(?:use|using|with|ask|run|invoke|call|delegate to|hand (?:it|this) to)\s+"
    r"(?:the\s+)?(?:agent\s+)?([a-z0-9][a-z0-9_-]*(?:[- ]agent)?)"
)

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "is",
        "are",
        "be",
        "been",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "they",
        "them",
        "their",
        "he",
        "she",
        "of",
        "to",
        "in",
        "on",
        "for",
        "at",
        "by",
        "from",
        "with",
        "as",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "not",
        "no",
        "please",
        "pls",
        "hey",
        "hi",
        "kindly",
        "just",
        "some",
        "any",
        "all",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "there",
        "here",
        "into",
        "about",
        "over",
        "up",
        "out",
        "also",
        "want",
        "need",
        "like",
        "let",
        "lets",
        "get",
        "got",
        "give",
        "make",
        "sure",
        "now",
        "quick",
        "quickly",
        "help",
        "us",
    ]
)
"""Words that carry no routing information."""

# Longest suffix first; (suffix, replacement). A tiny Porter-like stemmer: enough to make
# "analyze/analyzes/analyzing/analyzer/analysis" and "dependency/dependencies" meet.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("mentations", "ment"), ("mentation", "ment"), ("ications", "y"), ("ication", "y"),
    ("ified", "ify"), ("ifies", "ify"), ("ysis", "yz"), ("yses", "yz"), ("yse", "yz"),
    ("ise", "iz"), ("ising", "iz"),
    ("ised", "iz"), ("isation", "iz"), ("ization", "iz"), ("ations", "ate"), ("ation", "ate"),
    ("encies", "ency"), ("ies", "y"), ("ied", "y"), ("ings", ""), ("ing", ""), ("ers", ""),
    ("er", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", ""), ("e", ""),
)  # fmt: skip
_MIN_STEM = 3
_MIN_FUZZY = 6
"""Shorter words are never fuzzy-matched ("hello" is not a typo of "shell")."""


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return a light stem of a lower-case word (suffix stripping; not a full Porter stemmer)."""
    if len(word) <= _MIN_STEM or word.isdigit():
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= _MIN_STEM:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            stemmed = word[: len(word) - len(suffix)] + replacement
            # "analyz" + "e" and "analyz" + "er" must meet; strip a trailing "e" left behind.
            return (
                stemmed[:-1] if stemmed.endswith("e") and len(stemmed) > _MIN_STEM + 1 else stemmed
            )
    return word


GENERIC_WORDS = frozenset(
    stem(w)
    for w in [
        "code",
        "file",
        "files",
        "line",
        "lines",
        "show",
        "find",
        "list",
        "check",
        "look",
        "tell",
        "run",
        "use",
        "work",
        "thing",
        "things",
        "anything",
        "something",
        "everything",
        "report",
        "see",
        "go",
        "through",
        "these",
        "project",
        "repo",
        "repository",
        "source",
        "tree",
        "src",
        "module",
        "modules",
        "package",
    ]
)
"""Words every coding request uses: they count for little in description relevance."""
_GENERIC_WEIGHT = 0.35


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case alphanumeric words (stop words kept)."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A prompt prepared once for every signal."""

    text: str
    """The lower-cased prompt."""
    terms: tuple[str, ...]
    """Stemmed content words, in order (stop words removed)."""


def analyze(text: str) -> QueryTerms:
    """Prepare a prompt: lower-case, tokenize, drop stop words, stem."""
    lowered = text.lower()
    terms = tuple(stem(w) for w in _WORD.findall(lowered) if len(w) > 1 and w not in STOP_WORDS)
    return QueryTerms(lowered, terms)


def _phrase_terms(text: str) -> tuple[str, ...]:
    return analyze(text).terms


def explicit_mention(text: str, resolve: Any) -> str | None:
    """Return the agent the prompt names explicitly (``@name``, "use name"), or None.

    Args:
        text: the prompt.
        resolve: ``name -> agent name | None`` (the registry's ``resolve_name``).
    """
    lowered = text.lower()
    candidates = _MENTION.findall(lowered)
    candidates += [m.replace(" ", "-") for m in _USE.findall(lowered)]
    for candidate in candidates:
        for name in (candidate, candidate.removesuffix("-agent"), f"{candidate}-agent"):
            resolved = resolve(name)
            if resolved is not None:
                return str(resolved)
    return None


class _Vocabulary:
    """Maps a misspelt word to the closest known term (rapidfuzz), with a memo."""

    def __init__(self, terms: Iterable[str], *, cutoff: float = 80.0) -> None:
        self.terms = sorted(set(terms))
        self._known = frozenset(self.terms)
        self._cutoff = cutoff
        self._memo: dict[str, tuple[str, float] | None] = {}

    def closest(self, term: str) -> tuple[str, float] | None:
        """Return ``(known term, similarity 0..1)`` for ``term``, or None when nothing is close."""
        if term in self._known:
            return term, 1.0
        if len(term) < _MIN_FUZZY:
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


@dataclass(slots=True)
class TriggerIndex:
    """Activation phrases of every agent, pre-tokenised, with an inverted index by term."""

    phrases: list[list[tuple[str, tuple[str, ...]]]]
    """Per agent (by index): ``(original phrase, stemmed terms)``."""
    by_term: dict[str, list[tuple[int, int]]] = field(init=False)
    vocabulary: _Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.by_term = {}
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
        for term in query.terms:
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
            if value >= 0.5:
                matched.setdefault(agent, []).append(original)
            best[agent] = max(best[agent], value)
        return [TriggerMatch(best[i], tuple(matched.get(i, ()))) for i in range(len(self.phrases))]


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
        for term, sim in self.vocabulary.normalize(query.terms):
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
