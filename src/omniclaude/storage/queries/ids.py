"""Short ids: the first hex digits of a correlation id stand for it, when only one matches.

The viewer and the CLI show the first 8 hex digits of an id; ``omniclaude trace``,
``/traces/{id}`` and the viewer's URLs take them back. A prefix is a range scan of the
uuid index (uuid order is byte order), so resolving one costs an index probe.
"""

from __future__ import annotations

import uuid

from omniclaude.errors import OmniClaudeError
from omniclaude.storage.queries._base import Reader
from omniclaude.storage.queries.filters import InvalidFilterError, hex_prefix, uuid_range

__all__ = [
    "MIN_PREFIX",
    "AmbiguousIdError",
    "parse_id",
    "resolve_correlation_id",
    "short_id",
]

MIN_PREFIX = 8
"""The fewest hex digits a short id has (what the viewer and the CLI show)."""
_CANDIDATES = 5
"""How many matching ids an ambiguity error lists."""

_IN_EXECUTIONS = (
    "SELECT correlation_id FROM agent_execution_logs WHERE correlation_id BETWEEN $1 AND $2 "
    "ORDER BY correlation_id LIMIT $3"
)
_IN_EVENTS = (
    "SELECT DISTINCT correlation_id FROM ("
    " (SELECT correlation_id FROM agent_actions WHERE correlation_id BETWEEN $1 AND $2"
    "  ORDER BY correlation_id LIMIT 1000)"
    " UNION ALL"
    " (SELECT correlation_id FROM agent_llm_calls WHERE correlation_id BETWEEN $1 AND $2"
    "  ORDER BY correlation_id LIMIT 1000)) AS e ORDER BY correlation_id LIMIT $3"
)


class AmbiguousIdError(OmniClaudeError, LookupError):
    """A short id is the start of more than one correlation id."""

    def __init__(self, field: str, prefix: str, candidates: list[uuid.UUID]) -> None:
        listed = ", ".join(str(c) for c in candidates[:_CANDIDATES])
        more = " and more" if len(candidates) > _CANDIDATES else ""
        super().__init__(
            f"{field}: {prefix!r} is the start of several ids ({listed}{more}); give more of it"
        )
        self.field = field
        self.prefix = prefix
        self.candidates = candidates[:_CANDIDATES]


def short_id(value: uuid.UUID | str) -> str:
    """The short form of an id (its first :data:`MIN_PREFIX` hex digits)."""
    return str(value)[:MIN_PREFIX]


def parse_id(text: str, *, field: str = "correlation_id") -> uuid.UUID | str:
    """Read a full UUID, or a short id (at least :data:`MIN_PREFIX` hex digits).

    Returns:
        The UUID, or the prefix's lowercase hex digits.

    Raises:
        InvalidFilterError: neither (the message names ``field``).
    """
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        pass
    prefix = hex_prefix(text)
    if prefix is None or len(prefix) < MIN_PREFIX:
        raise InvalidFilterError(
            field, f"{text[:40]!r} is neither a UUID nor its first {MIN_PREFIX}+ hex digits"
        )
    return prefix


async def resolve_correlation_id(
    db: Reader, text: str, *, field: str = "correlation_id"
) -> uuid.UUID | None:
    """Return the correlation id ``text`` stands for (a UUID or a short id), or None when no
    execution starts with it. A full UUID is returned as it is, without a query.

    Raises:
        InvalidFilterError: ``text`` is neither a UUID nor a short id.
        AmbiguousIdError: several ids start with it (the error lists some).
    """
    parsed = parse_id(text, field=field)
    if isinstance(parsed, uuid.UUID):
        return parsed
    low, high = uuid_range(parsed)
    rows = await db.fetch(_IN_EXECUTIONS, low, high, _CANDIDATES + 1)
    if not rows:
        rows = await db.fetch(_IN_EVENTS, low, high, _CANDIDATES + 1)
    found = [r["correlation_id"] for r in rows]
    if len(found) > 1:
        raise AmbiguousIdError(field, parsed, found)
    return found[0] if found else None
