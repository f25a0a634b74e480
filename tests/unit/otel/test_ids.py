"""The id mapping between OpenTelemetry and OmniClaude: deterministic, lossless where promised."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniclaude.otel.ids import (
    correlation_id_for_trace,
    derived_event_id,
    span_id_for_event,
    trace_id_for_correlation,
)


@given(st.binary(min_size=16, max_size=16).filter(any))
def test_a_trace_id_and_its_correlation_id_map_both_ways(trace_id: bytes) -> None:
    """trace id -> correlation id -> trace id is the identity."""
    assert trace_id_for_correlation(correlation_id_for_trace(trace_id)) == trace_id


@pytest.mark.parametrize("bad", [b"", b"\x01" * 8, b"\x01" * 17, b"\x00" * 16])
def test_an_invalid_trace_id_is_refused_by_name(bad: bytes) -> None:
    """A trace id of the wrong length, or OTLP's all-zero invalid id, is refused naming it."""
    with pytest.raises(ValueError, match="trace_id"):
        correlation_id_for_trace(bad)


@given(st.uuids())
def test_a_span_id_is_eight_bytes_never_zero_and_stable(event_id: uuid.UUID) -> None:
    """An exported event's span id is 8 non-zero bytes, the same every time."""
    span_id = span_id_for_event(event_id)
    assert len(span_id) == 8
    assert any(span_id)
    assert span_id_for_event(event_id) == span_id


def test_derived_event_ids_are_stable_and_distinct() -> None:
    """The same parts give the same id; parts that only differ in where they split do not."""
    trace, span = b"\x01" * 16, b"\x02" * 8
    assert derived_event_id("span", trace, span, "started") == derived_event_id(
        "span", trace, span, "started"
    )
    assert derived_event_id("span", trace, span, "started") != derived_event_id(
        "span", trace, span, "completed"
    )
    assert derived_event_id("log", "a:b", "c") != derived_event_id("log", "a", "b:c")
    assert derived_event_id("log", "a") != derived_event_id("span", "a")
