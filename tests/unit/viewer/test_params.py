"""Query-string parsing of the viewer: every bad parameter is named in its error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from omniclaude.api.viewer.params import parse_execution_filter, parse_instant, parse_window
from omniclaude.storage.queries import encode_cursor

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_defaults_cover_the_last_day_newest_first() -> None:
    """With no parameter the list covers 24 hours, 50 rows, every status and agent."""
    flt = parse_execution_filter({}, NOW)
    assert flt.until == NOW
    assert flt.since == NOW - timedelta(hours=24)
    assert (flt.agent, flt.status, flt.text, flt.before, flt.limit) == (None, None, None, None, 50)
    assert not flt.roots_only


def test_every_filter_is_read() -> None:
    """Range, agent, status, text, roots, cursor and limit all reach the filter."""
    cid = uuid.uuid4()
    cursor = encode_cursor(NOW - timedelta(minutes=1), cid)
    params = {
        "range": "1h", "agent": " code-analyzer ", "status": "failed", "q": " retry ",
        "roots": "1", "before": cursor, "limit": "10",
    }  # fmt: skip
    flt = parse_execution_filter(params, NOW)
    assert flt.since == NOW - timedelta(hours=1)
    assert (flt.agent, flt.status, flt.text, flt.roots_only, flt.limit) == (
        "code-analyzer", "failed", "retry", True, 10,
    )  # fmt: skip
    assert flt.before == (NOW - timedelta(minutes=1), cid)


def test_explicit_since_and_until_override_the_range() -> None:
    """ISO times (naive read as UTC, Z accepted) bound the window exactly."""
    flt = parse_execution_filter(
        {"since": "2026-05-01T00:00:00", "until": "2026-05-02T00:00Z"}, NOW
    )
    assert flt.since == datetime(2026, 5, 1, tzinfo=UTC)
    assert flt.until == datetime(2026, 5, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "2y"}, "range"),
        ({"status": "done"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"until": "soon"}, "until"),
        ({"since": "2026-05-02T00:00Z", "until": "2026-05-01T00:00Z"}, "since"),
        ({"q": "x" * 201}, "q"),
        ({"before": "not-a-cursor"}, "before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": "201"}, "limit"),
    ],
)
def test_a_bad_parameter_is_named(params: dict[str, str], field: str) -> None:
    """The error message starts with the parameter at fault."""
    with pytest.raises(ValueError, match=rf"^{field}:"):
        parse_execution_filter(params, NOW)


def test_instants_keep_their_zone() -> None:
    """An offset in the input is kept; a naive time is UTC."""
    assert parse_instant("since", "2026-01-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_instant("since", "2026-01-01T10:00:00").tzinfo is UTC


def test_overview_windows() -> None:
    """The overview window defaults to 24 h and refuses unknown names."""
    assert parse_window({}) == ("24h", timedelta(hours=24))
    assert parse_window({"window": "7d"}) == ("7d", timedelta(days=7))
    with pytest.raises(ValueError, match=r"^window:"):
        parse_window({"window": "1y"})
