"""``omniclaude usage``: its window option, its CSV and its table (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from omniclaude.cli.usage import _csv, _table, parse_since
from omniclaude.storage.queries import UsageReport
from omniclaude.storage.queries.usage import UsageGroup, UsageRow


def _row(key: str, cost: float, unpriced: int = 0) -> UsageRow:
    return UsageRow(key=key, calls=2 + unpriced, input_tokens=10, output_tokens=20,
                    cache_creation_input_tokens=30, cache_read_input_tokens=40,
                    total_tokens=100, cost_usd=cost, unpriced_calls=unpriced,
                    estimated_calls=2, exact_calls=0, sidechain_calls=1, sessions=1)  # fmt: skip


def test_since_takes_a_range_or_a_date() -> None:
    """``7d`` is a range; a date or an ISO time is a start (UTC when it has no zone)."""
    assert parse_since("7d") == ("7d", None)
    assert parse_since("2026-11-01") == (None, datetime(2026, 11, 1, tzinfo=UTC))
    assert parse_since(None) == (None, None)
    with pytest.raises(ValueError, match="neither a range"):
        parse_since("last tuesday")


def test_csv_has_one_line_per_group_and_the_figures() -> None:
    """A header and each group's figures, machine-readable."""
    text = _csv([_row("claude-sonnet-4-5", 0.5).model_dump(mode="json")])
    header, line = text.strip().splitlines()
    assert header.startswith("key,calls,input_tokens,output_tokens")
    assert line.startswith("claude-sonnet-4-5,2,10,20,30,40,100,0.5,0,2,0,1,1")


def test_the_table_marks_estimates_and_unpriced_calls() -> None:
    """An estimate is starred; unpriced calls are counted, never priced."""
    report = UsageReport(
        since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 11, 2, tzinfo=UTC),
        group_by=UsageGroup.MODEL, rows=[_row("claude-sonnet-4-5", 0.5), _row("new", 0, 3)],
        total=_row("total", 0.5, 3),
    )  # fmt: skip
    console = Console(width=160, record=True)
    console.print(_table(report))
    text = console.export_text()
    assert "0.5000*" in text
    assert "+3 unpriced" in text
    assert "total" in text
