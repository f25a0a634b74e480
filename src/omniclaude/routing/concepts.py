"""A small concept map: the words and phrases people use for the same idea, per domain.

Each concept is a token (``~deps``) that :func:`omniclaude.routing.text.analyze` adds to the
features of any text using one of its phrases: prompts and agent definitions alike. So an
agent whose description says "libraries" and a prompt that says "which outside packages do
we rely on" meet on ``~deps`` without sharing a word; a user agent in ``--agent-dir``
benefits from the map as soon as its description or examples use one of these words.

The map is general software vocabulary: the usual words of each domain (what a coding agent
is asked about dependencies, security, documentation, tests, code size and shape, TODOs,
languages, code units, searching, reading a file), slang included ("creds", "deps"). Its
authors (issue 17: h17, then h17b) had seen the dev-* evaluation prompts, so some of their
words may be here; ``omniclaude agents eval --strict-vocabulary`` measures the router with
every phrase sharing a stem with a dev-* prompt taken out (see datasets/README.md). Words
that mean different things in different domains ("package": a Python package or a
dependency; "comment": a TODO or documentation; "import": a dependency or a usage;
"declared": a dependency or a definition) are left out: the plain words still match, the
concept would only blur; so are words whose stem collides with another domain's ("hack" as a
TODO marker and "hacker"; "callers", whose stem is "call"). Where phrases overlap the
longest wins ("docstring coverage" is ``~docs``, "coverage" alone ``~tests``).

Question forms (``QUESTION_FORMS``) are regular expressions over the lower-cased prompt that
add a concept for the kind or scope of a question ("where is X defined" → ``~locate``, one
named file → ``~onefile``); ``TASK_FORMS`` spot a request to make or change something.
"""

from __future__ import annotations

__all__ = [
    "CONCEPTS",
    "FILE_KINDS",
    "FORM_CONCEPTS",
    "LIST_FORM",
    "QUESTION_FORMS",
    "TASK_CONCEPT",
    "TASK_FORMS",
]

LIST_FORM = r",|;|&|\band\b|\bthen\b|\balso\b|\bplus\b|\bas well as\b"
"""How a request joins several asks; a multi-part request has one (see ConceptIndex.spread)."""

FORM_CONCEPTS = frozenset(
    {"~locate", "~read", "~size", "~project", "~onefile", "~literal", "~manifest", "~test", "~doc"}
)
"""Concepts of how a question is asked ("where", "what does X say", "how many") or of its
scope (the whole project, one file), or the kind of a named file (``~manifest``, ``~test``,
``~doc``: a hint of the domain, not the ask), rather than what it is about: a request about
tests that asks "where" is still one request."""

TASK_CONCEPT = "~task"
"""The request asks for something to be made or changed (write, fix, refactor, plan,
translate...), or for general knowledge ("what is a ..."): an agent whose definition never
asks for that kind of work only reads and reports, so it is not the one to do it."""

CONCEPTS: dict[str, tuple[str, ...]] = {
    # what a project depends on
    "~deps": (
        "dependency", "dependencies", "depend on", "depends on", "depending on", "dependent",
        "deps", "requirement", "requirements", "requirements file", "library", "libraries", "lib",
        "libs", "pypi", "pip", "npm", "yarn", "pnpm", "poetry", "conda", "cargo", "maven",
        "gradle", "wheel", "wheels", "install", "installed", "installs", "third party",
        "third-party", "thirdparty", "external", "vendored", "vendor", "stdlib",
        "standard library", "pin", "pins", "pinned", "pinning", "version", "versions",
        "outdated", "out of date", "transitive", "lockfile", "lock file", "locked", "rely on",
        "relies on", "relying on", "crate", "crates", "gem", "gems", "upgrade", "upgrades",
        "bump", "declared packages", "declared dependencies", "undeclared", "not declared",
        "never declared", "supply chain", "sbom", "licence", "license", "licenses",
        "package manager", "dependency tree", "dependency graph", "manifest", "manifests",
        "imported modules", "external modules", "external packages", "installed packages",
        "unused packages", "unused imports",
    ),
    # risky code and leaked secrets
    "~security": (
        "security", "secure", "insecure", "vulnerability", "vulnerabilities", "vulnerable", "vuln",
        "vulns", "exploit", "exploitable", "attack", "attacker", "attackers", "malicious",
        "injection", "inject", "xss", "csrf", "rce", "cve", "owasp", "pentest", "penetration",
        "secret", "secrets", "credential", "credentials", "creds", "password", "passwords",
        "passwd", "key", "keys", "api key", "api keys", "private key", "private keys", "token",
        "tokens", "access token", "leak", "leaked", "leaks", "leaking", "exposed", "sensitive",
        "hardcoded", "hard coded", "hard-coded", "unsafe", "unsafely", "dangerous", "risky",
        "risk", "risks", "danger", "harmful", "threat", "threats", "sanitize", "sanitise",
        "unsanitized", "untrusted", "deserialize", "deserialise", "deserialization", "unpickle",
        "unpickling", "pickle", "marshal", "eval", "exec", "shell command", "shell commands",
        "shell true", "subprocess", "os system", "command injection", "code execution",
        "arbitrary code", "yaml load", "safe loader", "safeloader", "tls", "ssl", "certificate",
        "certificates", "cert", "certs", "verification", "verify false", "safety", "backdoor",
        "hardening",
    ),
    # documentation and docstrings
    "~docs": (
        "documentation", "document", "documented", "undocumented", "docs", "doc", "docstring",
        "docstrings", "readme", "guide", "guides", "tutorial", "manual", "explain", "explains",
        "explained", "explanation", "described", "onboarding", "getting started",
        "getting-started", "quickstart", "instructions", "wiki", "sphinx", "mkdocs",
        "api reference", "user guide", "reference docs", "new contributor", "docstring coverage",
        "documentation coverage", "doc coverage", "docs coverage", "installation and usage",
        "installation instructions", "usage instructions", "install instructions", "doc comments",
        "jsdoc", "javadoc", "rustdoc", "godoc",
    ),
    # tests and coverage
    "~tests": (
        "test", "tests", "testing", "tested", "untested", "spec", "specs", "pytest", "unittest",
        "fixture", "fixtures", "conftest", "coverage", "uncovered", "test coverage",
        "code coverage", "covered by tests", "test suite", "suite", "test case", "test cases",
        "testcase", "assertion", "assertions", "regression", "regressions", "exercise",
        "exercised", "exercises", "mock", "mocks", "tdd", "jest", "mocha", "junit", "e2e",
        "end to end", "smoke test",
    ),
    # size and counts of code
    "~size": (
        "lines of code", "loc", "sloc", "line count", "line counts", "line totals", "size",
        "sizes", "big", "bigger", "biggest", "large", "larger", "largest", "huge", "smallest",
        "long", "longer", "longest", "lengthy", "length", "count", "counts", "number of",
        "statistics", "stats", "metric", "metrics", "inventory", "breakdown", "break down",
        "how many", "how much", "how large",
    ),
    # complexity of code
    "~complexity": (
        "complexity", "complex", "complicated", "cyclomatic", "nested", "nesting", "deeply nested",
        "convoluted", "spaghetti", "messy", "unreadable", "gnarly", "refactor candidates",
        "refactoring candidates", "code smell", "code smells", "hotspot", "hotspots", "god class",
        "god object", "hard to read", "hard to follow", "hard to understand", "tangled",
        "branching", "maintainability", "unmaintainable", "too long",
    ),
    # the shape of a code base
    "~structure": (
        "structure", "structured", "layout", "laid out", "organised", "organized", "organisation",
        "organization", "architecture", "overview", "shape", "skeleton", "big picture",
        "high level", "bird's eye", "tour", "directory structure", "folder structure",
        "anatomy",
    ),
    # unfinished work left in comments
    "~todo": (
        "todo", "todos", "to do", "to-do", "to-dos", "fixme", "fixmes", "xxx", "unfinished",
        "leftover", "leftovers", "technical debt", "tech debt", "work in progress", "wip",
    ),
    # programming languages present
    "~language": (
        "language", "languages", "polyglot", "programming language", "written in", "python",
        "javascript", "typescript", "java", "golang", "rust", "ruby", "kotlin", "php",
    ),
    # the units of code: what a code analyzer lists, a searcher locates, a docs audit checks
    "~symbols": (
        "function", "functions", "class", "classes", "method", "methods", "def", "defs",
        "constructor", "constructors",
    ),
    # searching the code for a name or a pattern
    "~search": (
        "grep", "regex", "regexp", "regular expression", "search", "search for", "occurrence",
        "occurrences", "usages", "usage of", "uses of", "call site", "call sites", "defined",
        "define", "definition", "definitions", "implemented", "implementation",
        "reference", "references", "referenced", "referencing", "mention", "mentions",
        "mentioned", "matching", "lines matching", "every place", "all places", "places where",
        "instances of", "look up", "lookup", "jump to", "go to definition",
    ),
    # how a question asks for a place
    "~locate": ("locate", "location", "whereabouts"),
    # reading one file
    "~read": (
        "read", "reads", "open", "cat", "print", "display", "view", "contents", "content",
        "inside", "peek", "dump", "first lines", "first few lines", "head of", "top of",
        "beginning of", "say", "says",
    ),
    # the whole code base as the scope of a request
    "~project": (
        "codebase", "code base", "repo", "repository", "project", "whole", "entire", "overall",
        "every module", "each module", "per module", "all modules", "each package",
        "every package", "per package", "all files", "every file", "each file", "per file",
        "across", "source tree", "code tree", "everywhere",
    ),
}  # fmt: skip
"""Concept token → the phrases (words or word sequences) that evoke it. Where phrases
overlap, the longest wins ("docstring coverage" is about docs, "coverage" about tests)."""

_FILE = "<file>"
"""What a named file reads as in :data:`QUESTION_FORMS` (``analyze`` substitutes it)."""

QUESTION_FORMS: tuple[tuple[str, str], ...] = (
    # "where is X defined", "the place where we build Y"
    (r"\bwhere\b", "~locate"),
    # "who calls X", "what uses Y", "which files import Z"
    (
        (
            r"\b(?:who|what|which \w+)\s+(?:calls?|uses?|imports?|references?|mentions?"
            r"|invokes?|handles?|raises?|touch(?:es)?)\b"
        ),
        "~locate",
    ),
    # "in which file", "which function builds", not "which functions have no docstring"
    (
        (
            r"\bwhich (?:file|module|class|function|method)s?\b(?! (?:have|has|lack|are|is|do"
            r"|does|need|without|with|in|from)\b)"
        ),
        "~locate",
    ),
    # "how many lines", "how much code", "over 100 lines"
    (r"\bhow (?:many|much)\b", "~size"),
    (r"\b(?:over|more than|longer than|above|exceeding|under|fewer than) \d+ lines?\b", "~size"),
    # "what does X say", "what is in X"
    (r"\bwhat (?:does|do) \S+ (?:say|contain|contains)\b", "~read"),
    (r"\bwhat(?:'s| is) (?:in|inside)\b", "~read"),
    # a verb of reading applied to a named file: "show me setup.cfg", "summarise docs/x.md"
    (
        (
            rf"\b(?:show|open|read|print|cat|dump|view|display|summari[sz]e|skim|peek)\b"
            rf"[^.?!]{{0,30}}{_FILE}"
        ),
        "~read",
    ),
    # one file as the scope: exactly one named file, "this file", "the file", "this one"
    (rf"^(?:(?!{_FILE}).)*{_FILE}(?:(?!{_FILE}).)*$", "~onefile"),
    (r"\b(?:this|that|the|one|a|single) file\b(?!s)|\bthis one\b|\ba path\b", "~onefile"),
)
"""``(regular expression over the lower-cased prompt, concept token)``; named files read
as ``<file>``."""

_LEAD = (
    r"^\W*(?:(?:please|pls|kindly|hey|hi|ok|okay|so|now|also|and|first|can you|could you"
    r"|would you|will you|you should|i want you to|i'd like you to|i need you to|i want to"
    r"|i need to|i'd like to|we need to|we should|let's|lets|help me(?: to)?|go ahead and"
    r"|try to)\W+)*"
)
TASK_FORMS: tuple[str, ...] = (
    # the request opens with a verb of making or changing things
    _LEAD + r"(?:write|rewrite|create|generate|implement|add|fix|refactor|rename|change|modify"
    r"|update|edit|delete|remove|migrate|convert|port|translate|design|plan|draft|propose"
    r"|brainstorm|come up with|compose|deploy|set up|setup|configure|optimi[sz]e|speed up"
    r"|debug|install|upgrade|bump|merge|commit|push|publish|schedule|send)\b"
    # ... unless what it makes is a report: "generate a list of the untested modules"
    r"(?!(?:\W+\w+){0,3}?\W+(?:report|reports|list|lists|summary|overview|inventory|table"
    r"|breakdown|census|count|counts|rundown|map|audit|scan)\b)",
    # general knowledge: "what is a ...", "what's the difference between ..."
    r"\b(?:explain|tell me|what(?:'s| is| are))(?: what)? (?:an?|the difference)\b",
)
"""Regular expressions over the lower-cased prompt that add :data:`TASK_CONCEPT`."""

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
