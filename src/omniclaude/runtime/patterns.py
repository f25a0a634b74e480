"""Regular expressions from requests, compiled by a linear-time engine (RE2).

Python's :mod:`re` backtracks: a pattern such as ``(=+)+x`` over a line of ``=`` takes time
exponential in the line's length, inside one C call that holds the GIL — it froze the whole
API. Every pattern that comes from a request (``context.query`` with ``regex: true``, a quoted
string in a prompt) is compiled here with ``google-re2`` instead: matching time is linear in
the text, whatever the pattern, and RE2's memory is capped. RE2 has no backreferences and no
lookaround; such a pattern is refused with :class:`InvalidPatternError`, naming the field.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import re2

from omniclaude.errors import OmniClaudeError

__all__ = ["MAX_PATTERN_CHARS", "InvalidPatternError", "UserPattern", "compile_user_pattern"]

MAX_PATTERN_CHARS: Final = 1000
"""The longest pattern a request may send."""

_MAX_MEM_BYTES: Final = 8 << 20
"""RE2's memory budget for one compiled pattern (its DFA falls back to NFA beyond it)."""


class InvalidPatternError(OmniClaudeError, ValueError):
    """A pattern from a request is too long, or not valid RE2 syntax.

    Attributes:
        field: the request field that held the pattern.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the field (the error may come back from a tool worker process)."""
        return (_rebuild, (str(self), self.field))


def _rebuild(message: str, field: str) -> InvalidPatternError:
    return InvalidPatternError(message, field=field)


class UserPattern(Protocol):
    """What callers use of a compiled pattern (``search`` of one line)."""

    def search(self, text: str) -> Any:
        """Return a match object, or None."""
        ...


def _options() -> Any:
    options = re2.Options()
    options.max_mem = _MAX_MEM_BYTES
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    return options


def compile_user_pattern(pattern: str, *, field: str = "pattern") -> UserPattern:
    """Compile ``pattern`` with RE2 (linear-time matching).

    Args:
        pattern: the regular expression (RE2 syntax: Python's minus backreferences and
            lookaround).
        field: the request field it came from, for the error message.

    Raises:
        InvalidPatternError: longer than :data:`MAX_PATTERN_CHARS`, or not valid RE2.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidPatternError(
            f"{field}: the pattern is {len(pattern)} characters (at most {MAX_PATTERN_CHARS})",
            field=field,
        )
    try:
        compiled: UserPattern = re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise InvalidPatternError(
            f"{field}: not a valid pattern ({text}); patterns use RE2 syntax "
            "(no backreferences, no lookaround)",
            field=field,
        ) from None
    return compiled
