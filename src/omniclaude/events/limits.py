"""The limits of the event contract: one definition, applied by the models on every path.

An event is accepted only if every value in it survives the trip to PostgreSQL and back
exactly: through ``POST /events``, the SDK (before it sends) and the consumer's decoder alike,
because all three build the same models (:mod:`omniclaude.events`) and the models apply these
limits themselves. What cannot be stored is refused with the field named, never accepted and
dead-lettered later.

* **Text** (every string field, every string and key inside JSON details): no NUL character
  (PostgreSQL ``text``/``jsonb`` cannot hold it) and no unpaired surrogate (not UTF-8).
* **Numbers**: finite (no NaN, Infinity, or ``1e400`` that overflows to it); integers within
  their column (``integer`` = int4, JSON details = int8); floats inside JSON details below
  :data:`MAX_JSON_FLOAT` in magnitude (larger ones come back from ``jsonb`` as a different
  number); durations at most :data:`MAX_DURATION_MS`.
* **Timestamps**: in ``[TIMESTAMP_MIN, TIMESTAMP_MAX)`` once converted to UTC. asyncpg writes
  Python's ``datetime.min``/``max`` as ``-infinity``/``infinity``, and an offset near either end
  overflows when converted to UTC; the range keeps every stored instant ordinary and leaves
  room for arithmetic (a timestamp minus its duration) in the readers.
* **Ids and names** that are indexed or join rows: at most :data:`MAX_ID_CHARS` /
  :data:`MAX_NAME_CHARS` characters (a B-tree entry holds at most ~2.7 kB).
* **Nesting** of JSON details: at most :data:`MAX_JSON_DEPTH` levels (the JSON parsers and
  serializers on the way give up near 200).
* **Size**: an event encoded by the codec is at most :data:`MAX_EVENT_BYTES` (what the broker
  takes in one message); the producer's ``max_request_size`` is derived from it.

:data:`LIMITS` lists them all for the documentation (``docs/operations.md`` is checked against
:func:`limits_table`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "BROKER_MAX_REQUEST_BYTES",
    "INT4_MAX",
    "INT8_MAX",
    "INT8_MIN",
    "LIMITS",
    "MAX_ACTION_NAME_CHARS",
    "MAX_BATCH_EVENTS",
    "MAX_COST_USD",
    "MAX_CURSOR_CHARS",
    "MAX_DURATION_MS",
    "MAX_EVENT_BYTES",
    "MAX_ID_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_FLOAT",
    "MAX_LABEL_CHARS",
    "MAX_NAME_CHARS",
    "MAX_REQUEST_BYTES",
    "MAX_SEARCH_CHARS",
    "MAX_STRATEGY_CHARS",
    "NOT_BLANK",
    "TIMESTAMP_MAX",
    "TIMESTAMP_MIN",
    "Limit",
    "Unstorable",
    "instant_problem",
    "json_problem",
    "limits_table",
    "numbers_fit",
    "text_problem",
]

INT4_MAX: Final = 2**31 - 1
"""Largest value of a PostgreSQL ``integer`` column (``schema_version``, sizes in bytes)."""
INT8_MIN: Final = -(2**63)
INT8_MAX: Final = 2**63 - 1
"""Range of integers inside JSON details (and of ``bigint``)."""

TIMESTAMP_MIN: Final = datetime(1900, 1, 1, tzinfo=UTC)
"""Earliest timestamp accepted (inclusive, in UTC)."""
TIMESTAMP_MAX: Final = datetime(9000, 1, 1, tzinfo=UTC)
"""Timestamps must be earlier than this (exclusive, in UTC)."""

MAX_COST_USD: Final = 1e10
"""A cost in USD must be below this: the ``numeric(20, 10)`` column holds 10 integer digits."""
MAX_DURATION_MS: Final = 1e12
"""Longest duration in milliseconds (about 31.7 years)."""
MAX_JSON_FLOAT: Final = 1e16
"""A float inside JSON details must be smaller than this in magnitude: ``jsonb`` stores the
decimal text, and from 1e16 on that text reads back as an integer that may differ from the
float (``1e23`` is not 10**23). Integers have their own range (int8)."""
MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of a JSON field (the details object itself is level 1)."""

MAX_ID_CHARS: Final = 256
"""Longest ``session_id``, ``prompt_id``, ``tool_use_id``, ``claude_agent_id``."""
MAX_NAME_CHARS: Final = 256
"""Longest agent name (``agent_name``, ``selected_agent``, ``source_agent``, ...)."""
MAX_ACTION_NAME_CHARS: Final = 512
"""Longest ``action_name``."""
NOT_BLANK: Final = r"[^ \t\n\r\x0b\x0c]"
"""A name must contain a character matching this (an explicit class, so that the Rust regex
of the models and Python's ``re`` in the SDK agree on what blank means)."""
MAX_LABEL_CHARS: Final = 256
"""Longest short label: a progress ``stage``, an ``error_type``."""
MAX_STRATEGY_CHARS: Final = 128
"""Longest ``routing_strategy``."""

MAX_EVENT_BYTES: Final = 1_000_000
"""Largest event, as encoded by :func:`omniclaude.events.encode` (after redaction)."""
BROKER_MAX_REQUEST_BYTES: Final = MAX_EVENT_BYTES + 64 * 1024
"""The producer's ``max_request_size``: one largest event plus its key, headers and framing.
A broker must accept messages of this size (Kafka's default ``message.max.bytes`` is
1,048,588)."""

MAX_BATCH_EVENTS: Final = 1000
"""Most events in one ``POST /events`` request."""
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
"""Largest HTTP request body; a larger one is answered 413 before it is read whole."""
MAX_SEARCH_CHARS: Final = 500
"""Longest free-text search in a query parameter."""
MAX_CURSOR_CHARS: Final = 500
"""Longest pagination cursor in a query parameter (the API's own are under 100)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One documented limit: what it bounds, the bound, and why."""

    name: str
    applies_to: str
    bound: str
    reason: str


LIMITS: Final[tuple[Limit, ...]] = (
    Limit("text", "every string field; strings and keys in JSON details",
          "no NUL character, no unpaired surrogate", "PostgreSQL text and UTF-8 cannot hold them"),
    Limit("numbers", "every number, in fields and JSON details", "finite (no NaN, Infinity, 1e400)",
          "PostgreSQL and JSON cannot hold them"),
    Limit("integer columns", "`schema_version`, `manifest_size_bytes`, section `size_bytes`",
          f"0 ≤ n ≤ {INT4_MAX:,}", "PostgreSQL `integer` (int4)"),
    Limit("integers in JSON", "JSON details, producer `pid`", f"{INT8_MIN:,} ≤ n ≤ {INT8_MAX:,}",
          "int8; readers of larger numbers lose precision"),
    Limit("floats in JSON", "JSON details", f"magnitude < {MAX_JSON_FLOAT:g}",
          "`jsonb` reads larger ones back as a different integer"),
    Limit("token counts", "an LLM call's four token counts and their sum",
          f"0 ≤ n ≤ {INT8_MAX:,}", "PostgreSQL `bigint` (the total is a generated column)"),
    Limit("cost", "an LLM call's `cost_usd`", f"0 ≤ usd < {MAX_COST_USD:g}",
          "`numeric(20, 10)`: stored to 10 decimal places"),
    Limit("durations", "`duration_ms`, `routing_time_ms`, `total_query_time_ms`, `query_time_ms`",
          f"0 ≤ ms ≤ {MAX_DURATION_MS:g}", "about 31.7 years; keeps time arithmetic in range"),
    Limit("timestamps", "`timestamp`, `started_at` (given, or timestamp minus the duration)",
          f"{TIMESTAMP_MIN:%Y-%m-%dT%H:%M:%SZ} ≤ t < {TIMESTAMP_MAX:%Y-%m-%dT%H:%M:%SZ}",
          "never ±infinity in PostgreSQL; no overflow converting to UTC"),
    Limit("ids", "`session_id`, `prompt_id`, `tool_use_id`, `claude_agent_id`",
          f"≤ {MAX_ID_CHARS} characters", "indexed (a B-tree entry holds ~2.7 kB)"),
    Limit("agent names", "`agent_name`, `selected_agent`, `source_agent`, `target_agent`, "
          "alternatives' `agent_name`",
          f"≤ {MAX_NAME_CHARS} characters (non-empty where required)", "indexed"),
    Limit("action name", "`action_name`",
          f"1..{MAX_ACTION_NAME_CHARS} characters, not only spaces, tabs and line breaks",
          "shown in every list"),
    Limit("labels", "`stage`, `error_type`", f"1..{MAX_LABEL_CHARS} characters", "grouped on"),
    Limit("routing strategy", "`routing_strategy`", f"1..{MAX_STRATEGY_CHARS} characters",
          "grouped on"),
    Limit("nesting", "JSON details", f"≤ {MAX_JSON_DEPTH} levels",
          "parsers and serializers on the way stop near 200"),
    Limit("event size", "one encoded event (after redaction)", f"≤ {MAX_EVENT_BYTES:,} bytes",
          "one broker message; the producer's max_request_size is "
          f"{BROKER_MAX_REQUEST_BYTES:,}"),
    Limit("batch", "`POST /events`", f"1..{MAX_BATCH_EVENTS:,} events", "one request"),
    Limit("request body", "every HTTP request", f"≤ {MAX_REQUEST_BYTES:,} bytes",
          "413 before the body is read whole"),
    Limit("query parameters", "every endpoint's query and path parameters (API and viewer)",
          f"text: no NUL; agent/ids ≤ {MAX_NAME_CHARS}, search ≤ {MAX_SEARCH_CHARS}, cursor ≤ "
          f"{MAX_CURSOR_CHARS} characters; times in the timestamp range; cursors made by the API",
          "a 422 naming the parameter, never a database error"),
)  # fmt: skip
"""Every limit, for the documentation."""


def limits_table() -> str:
    """Return :data:`LIMITS` as the Markdown table ``docs/operations.md`` holds."""
    lines = ["| limit | applies to | bound | why |", "|---|---|---|---|"]
    lines += [f"| {x.name} | {x.applies_to} | {x.bound} | {x.reason} |" for x in LIMITS]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- checks
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SAFE_YEARS: Final = (TIMESTAMP_MIN.year, TIMESTAMP_MAX.year - 1)
_NUL: Final = "contains a NUL character, which PostgreSQL cannot store"
_LONE: Final = "contains an unpaired surrogate, which is not UTF-8"


class Unstorable(Exception):  # noqa: N818 - internal signal, carries the path as it unwinds
    """A value that cannot be stored; ``loc`` is its path (innermost last once reversed)."""

    __slots__ = ("loc", "message")

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.loc: list[str | int] = []

    def path(self) -> tuple[str | int, ...]:
        """The path from the outermost container to the value."""
        return tuple(reversed(self.loc))


def text_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return _NUL
    if not value.isascii() and _SURROGATE.search(value) is not None:
        return _LONE
    return None


def _number_problem(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN test
        return "is not a finite number (NaN and Infinity cannot be stored)"
    return f"has a magnitude of {MAX_JSON_FLOAT:g} or more, which JSON storage cannot keep exact"


def _key_problem(key: Any) -> str | None:
    if type(key) is not str:
        return f"key {key!r} is not a string"
    problem = text_problem(key)
    return None if problem is None else f"key {key!a} {problem}"


def _clean(values: Iterable[Any], depth: int, texts: bool, surrogates: bool) -> bool:  # noqa: PLR0911, PLR0912 - one branch per JSON type, inlined: this runs for every event
    """True when every value in ``values`` (the items of a container at ``depth``) can be
    stored: the fast path, which keeps no paths (:func:`_locate` finds them after).

    Strings, the common leaf, are checked inline without a call each; a dict's keys are
    checked at once, joined (a key that is not a string raises ``TypeError``: the caller then
    takes the slow path). ``texts=False`` skips strings and keys: for JSON whose raw text was
    scanned already.
    """
    if depth > MAX_JSON_DEPTH:
        return False
    for item in values:
        kind = type(item)
        if kind is str:
            if texts and (
                "\x00" in item
                or (surrogates and not item.isascii() and _SURROGATE.search(item) is not None)
            ):
                return False
        elif kind is dict:
            if texts:  # _keys_clean, inlined (one call less per object)
                keys = "\x01".join(item)
                if "\x00" in keys or (
                    surrogates and not keys.isascii() and _SURROGATE.search(keys) is not None
                ):
                    return False
            if not _clean(item.values(), depth + 1, texts, surrogates):
                return False
        elif kind is list:
            if not _clean(item, depth + 1, texts, surrogates):
                return False
        elif kind is float:
            if not -MAX_JSON_FLOAT < item < MAX_JSON_FLOAT:
                return False
        elif kind is int and not INT8_MIN <= item <= INT8_MAX:
            return False
    return True


def _keys_clean(value: dict[str, Any], surrogates: bool) -> bool:
    keys = "\x01".join(value)
    return "\x00" not in keys and not (
        surrogates and not keys.isascii() and _SURROGATE.search(keys) is not None
    )


def clean_copy(value: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of ``value`` (new dicts and lists, the same leaves) when it is JSON-native and
    storable throughout, else None.

    One walk that is both the conversion and the check of details built in Python (the
    common case: str/int/float/bool/None in dicts and lists). None (a UUID, a tuple, a
    ``str`` subclass, a non-string key, anything :func:`json_problem` would refuse...) sends
    the caller down the general path: convert, then locate the problem.
    """
    try:
        return _copy_dict(value, 1)
    except TypeError:  # a key that is not a string
        return None


def _copy_dict(value: dict[str, Any], depth: int) -> dict[str, Any] | None:  # noqa: PLR0911, PLR0912 - one branch per JSON type, inlined: this runs for every event
    if depth > MAX_JSON_DEPTH:
        return None
    keys = "\x01".join(value)
    if "\x00" in keys or (not keys.isascii() and _SURROGATE.search(keys) is not None):
        return None
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return None  # a str subclass (an enum member): converted on the general path
        if kind is dict:
            nested = _copy_dict(item, depth + 1)
            if nested is None:
                return None
            out[key] = nested
            continue
        if kind is list:
            items = _copy_list(item, depth + 1)
            if items is None:
                return None
            out[key] = items
            continue
        if kind is str:
            if "\x00" in item or (not item.isascii() and _SURROGATE.search(item) is not None):
                return None
        elif kind is int:
            if not INT8_MIN <= item <= INT8_MAX:
                return None
        elif kind is float:
            if not -MAX_JSON_FLOAT < item < MAX_JSON_FLOAT:
                return None
        elif item is not None and kind is not bool:
            return None
        out[key] = item
    return out


def _copy_list(value: list[Any], depth: int) -> list[Any] | None:  # noqa: PLR0911, PLR0912 - as _copy_dict
    if depth > MAX_JSON_DEPTH:
        return None
    out: list[Any] = []
    for item in value:
        kind = type(item)
        if kind is dict:
            nested = _copy_dict(item, depth + 1)
            if nested is None:
                return None
            out.append(nested)
            continue
        if kind is list:
            items = _copy_list(item, depth + 1)
            if items is None:
                return None
            out.append(items)
            continue
        if kind is str:
            if "\x00" in item or (not item.isascii() and _SURROGATE.search(item) is not None):
                return None
        elif kind is int:
            if not INT8_MIN <= item <= INT8_MAX:
                return None
        elif kind is float:
            if not -MAX_JSON_FLOAT < item < MAX_JSON_FLOAT:
                return None
        elif item is not None and kind is not bool:
            return None
        out.append(item)
    return out


def numbers_fit(value: dict[str, Any]) -> bool:
    """True when every number under ``value`` fits and it is not nested too deep.

    The fast path for JSON whose text is already known to be storable; otherwise use
    :func:`json_problem`.
    """
    return _clean(value.values(), 1, False, False)


def _locate(value: Any, depth: int) -> None:  # noqa: PLR0912 - one branch per JSON type
    """Raise :class:`Unstorable` for the first value under ``value`` that cannot be stored
    (the slow path, after :func:`_clean_dict` found something: it records the path)."""
    kind = type(value)
    if kind is dict or kind is list:
        if depth > MAX_JSON_DEPTH:
            raise Unstorable(f"is nested deeper than {MAX_JSON_DEPTH} levels")
        items = value.items() if kind is dict else enumerate(value)
        for key, item in items:
            if kind is dict:
                problem = _key_problem(key)
                if problem is not None:
                    raise Unstorable(problem)
            try:
                _locate(item, depth + 1)
            except Unstorable as exc:
                exc.loc.append(key)
                raise
    elif kind is str:
        problem = text_problem(value)
        if problem is not None:
            raise Unstorable(problem)
    elif kind is float:
        if not -MAX_JSON_FLOAT < value < MAX_JSON_FLOAT:
            raise Unstorable(_number_problem(value))
    elif kind is int:
        if not INT8_MIN <= value <= INT8_MAX:
            raise Unstorable(f"is outside the 64-bit integer range ({INT8_MIN}..{INT8_MAX})")
    elif kind is tuple:
        _locate(list(value), depth)


def json_problem(value: Any, *, surrogates: bool = True, texts: bool = True) -> Unstorable | None:
    """Return the first reason ``value`` (JSON-native data) cannot be stored, or None.

    Args:
        value: a JSON value: dict, list, str, int, float, bool or None, nested.
        surrogates: also look for unpaired surrogates (needless for text parsed from JSON
            bytes, which cannot hold them).
        texts: check strings and keys at all (False when the raw JSON was scanned already).

    Returns:
        An :class:`Unstorable` whose :meth:`~Unstorable.path` leads to the value, or None.
    """
    try:
        if type(value) is dict and (
            (not texts or _keys_clean(value, surrogates))
            and _clean(value.values(), 1, texts, surrogates)
        ):
            return None
    except TypeError:
        pass  # a key that is not a string: the slow path names it
    try:
        _locate(value, 1)
    except Unstorable as exc:
        return exc
    return None


def instant_problem(value: datetime) -> str | None:
    """Return why an aware timestamp cannot be stored, or None."""
    if _SAFE_YEARS[0] < value.year < _SAFE_YEARS[1]:
        return None  # an offset moves it by less than a day: no comparison needed
    if not TIMESTAMP_MIN <= value < TIMESTAMP_MAX:
        return (
            f"must be from {TIMESTAMP_MIN:%Y-%m-%dT%H:%M:%SZ} up to (not including) "
            f"{TIMESTAMP_MAX:%Y-%m-%dT%H:%M:%SZ} in UTC"
        )
    return None
