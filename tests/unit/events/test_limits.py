"""The limits module: the one definition, documented in docs/operations.md as generated."""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from omniclaude.consuming.decoding import decode_record, decode_value
from omniclaude.errors import EventValidationError
from omniclaude.events import ActionType, AgentAction, decode, decode_mapping, encode, limits
from omniclaude.events.base import to_json_native
from omniclaude.events.limits import (
    INT4_MAX,
    INT8_MAX,
    LIMITS,
    MAX_DURATION_MS,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_JSON_DEPTH,
    MAX_JSON_FLOAT,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    clean_copy,
    json_problem,
    limits_table,
)
from omniclaude.publishing import ActionLogger, EventPublisher
from omniclaude.testing import InMemorySink
from tests.strategies import BAD_VALUES, BadValue, storable_json

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


def test_operations_doc_lists_every_limit() -> None:
    """docs/operations.md holds exactly the table generated from the limits module."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- limits:begin -->\n(.*?)\n<!-- limits:end -->", text, re.S)
    assert found, "docs/operations.md lost its limits table markers"
    assert found.group(1).strip() == limits_table(), (
        "docs/operations.md's limits table is stale: replace it with "
        "`python -c 'from omniclaude.events.limits import limits_table; print(limits_table())'`"
    )
    assert len(LIMITS) == limits_table().count("\n") - 1


# --------------------------------------------------------------------- every path, every class
# One valid action, and each kind of value the contract refuses (tests.strategies.BAD_VALUES),
# through each path that builds events in-process: the models, the codec (what POST /events
# and the CLI decode with), the consumer's decoder (raw Kafka bytes) and the SDK's loggers.

_CID = uuid.UUID("00000000-0000-4000-8000-000000000001")
_VALID: dict[str, Any] = {
    "correlation_id": str(_CID), "action_type": "tool_call", "action_name": "bash",
    "action_details": {"cmd": "ls"},
}  # fmt: skip


def _raw(fields: dict[str, Any]) -> bytes:
    # What any Kafka client may write: NaN/Infinity literals, escaped surrogates.
    return json.dumps(fields).encode()


def _by_kind(*kinds: str) -> list[BadValue]:
    chosen = [bad for bad in BAD_VALUES if any(k in bad.kind for k in kinds)]
    assert chosen, kinds
    return chosen


def _refused_on_every_path(bad: BadValue) -> None:
    fields = {**_VALID, **bad.patch}
    with pytest.raises(ValidationError) as model_error:
        AgentAction.model_validate(fields)
    located = ".".join(str(p) for p in model_error.value.errors()[0]["loc"])
    assert located == bad.field, f"{bad.kind}: the model named {located!r}"
    with pytest.raises(EventValidationError) as codec_error:
        decode_mapping(fields, default_type="agent_action")
    assert codec_error.value.field == bad.field, f"{bad.kind}: the codec named the wrong field"
    with pytest.raises(EventValidationError) as consumer_error:
        decode_value(_raw(fields), default_type="agent_action")
    if "surrogate" not in bad.kind:  # JSON bytes cannot carry one: refused as invalid JSON
        assert consumer_error.value.field == bad.field, f"{bad.kind}: the consumer's field"
    sink = InMemorySink()
    logger = ActionLogger(sink=sink)
    details = fields.pop("action_details")
    fields.pop("action_type")
    fields.pop("correlation_id")
    name = fields.pop("action_name")
    with pytest.raises(EventValidationError) as sdk_error:
        asyncio.run(logger.log_action(_CID, "tool_call", details, action_name=name, **fields))
    assert sdk_error.value.field == bad.field, f"{bad.kind}: the SDK named the wrong field"
    assert not sink.events, f"{bad.kind}: the SDK sent a refused event"


def test_valid_action_is_accepted_on_every_path() -> None:
    """The baseline of the tests below: the valid action passes every path."""
    AgentAction.model_validate(_VALID)
    decode_mapping(_VALID, default_type="agent_action")
    decode_value(_raw(_VALID), default_type="agent_action")


@pytest.mark.parametrize("bad", _by_kind("nan", "infinity", "NaN", "huge float"), ids=str)
def test_non_finite_numbers_refused_everywhere(bad: BadValue) -> None:
    """NaN, Infinity and floats JSON storage cannot keep exact are refused on every path,
    in fields, details and extra fields, with the field named."""
    _refused_on_every_path(bad)


@pytest.mark.parametrize("bad", _by_kind("timestamp", "start"), ids=str)
def test_timestamps_outside_the_stored_range_refused(bad: BadValue) -> None:
    """0001-01-01, 9999-12-31T23:59:59.999999Z (±infinity in PostgreSQL) and offsets that
    overflow when converted to UTC are refused on every path."""
    _refused_on_every_path(bad)


@pytest.mark.parametrize("bad", _by_kind("int", "duration"), ids=str)
def test_integers_beyond_their_column_refused(bad: BadValue) -> None:
    """schema_version above int4, integers beyond int8 in details and over-long durations
    are refused on every path."""
    _refused_on_every_path(bad)


@pytest.mark.parametrize("bad", _by_kind("NUL", "surrogate"), ids=str)
def test_unstorable_text_refused_everywhere(bad: BadValue) -> None:
    """A NUL or a lone surrogate in a field, in details or in a details key is refused on
    every path (the SDK raises EventValidationError, not a serialisation error)."""
    _refused_on_every_path(bad)


@pytest.mark.parametrize("bad", _by_kind("index", "nested"), ids=str)
def test_ids_and_nesting_beyond_the_limits_refused(bad: BadValue) -> None:
    """A 9,000-character session id and details nested past the depth limit are refused on
    every path, with the same limit for the API and the consumer."""
    _refused_on_every_path(bad)


def test_the_limits_hold_exactly_at_their_bounds() -> None:
    """Values at the bound are accepted, one step past it refused: the bounds are the ones
    documented, not approximations."""
    deep: dict[str, Any] = {}  # details (level 1) -> deep (level 2) -> ... -> level 64
    node = deep
    for _ in range(MAX_JSON_DEPTH - 2):
        node["d"] = {}
        node = node["d"]
    ok = AgentAction.model_validate(
        {
            **_VALID, "schema_version": INT4_MAX, "session_id": "s" * MAX_ID_CHARS,
            "duration_ms": MAX_DURATION_MS, "timestamp": TIMESTAMP_MIN + timedelta(days=12000),
            "action_details": {"d": deep, "i": INT8_MAX, "f": math.nextafter(MAX_JSON_FLOAT, 0)},
        }
    )  # fmt: skip
    assert decode(encode(ok)) == ok
    last = TIMESTAMP_MAX - timedelta(microseconds=1)
    assert AgentAction.model_validate({**_VALID, "timestamp": last}).timestamp == last
    with pytest.raises(ValidationError):
        AgentAction.model_validate({**_VALID, "timestamp": TIMESTAMP_MAX})
    with pytest.raises(ValidationError):
        AgentAction.model_validate(
            {**_VALID, "timestamp": TIMESTAMP_MIN - timedelta(microseconds=1)}
        )
    with pytest.raises(ValidationError):
        AgentAction.model_validate({**_VALID, "action_details": {"f": MAX_JSON_FLOAT}})


def test_events_larger_than_a_broker_message_refused_before_sending() -> None:
    """The SDK refuses an event over MAX_EVENT_BYTES (after redaction, encoded) when it is
    logged, with EventValidationError; the sink holds nothing."""
    sink = InMemorySink()
    logger = ActionLogger(sink=sink)
    with pytest.raises(EventValidationError, match="bytes once encoded"):
        asyncio.run(logger.log_tool_call(_CID, "Read", {"content": "x" * MAX_EVENT_BYTES}))
    assert not sink.events
    asyncio.run(logger.log_tool_call(_CID, "Read", {"content": "x" * (MAX_EVENT_BYTES - 2000)}))
    assert len(sink.events) == 1


def test_an_unvalidated_copy_is_refused_by_the_sink() -> None:
    """An event changed with model_copy (no validation) is checked again before it leaves:
    a lone surrogate is an EventValidationError naming the field."""
    event = AgentAction.model_validate(_VALID)
    broken = event.model_copy(update={"session_id": "\ud800"})
    with pytest.raises(EventValidationError) as error:
        asyncio.run(EventPublisher(sink=InMemorySink()).publish(broken))
    assert error.value.field == "session_id"


def test_decoding_never_stamps_the_decoders_identity() -> None:
    """An event naming no producer decodes with producer None on the codec's and the
    consumer's paths; one that names its producer keeps it."""
    assert decode_mapping(_VALID, default_type="agent_action").producer is None
    named = {**_VALID, "producer": {"name": "theirs", "version": "1"}}
    producer = decode_mapping(named, default_type="agent_action").producer
    assert producer is not None
    assert producer.name == "theirs"
    record = SimpleNamespace(
        topic="agent-actions", partition=0, offset=1, timestamp=0, key=None,
        value=_raw(_VALID), headers=(),
    )  # fmt: skip
    assert decode_record(record, default_type="agent_action").producer is None
    assert AgentAction.model_validate(_VALID).producer is not None, "built here: this process"


@given(storable_json)
def test_clean_copy_is_the_conversion_of_plain_json(value: Any) -> None:
    """Plain storable JSON: ``clean_copy`` gives what ``to_json_native`` gives, in new
    containers (the caller's dicts and lists are never shared), and ``json_problem`` agrees
    it is storable."""
    details = {"v": value}
    copied = clean_copy(details)
    assert copied is not None
    assert copied == to_json_native(details)
    assert json_problem(details) is None
    assert not _shared_containers(copied, details)


@pytest.mark.parametrize(
    "leaf",
    [
        "a\x00b", "\ud800", float("nan"), float("inf"), limits.MAX_JSON_FLOAT, limits.INT8_MAX + 1,
        uuid.uuid4(), (1, 2), {1, 2}, ActionType.TOOL_CALL, b"x", object(),
    ],
)  # fmt: skip
def test_clean_copy_gives_way_on_anything_else(leaf: Any) -> None:
    """A value that is not plain JSON, or not storable (as a leaf, a list item, a key), gives
    None: the model then takes the general path, which converts it or names the problem."""
    assert clean_copy({"a": {"b": [leaf]}}) is None
    assert clean_copy({"a": leaf}) is None
    if isinstance(leaf, str):
        assert clean_copy({leaf: 1}) is None
    assert clean_copy({1: "x"}) is None  # type: ignore[dict-item]
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(limits.MAX_JSON_DEPTH):
        node["x"] = node = {}
    assert clean_copy(deep) is None
    assert json_problem(deep) is not None


def _shared_containers(a: Any, b: Any) -> bool:
    if isinstance(a, dict | list):
        if a is b:
            return True
        items = (
            zip(a.values(), b.values(), strict=True)
            if isinstance(a, dict)
            else zip(a, b, strict=True)
        )
        return any(_shared_containers(x, y) for x, y in items)
    return False
