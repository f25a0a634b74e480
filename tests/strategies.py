"""Hypothesis strategies for events: values the contract stores, and each kind it refuses.

Shared by the unit tests of the contract and the property suite that sends events through
every path (:mod:`tests.integration.test_contract_properties`). The limits come from
:mod:`omniclaude.events.limits`, so a changed limit changes what is generated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from omniclaude.events import limits

__all__ = [
    "BAD_VALUES",
    "BadValue",
    "actions",
    "bad_actions",
    "storable_json",
    "storable_text",
    "storable_timestamps",
]

# Text PostgreSQL stores: any code point but NUL and the surrogates.
storable_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
_floats = st.floats(
    allow_nan=False,
    allow_infinity=False,
    min_value=-limits.MAX_JSON_FLOAT,
    max_value=limits.MAX_JSON_FLOAT,
    exclude_min=True,
    exclude_max=True,
)
_ints = st.integers(min_value=limits.INT8_MIN, max_value=limits.INT8_MAX)

storable_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | _ints | _floats | storable_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value inside the limits (nesting stays far below the depth limit)."""

# A timed event starts at timestamp minus its duration, which must stay in range too.
_LONGEST = timedelta(milliseconds=limits.MAX_DURATION_MS) + timedelta(days=1)
storable_timestamps = st.datetimes(
    min_value=limits.TIMESTAMP_MIN.replace(tzinfo=None) + _LONGEST,
    max_value=limits.TIMESTAMP_MAX.replace(tzinfo=None) - timedelta(days=1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))]
    ),
)


def actions(correlation_id: uuid.UUID | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Agent actions (as JSON-ready dicts) whose every value is inside the limits."""
    ids = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=limits.MAX_ID_CHARS,
    )
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str),
            "correlation_id": st.just(str(correlation_id))
            if correlation_id
            else st.uuids().map(str),
            "event_type": st.just("agent_action"),
            "action_type": st.sampled_from(["tool_call", "decision", "error", "success"]),
            "action_name": st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1,
                max_size=limits.MAX_ACTION_NAME_CHARS,
            ).filter(lambda s: s.strip(" \t\n\r\x0b\x0c")),  # a blank name is refused
            "action_details": st.dictionaries(storable_text, storable_json, max_size=4),
            "timestamp": storable_timestamps.map(datetime.isoformat),
        },
        optional={
            "agent_name": st.text(min_size=1, max_size=limits.MAX_NAME_CHARS).filter(
                lambda s: "\x00" not in s
            ),
            "duration_ms": st.floats(min_value=0, max_value=limits.MAX_DURATION_MS),
            "session_id": ids,
            "tool_use_id": ids,
            "schema_version": st.integers(min_value=1, max_value=limits.INT4_MAX),
            "project_path": storable_text,
        },
    ).map(_drop_unstorable_agent)


def _drop_unstorable_agent(event: dict[str, Any]) -> dict[str, Any]:
    name = event.get("agent_name")
    if name is not None and limits.text_problem(name) is not None:
        del event["agent_name"]
    return event


@dataclass(frozen=True, slots=True)
class BadValue:
    """One kind of value the contract refuses: where it goes and the field the error names."""

    kind: str
    field: str
    """The dotted path the refusal must name (as the codec writes it)."""
    patch: dict[str, Any]
    """Top-level keys to set on a valid action (nested values are already in place)."""

    def __str__(self) -> str:
        return self.kind.replace(" ", "-")


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    root = node
    for _ in range(levels - 1):
        node["d"] = {}
        node = node["d"]
    return root


_D = "action_details"
BAD_VALUES: tuple[BadValue, ...] = (
    BadValue("nan in details", f"{_D}.a.b", {_D: {"a": {"b": float("nan")}}}),
    BadValue("infinity in a field", "duration_ms", {"duration_ms": float("inf")}),
    BadValue("huge float in details", f"{_D}.a", {_D: {"a": 1e300}}),
    BadValue("int beyond int8 in details", f"{_D}.a.0", {_D: {"a": [2**64]}}),
    BadValue("schema_version beyond int4", "schema_version", {"schema_version": 2**31}),
    BadValue("duration too long", "duration_ms", {"duration_ms": limits.MAX_DURATION_MS * 10}),
    BadValue("timestamp 0001", "timestamp", {"timestamp": "0001-01-01T00:00:00Z"}),
    BadValue("timestamp 9999", "timestamp", {"timestamp": "9999-12-31T23:59:59.999999Z"}),
    BadValue("timestamp past UTC", "timestamp", {"timestamp": "8999-12-31T23:00:00-05:00"}),
    BadValue("NUL in a field", "session_id", {"session_id": "s\x00"}),
    BadValue("NUL in details", f"{_D}.a", {_D: {"a": "x\x00y"}}),
    BadValue("NUL in a details key", _D, {_D: {"k\x00": 1}}),
    BadValue("lone surrogate in a field", "project_path", {"project_path": "\udc80"}),
    BadValue("lone surrogate in details", f"{_D}.a", {_D: {"a": "\ud800"}}),
    BadValue("id longer than an index holds", "session_id", {"session_id": "s" * 9000}),
    BadValue("details nested too deep", _D + ".d" * limits.MAX_JSON_DEPTH,
             {_D: _deep(limits.MAX_JSON_DEPTH + 1)}),
    BadValue("NaN in an extra field", "custom.x", {"custom": {"x": float("nan")}}),
    BadValue("start before the range", "duration_ms",
             {"timestamp": "1900-01-02T00:00:00Z", "duration_ms": limits.MAX_DURATION_MS}),
)  # fmt: skip
"""One of each kind of value that cannot be stored (the issue's list, and a few more)."""


def bad_actions(
    correlation_id: uuid.UUID | None = None,
) -> st.SearchStrategy[tuple[BadValue, dict[str, Any]]]:
    """A valid action with one bad value patched in, and which bad value it is."""
    return st.tuples(st.sampled_from(BAD_VALUES), actions(correlation_id)).map(
        lambda pair: (pair[0], {**pair[1], **pair[0].patch})
    )


def routing_decisions(correlation_id: uuid.UUID) -> st.SearchStrategy[dict[str, Any]]:
    """Routing decisions (JSON-ready dicts) inside the limits: scores, lists, JSON context."""
    name = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=limits.MAX_NAME_CHARS,
    )
    score = st.floats(min_value=0, max_value=1)
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str),
            "event_type": st.just("routing_decision"),
            "correlation_id": st.just(str(correlation_id)),
            "user_request": storable_text,
            "selected_agent": name,
            "confidence_score": score,
            "routing_strategy": st.text(min_size=1, max_size=limits.MAX_STRATEGY_CHARS).filter(
                lambda s: limits.text_problem(s) is None
            ),
            "routing_time_ms": st.floats(min_value=0, max_value=limits.MAX_DURATION_MS),
            "timestamp": storable_timestamps.map(datetime.isoformat),
        },
        optional={
            "alternatives": st.lists(
                st.fixed_dictionaries({"agent_name": name, "confidence": score}), max_size=3
            ),
            "matched_triggers": st.lists(storable_text, max_size=3),
            "context_snapshot": st.dictionaries(storable_text, storable_json, max_size=3),
            "trigger_confidence": score,
            "cache_hit": st.booleans(),
        },
    )


def executions_started(correlation_id: uuid.UUID) -> st.SearchStrategy[dict[str, Any]]:
    """Execution starts (JSON-ready dicts) inside the limits: the rows the lists show."""
    text = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=limits.MAX_NAME_CHARS,
    )
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str),
            "event_type": st.just("execution_started"),
            "correlation_id": st.just(str(correlation_id)),
            "agent_name": text,
            "timestamp": storable_timestamps.map(datetime.isoformat),
        },
        optional={
            "user_prompt": storable_text,
            "session_id": text,
            "metadata": st.dictionaries(storable_text, storable_json, max_size=3),
            "project_path": storable_text,
        },
    )
