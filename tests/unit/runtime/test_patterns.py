"""Patterns from requests: linear-time matching (RE2), refused with the field named."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from omniclaude.runtime import InvalidPatternError, Workspace, compile_user_pattern
from omniclaude.runtime.patterns import MAX_PATTERN_CHARS


@pytest.mark.parametrize("pattern", [r"(=+)+x", r"(a|a)*b", r"(a*)*b", r"(\w+\s?)*$", r"(.*a){20}"])
def test_catastrophic_patterns_match_in_linear_time(pattern: str) -> None:
    """Patterns that backtrack exponentially in Python's re finish at once over 100 kB."""
    compiled = compile_user_pattern(pattern)
    started = time.perf_counter()
    for text in ("=" * 100_000, "a" * 100_000, "ab " * 30_000):
        compiled.search(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{pattern!r} took {elapsed:.2f} s over 300 kB"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(a)\1", "backreference"), (r"(?<=a)b", "lookaround"), ("[", "syntax"), ("(", "syntax")],
)
def test_patterns_re2_cannot_run_are_refused_naming_the_field(pattern: str, why: str) -> None:
    """Backreferences, lookaround and bad syntax raise InvalidPatternError naming the field."""
    with pytest.raises(InvalidPatternError, match=r"^context\.query: ") as caught:
        compile_user_pattern(pattern, field="context.query")
    assert caught.value.field == "context.query", why


def test_a_pattern_longer_than_the_limit_is_refused() -> None:
    """A pattern over MAX_PATTERN_CHARS is refused before it is compiled."""
    with pytest.raises(InvalidPatternError, match="at most"):
        compile_user_pattern("a" * (MAX_PATTERN_CHARS + 1), field="user_prompt")


def test_workspace_search_uses_the_linear_engine(tmp_path: Path) -> None:
    """Workspace.search over a long line of '=' with (=+)+x returns (no match) at once."""
    (tmp_path / "long.txt").write_text("=" * 200_000 + "\n")
    started = time.perf_counter()
    assert Workspace(tmp_path).search(r"(=+)+x", ["long.txt"]) == []
    assert time.perf_counter() - started < 2.0


def test_workspace_errors_name_the_path_as_requested(tmp_path: Path) -> None:
    """A missing file or a directory is reported by its relative path, never the server's."""
    workspace = Workspace(tmp_path)
    (tmp_path / "pkg").mkdir()
    with pytest.raises(FileNotFoundError) as missing:
        workspace.read_text("nope/missing.py")
    assert "nope/missing.py" in str(missing.value)
    with pytest.raises(IsADirectoryError) as directory:
        workspace.read_text("pkg")
    for error in (missing.value, directory.value):
        assert str(tmp_path) not in str(error), f"the server path leaked: {error}"
        assert error.__suppress_context__ or error.__context__ is None


def test_the_error_survives_the_trip_from_a_worker_process() -> None:
    """InvalidPatternError pickles with its field (tools raise it in worker processes)."""
    import pickle

    data = pickle.dumps(InvalidPatternError("context.query: bad", field="x"))
    error = pickle.loads(data)  # noqa: S301 - our own bytes
    assert (str(error), error.field) == ("context.query: bad", "x")
