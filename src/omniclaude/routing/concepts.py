"""A small concept map: the words and phrases people use for the same idea, per domain.

Each concept is a token (``~deps``) that :func:`omniclaude.routing.text.analyze` adds to the
features of any text using one of its phrases: prompts and agent definitions alike. So an
agent whose description says "libraries" and a prompt that says "what do we pull in from
PyPI" meet on ``~deps`` without sharing a word; a user agent in ``--agent-dir`` benefits from
the map as soon as its description or examples use one of these words.

The map is general software vocabulary: the usual words of each domain, slang included
("creds", "deps"). Its author also wrote the fresh evaluation prompts, so some of their words
are here; ``omniclaude agents eval --strict-vocabulary`` measures the router with every such
word taken out of the map (see datasets/README.md). Words that mean different things in
different domains ("package": a Python package or a dependency; "comment": a TODO or
documentation; "import": a dependency or a usage) are left out: the plain words still match,
the concept would only blur; so are words whose stem collides with another domain's ("hack"
as a TODO marker and "hacker"; "callers", whose stem is "call").

Question forms (``QUESTION_FORMS``) are regular expressions over the lower-cased prompt that
add a concept for the kind of question ("where is X defined" → ``~locate``).
"""

from __future__ import annotations

__all__ = ["CONCEPTS", "FILE_KINDS", "FORM_CONCEPTS", "LIST_FORM", "QUESTION_FORMS"]

LIST_FORM = r",|;|&|\band\b|\bthen\b|\balso\b|\bplus\b|\bas well as\b"
"""How a request joins several asks; a multi-part request has one (see ConceptIndex.spread)."""

FORM_CONCEPTS = frozenset({"~locate", "~read", "~size"})
"""Concepts of how a question is asked ("where", "what does X say", "how many"), not of what
it is about: a request about tests that asks "where" is still one request."""

CONCEPTS: dict[str, tuple[str, ...]] = {
    # what a project depends on
    "~deps": (
        "dependency", "dependencies", "depend on", "depends on", "depending on", "dependent",
        "deps", "requirement", "requirements", "library", "libraries", "lib", "libs", "pypi",
        "pip", "npm", "yarn", "pnpm", "poetry", "conda", "wheel", "wheels", "install", "installed",
        "installs", "third party", "third-party", "thirdparty", "external", "vendored", "vendor",
        "stdlib", "standard library", "pin", "pins", "pinned", "pinning", "versions", "outdated",
        "transitive", "lockfile", "lock file", "rely on", "relies on", "relying on", "crate",
        "crates", "gem", "gems", "upgrade", "upgrades", "bump", "declared packages",
        "supply chain", "sbom", "licence", "license", "licenses",
    ),
    # risky code and leaked secrets
    "~security": (
        "security", "secure", "insecure", "vulnerability", "vulnerabilities", "vulnerable", "vuln",
        "vulns", "exploit", "exploitable", "attack", "attacker", "attackers", "malicious",
        "injection", "inject", "xss", "csrf", "rce", "cve", "pentest", "penetration", "secret",
        "secrets", "credential", "credentials", "creds", "password", "passwords", "passwd",
        "api key", "api keys", "private key", "private keys", "leak", "leaked", "leaks", "leaking",
        "hardcoded", "hard coded", "hard-coded", "unsafe", "unsafely", "dangerous", "risky",
        "danger", "harmful", "threat", "threats", "sanitize", "sanitise", "unsanitized",
        "untrusted", "deserialize", "deserialise", "deserialization", "unpickle", "unpickling",
        "pickle", "eval", "exec", "tls", "ssl", "certificate", "certificates", "cert", "certs",
        "verification", "safety", "backdoor",
    ),
    # documentation and docstrings
    "~docs": (
        "documentation", "document", "documented", "undocumented", "docs", "doc", "docstring",
        "docstrings", "readme", "guide", "guides", "tutorial", "manual", "explained",
        "explanation", "described", "onboarding", "getting started", "getting-started",
        "quickstart", "instructions", "wiki", "sphinx", "mkdocs", "api reference", "user guide",
        "reference docs", "new contributor",
    ),
    # tests and coverage
    "~tests": (
        "test", "tests", "testing", "tested", "untested", "spec", "specs", "pytest", "unittest",
        "fixture", "fixtures", "conftest", "coverage", "covered", "uncovered", "test suite",
        "suite", "test case", "test cases", "assertion", "assertions", "regression", "regressions",
        "exercise", "exercised", "exercises", "mock", "mocks", "tdd",
    ),
    # size and counts of code
    "~size": (
        "lines of code", "loc", "sloc", "line count", "line counts", "size", "sizes", "big",
        "bigger", "biggest", "large", "larger", "largest", "huge", "length", "count", "counts",
        "number of", "statistics", "stats", "metric", "metrics", "inventory", "breakdown",
        "break down", "how many", "how much",
    ),
    # complexity of code
    "~complexity": (
        "complexity", "complex", "complicated", "cyclomatic", "nested", "nesting", "deeply nested",
        "convoluted", "spaghetti", "messy", "unreadable", "gnarly", "refactor candidates",
        "code smell", "code smells", "hotspot", "hotspots", "god class", "god object",
    ),
    # the shape of a code base
    "~structure": (
        "structure", "structured", "layout", "laid out", "organised", "organized", "organisation",
        "organization", "architecture", "overview", "shape", "skeleton", "big picture",
        "high level", "bird's eye", "tour",
    ),
    # unfinished work left in comments
    "~todo": (
        "todo", "todos", "fixme", "fixmes", "xxx", "unfinished", "leftover",
        "leftovers", "technical debt", "tech debt",
    ),
    # programming languages present
    "~language": (
        "language", "languages", "polyglot",
    ),
    # finding where code is
    "~locate": (
        "defined", "define", "definition", "definitions", "implemented", "implementation",
        "declaration", "call site", "call sites",
        "occurrence", "occurrences", "reference", "references", "referenced", "referencing",
        "mention", "mentions", "mentioned", "grep", "regex", "regexp", "regular expression",
        "search", "look up", "lookup", "jump to", "go to definition",
    ),
    # reading one file
    "~read": (
        "read", "reads", "open", "cat", "print", "display", "view", "contents", "content",
        "inside", "peek", "dump", "first lines", "head of", "say", "says",
    ),
}  # fmt: skip
"""Concept token → the phrases (words or word sequences) that evoke it."""

QUESTION_FORMS: tuple[tuple[str, str], ...] = (
    # "where is X defined", "where do we build Y"
    (r"\bwhere(?:'s| is| are| does| do| did| was| were)\b", "~locate"),
    # "who calls X", "what uses Y"
    (
        r"\b(?:who|what|which \w+)\s+(?:calls|uses|imports|references|mentions|invokes)\b",
        "~locate",
    ),
    # "how many lines", "how much code"
    (r"\bhow (?:many|much)\b", "~size"),
    # "what does X say", "what is in X"
    (r"\bwhat (?:does|do) \S+ (?:say|contain|contains)\b", "~read"),
    (r"\bwhat(?:'s| is) (?:in|inside)\b", "~read"),
)
"""``(regular expression over the lower-cased prompt, concept token)``."""

FILE_KINDS: tuple[tuple[str, str], ...] = (
    # fnmatch globs over a file's base name (or its path, for the directory ones)
    ("pyproject.toml", "~manifest"), ("setup.cfg", "~manifest"), ("setup.py", "~manifest"),
    ("requirements*.txt", "~manifest"), ("requirements*.in", "~manifest"),
    ("constraints*.txt", "~manifest"), ("package.json", "~manifest"),
    ("package-lock.json", "~manifest"), ("pipfile", "~manifest"), ("pipfile.lock", "~manifest"),
    ("poetry.lock", "~manifest"), ("go.mod", "~manifest"), ("cargo.toml", "~manifest"),
    ("gemfile", "~manifest"), ("pom.xml", "~manifest"), ("build.gradle", "~manifest"),
    ("test_*.py", "~test"), ("*_test.py", "~test"), ("*_test.go", "~test"),
    ("conftest.py", "~test"), ("*.spec.ts", "~test"), ("*.test.js", "~test"),
    ("tests/*", "~test"),
    ("*.md", "~doc"), ("*.rst", "~doc"), ("readme*", "~doc"), ("docs/*", "~doc"),
    ("changelog*", "~doc"),
    ("*.py", "~code"), ("*.js", "~code"), ("*.ts", "~code"), ("*.go", "~code"),
    ("*.rs", "~code"), ("*.java", "~code"), ("*.c", "~code"), ("*.cpp", "~code"),
    ("*.h", "~code"), ("*.sh", "~code"), ("makefile", "~code"), ("dockerfile", "~code"),
    ("*.cfg", "~config"), ("*.ini", "~config"), ("*.yaml", "~config"), ("*.yml", "~config"),
    ("*.env", "~config"), (".env*", "~config"), ("*.conf", "~config"), ("*.toml", "~config"),
)  # fmt: skip
"""File kinds: a named file adds ``~file`` and the kind of every glob it matches."""
