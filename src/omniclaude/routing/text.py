"""Text analysis for routing: words, stems, named files, question forms and concepts.

:func:`analyze` prepares a prompt once for every signal:

* ``terms`` — lower-cased words, stop words removed, stemmed (:func:`stem`: inflections and
  derivations, so "installation" meets "install" and "definition" meets "defined");
* ``words`` — the terms outside named files and quoted literals (what triggers match);
* ``files`` — file names the prompt writes (``setup.cfg``, ``docs/sdk.md``, ``Makefile``);
* ``features`` — what the lexical indexes match: the terms with each named file replaced by
  ``~file`` and its kind (``~manifest``, ``~doc``, ``~test``, ``~code``, ``~config``), each
  quoted literal by ``~literal``, code identifiers marked ``~ident``, plus the concepts
  (:mod:`omniclaude.routing.concepts`) that the words and question forms of the prompt evoke
  (``~deps``, ``~locate``, ``~onefile``, ``~task``...). Agents' descriptions, capabilities,
  triggers and examples are analysed the same way, so a paraphrase meets an agent through a
  shared concept even when it shares no word with it;
* ``asks`` — how many list items of the request evoke a concept of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "GENERIC_WORDS",
    "STOP_WORDS",
    "QueryTerms",
    "analyze",
    "concepts_of",
    "file_kinds",
    "set_concepts",
    "stem",
    "tokenize",
]

_WORD = re.compile(r"[a-z0-9]+")

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
        "one",
        "ones",
        "have",
        "has",
        "had",
        "having",
        "many",
        "much",
        "each",
        "every",
        "per",
        "more",
        "most",
        "very",
        "really",
        "actually",
        "anything",
        "anywhere",
        "something",
        "somewhere",
        "stuff",
    ]
)
"""Words that carry no routing information."""

_MIN_STEM = 3
_VOWELS = frozenset("aeiouy")
_UNDOUBLE = frozenset("bdgmnprt")
"""A doubled final consonant left by "-ing"/"-ed" is undoubled ("mapped", "running")."""
# (suffix, replacement, shortest remainder) in the order tried; the first that fits is taken.
# Derivations meet their root: "installation"/"install", "definition"/"defined",
# "dependency"/"depend", "reference"/"referenced", "vulnerable"/"vulnerability",
# "callers"/"call", "implementation"/"implement" ("coverage" stays apart from "cover").
_DERIVATIONS: tuple[tuple[str, str, int], ...] = (
    ("ication", "y", 3), ("ization", "iz", 3), ("isation", "iz", 3), ("mentation", "ment", 3),
    ("ation", "at", 3), ("ition", "", 3), ("ibility", "", 4), ("ability", "", 4),
    ("ency", "", 4), ("enc", "", 4), ("abl", "", 4), ("ysis", "yz", 2), ("ys", "yz", 3),
    ("ment", "", 4), ("ness", "", 3), ("at", "", 4), ("er", "", 3),
    ("ly", "", 4), ("ariz", "ary", 3), ("is", "iz", 4),
)  # fmt: skip


_IRREGULAR = {"used": "use", "using": "use", "uses": "use", "explanation": "explain"}


def _inflection(word: str) -> str:
    """Strip a plural, "-ing"/"-ed" and a final "e" ("classes", "analyzing", "types")."""
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > _MIN_STEM:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        rest = word[: -len(suffix)]
        if word.endswith(suffix) and len(rest) >= _MIN_STEM and _VOWELS & set(rest):
            if len(rest) > _MIN_STEM and rest[-1] == rest[-2] and rest[-1] in _UNDOUBLE:
                rest = rest[:-1]
            word = rest
            break
    if word.endswith("e") and len(word) > _MIN_STEM + 1:
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return a light stem of a lower-case word (a small Porter-like stemmer).

    Inflections go first ("tests", "tested", "testing" → "test"), then up to two derivational
    suffixes, so the word forms a description and a prompt use meet.
    """
    if len(word) <= _MIN_STEM or not word.isalpha():
        return word
    word = _IRREGULAR.get(word) or _inflection(word)
    for _ in range(2):
        for suffix, replacement, shortest in _DERIVATIONS:
            if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
                word = word[: len(word) - len(suffix)] + replacement
                if len(word) > _MIN_STEM and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
                    word = word[:-1]
                break
        else:
            break
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


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case alphanumeric words (stop words kept)."""
    return _WORD.findall(text.lower())


_EXTENSIONS = (
    "py|pyi|toml|cfg|ini|json|yaml|yml|md|rst|txt|lock|js|jsx|ts|tsx|go|rs|java|kt|c|cc|cpp|h|"
    "hpp|sh|env|sql|html|css|xml|conf|in|mod|gradle|example|ipynb|csv"
)
_FILE = re.compile(
    rf"(?<![\w@/.-])((?:[\w.-]+/)*(?:[\w-]*\.)+(?:{_EXTENSIONS})|(?:[\w.-]+/)*"
    r"(?:makefile|dockerfile|pipfile|gemfile|procfile|jenkinsfile|vagrantfile))(?![\w/-])"
)
"""A file name written in a prompt: with a known extension, or a well-known bare name."""
_IDENTIFIER = re.compile(
    r"(?<![\w.])(?:[A-Za-z_][A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+"
    r"|[A-Za-z_]\w*\.[A-Za-z_][\w.]*|\w+\(\))(?:\(\))?(?![\w.])"
)
"""A code identifier: snake_case, CamelCase, dotted (``asyncio.sleep``) or a call (``f()``)."""


_concepts: Mapping[str, Sequence[str]] | None = None


def set_concepts(concepts: Mapping[str, Sequence[str]] | None) -> None:
    """Replace the concept map (None: the shipped :data:`~omniclaude.routing.concepts.CONCEPTS`).

    For evaluation (``agents eval --strict-vocabulary``); clears the analysis caches, so build
    routers after calling it.
    """
    global _concepts  # one process-wide map, swapped only by the evaluation
    _concepts = concepts
    _concept_phrases.cache_clear()
    analyze.cache_clear()


@lru_cache(maxsize=1)
def _concept_phrases() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    from omniclaude.routing.concepts import CONCEPTS

    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for concept, phrases in (CONCEPTS if _concepts is None else _concepts).items():
        for phrase in phrases:
            words = tuple(stem(w) for w in _WORD.findall(phrase.lower()))
            if words and (words, concept) not in by_first.get(words[0], []):
                by_first.setdefault(words[0], []).append((words, concept))
    for entries in by_first.values():
        entries.sort(key=lambda e: -len(e[0]))
    return by_first


@lru_cache(maxsize=1)
def _question_forms() -> list[tuple[re.Pattern[str], str]]:
    from omniclaude.routing.concepts import QUESTION_FORMS

    return [(re.compile(pattern), concept) for pattern, concept in QUESTION_FORMS]


@lru_cache(maxsize=1)
def _file_kinds() -> list[tuple[re.Pattern[str], str]]:
    from fnmatch import translate

    from omniclaude.routing.concepts import FILE_KINDS

    return [(re.compile(translate(glob)), kind) for glob, kind in FILE_KINDS]


@lru_cache(maxsize=4096)
def file_kinds(name: str) -> tuple[str, ...]:
    """``~file`` and the kinds (``~manifest``, ``~doc``, ...) of a file name, lower-cased."""
    base = name.rsplit("/", 1)[-1]
    kinds = ["~file"]
    for regex, kind in _file_kinds():
        if kind not in kinds and (regex.match(base) or regex.match(name)):
            kinds.append(kind)
    return tuple(kinds)


def concepts_of(words: list[str]) -> list[str]:
    """The concepts that a sequence of lower-cased words (stop words kept) evokes, in order.

    Where phrases overlap the longest wins and its words are used up: "docstring coverage"
    evokes ``~docs`` only, not ``~tests`` through "coverage".
    """
    stems = [stem(w) for w in words]
    phrases = _concept_phrases()
    found: list[str] = []
    i = 0
    while i < len(stems):
        width = 1
        for phrase, concept in phrases.get(stems[i], ()):  # longest first
            if tuple(stems[i : i + len(phrase)]) == phrase:
                if concept not in found:
                    found.append(concept)
                width = len(phrase)
                break
        i += width
    return found


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A prompt prepared once for every signal."""

    text: str
    """The lower-cased prompt."""
    terms: tuple[str, ...]
    """Stemmed content words, in order (stop words removed)."""
    words: tuple[str, ...] = ()
    """The terms outside named files and quoted literals, in order: what triggers match
    (a file or a quoted string is the object of a request, not what it asks for)."""
    features: tuple[str, ...] = ()
    """What the lexical indexes match: terms outside file names, file kinds, concepts."""
    files: tuple[str, ...] = ()
    """File names written in the prompt, lower-cased."""
    concepts: tuple[str, ...] = ()
    """The concept tokens among ``features`` (file kinds included), for explanations."""
    asks: int = 1
    """How many of the request's list items ("X, Y and then Z") evoke a concept of their
    own: 2 or more may make a multi-part request (see ``ConceptIndex.spread``)."""


def _content(words: list[str]) -> list[str]:
    return [stem(w) for w in words if len(w) > 1 and w not in STOP_WORDS]


_QUOTED = re.compile(r"(?<![\w])(['\"`])([^'\"`\n]{1,80}?)\1(?![\w])")
"""A quoted literal: 'outbox', "schema_version", `TODO`."""
_REGEX = re.compile(r"\\[wdsbWDSB(.]|\.\*|\.\+|\[\^?[\w-]+\]|(?:^|\s)\^\w|\w\$(?:\s|$)")
r"""Something only a regular expression has: ``\w``, ``.*``, ``[a-z]``, ``^import``, ``end$``."""


@lru_cache(maxsize=1)
def _task_forms() -> list[re.Pattern[str]]:
    from omniclaude.routing.concepts import TASK_FORMS

    return [re.compile(pattern) for pattern in TASK_FORMS]


@lru_cache(maxsize=8192)
def analyze(text: str, *, definition: bool = False) -> QueryTerms:
    """Prepare a prompt (or, with ``definition``, an agent's text): words, files, concepts.

    ``terms`` are every content word (file names included, as words); ``words`` leave out
    named files and quoted literals; ``features`` replace each named file by its kinds, each
    quoted literal by ``~literal`` and add the concepts (see the module docstring). A code
    identifier (``write_events``, ``RouterConfig``, ``asyncio.sleep``) adds ``~ident``; in a
    definition its words are dropped too, since the names in an agent's examples are
    incidental ("Find all usages of write_events" is not about writing), while in a prompt
    they may be what the user means (``install_requires``).
    """
    original = lowered = text.lower()
    terms = tuple(_content(_WORD.findall(lowered)))
    concepts: list[str] = []
    if _REGEX.search(text):
        concepts.append("~search")
    quoted = _QUOTED.search(text) is not None
    if quoted:
        concepts.append("~literal")
        text = _QUOTED.sub(" ", text)
        lowered = text.lower()
    files = tuple(dict.fromkeys(m.group(1) for m in _FILE.finditer(lowered)))
    rest = _FILE.sub(" ", lowered) if files else lowered
    shaped = _FILE.sub(" <file> ", lowered) if files else lowered
    identifiers = [m.group(0) for m in _IDENTIFIER.finditer(_FILE.sub(" ", text))]
    if identifiers and definition:
        rest = _IDENTIFIER.sub(" ", _FILE.sub(" ", text)).lower()
    words = _WORD.findall(rest)
    for name in files:
        concepts.extend(k for k in file_kinds(name) if k not in concepts)
    if identifiers:
        concepts.append("~ident")
    concepts.extend(c for c in concepts_of(words) if c not in concepts)
    concepts.extend(
        c for regex, c in _question_forms() if c not in concepts and regex.search(shaped)
    )
    if any(regex.search(shaped) for regex in _task_forms()):
        concepts.append("~task")
    content = _content(words)
    features = (*content, *concepts)
    trigger_words = tuple(_content(_WORD.findall(rest))) if files or quoted else terms
    pattern, forms = _list_items()
    asks = sum(1 for item in pattern.split(rest) if set(concepts_of(_WORD.findall(item))) - forms)
    return QueryTerms(
        original, terms, trigger_words, features, files, tuple(concepts), max(1, asks)
    )


@lru_cache(maxsize=1)
def _list_items() -> tuple[re.Pattern[str], frozenset[str]]:
    from omniclaude.routing.concepts import FORM_CONCEPTS, LIST_FORM

    return re.compile(LIST_FORM), FORM_CONCEPTS
