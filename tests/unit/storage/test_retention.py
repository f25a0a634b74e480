"""Retention's pure parts: durations, the policy's coherence, which partitions go.

The cutoff is ``now - keep`` capped at today's start: a partition ending at or before it
holds only older rows and goes; today's and every later one never do, whatever the policy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from omniclaude.cli.retention import parse_table_keep, register
from omniclaude.errors import ConfigurationError
from omniclaude.settings import format_duration, load_settings, parse_duration
from omniclaude.storage.partitions import DAY, Partition, day_of, partition_name
from omniclaude.storage.retention import (
    RETAINED_TABLES,
    RetentionPolicy,
    check_policy,
    choose_partitions,
    cutoff,
    rollup_cutoff,
)

H = timedelta(hours=1)
NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
TODAY = day_of(NOW)


@pytest.mark.parametrize(
    ("text", "value"),
    [("30d", 30 * DAY), ("12h", 12 * H), ("2w", 14 * DAY), (" 7d ", 7 * DAY), ("1h", H)],
)
def test_durations_are_read(text: str, value: timedelta) -> None:
    """Whole hours, days or weeks; written back in days or hours."""
    assert parse_duration(text) == value
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "needle"),
    [("30", "not a duration"), ("30x", "not a duration"), ("d", "not a duration"),
     ("-3d", "not a duration"), ("1.5d", "not a duration"), ("", "not a duration"),
     ("0d", "more than zero"), ("30 days", "not a duration")],
)  # fmt: skip
def test_bad_durations_are_refused_saying_why(text: str, needle: str) -> None:
    """Anything else is refused with the text quoted."""
    with pytest.raises(ValueError, match=needle):
        parse_duration(text)


def test_table_durations_are_read_and_bad_ones_named() -> None:
    """``TABLE=DURATION`` items; a bad one names the option and the table."""
    assert parse_table_keep("--keep-table", ["agent_actions=7d", "agent_llm_calls = 2w"]) == {
        "agent_actions": 7 * DAY, "agent_llm_calls": 14 * DAY,
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"^--keep-table: 'agent_actions' is not TABLE=DURATION"):
        parse_table_keep("--keep-table", ["agent_actions"])
    with pytest.raises(ValueError, match=r"^--keep-table: agent_actions: '7x' is not a duration"):
        parse_table_keep("--keep-table", ["agent_actions=7x"])


def test_incoherent_policies_are_refused_naming_the_setting() -> None:
    """Unknown tables; summaries shorter than an event table; rollups shorter than anything."""
    check_policy(30 * DAY, {"agent_actions": 7 * DAY}, 400 * DAY)
    check_policy(None, {"agent_actions": 7 * DAY}, None)  # only actions expire: fine
    with pytest.raises(ValueError, match=r"^tables: unknown table 'rollup_llm_hour'"):
        check_policy(30 * DAY, {"rollup_llm_hour": 7 * DAY}, None)
    with pytest.raises(ValueError, match=r"^tables\.agent_execution_logs: summaries kept 7d"):
        check_policy(30 * DAY, {"agent_execution_logs": 7 * DAY}, None)
    with pytest.raises(ValueError, match="agent_actions forever"):
        check_policy(None, {"agent_execution_logs": 7 * DAY}, None)
    with pytest.raises(ValueError, match=r"^rollups: 7d is shorter than .*\(30d\)"):
        check_policy(30 * DAY, {}, 7 * DAY)
    with pytest.raises(ValueError, match=r"^rollups: .*\(forever\)"):
        check_policy(None, {"agent_actions": DAY}, 7 * DAY)
    with pytest.raises(ValueError, match=r"^keep: a retention must be more than zero"):
        RetentionPolicy(keep=timedelta(0))


def test_the_policy_per_table() -> None:
    """A table's own retention overrides the default; none at all means forever."""
    policy = RetentionPolicy(keep=30 * DAY, tables={"agent_actions": 7 * DAY})
    assert policy.keep_for("agent_actions") == 7 * DAY
    assert policy.keep_for("agent_llm_calls") == 30 * DAY
    assert policy.keep_for("agent_execution_logs") == 30 * DAY
    assert RetentionPolicy().configured is False
    assert RetentionPolicy(tables={"agent_actions": DAY}).keep_for("agent_llm_calls") is None
    assert "agent_execution_logs" in RETAINED_TABLES


def test_settings_read_the_policy_and_name_a_bad_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``OMNICLAUDE_RETENTION__*`` (nested per table, or JSON) and the TOML file."""
    monkeypatch.delenv("OMNICLAUDE_CONFIG_FILE", raising=False)
    monkeypatch.setenv("OMNICLAUDE_RETENTION__KEEP", "30d")
    monkeypatch.setenv("OMNICLAUDE_RETENTION__TABLES__AGENT_ACTIONS", "7d")
    retention = load_settings().retention
    assert retention.keep == 30 * DAY
    assert retention.tables == {"agent_actions": 7 * DAY}
    assert retention.configured
    monkeypatch.setenv("OMNICLAUDE_RETENTION__KEEP", "30 days")
    with pytest.raises(ConfigurationError, match=r"^OMNICLAUDE_RETENTION__KEEP: '30 days' is not"):
        load_settings()
    monkeypatch.delenv("OMNICLAUDE_RETENTION__KEEP")
    monkeypatch.delenv("OMNICLAUDE_RETENTION__TABLES__AGENT_ACTIONS")
    monkeypatch.setenv("OMNICLAUDE_RETENTION__TABLES", '{"agent_action": "7d"}')
    with pytest.raises(ConfigurationError, match="unknown table 'agent_action'"):
        load_settings()
    monkeypatch.delenv("OMNICLAUDE_RETENTION__TABLES")
    config = tmp_path / "omniclaude.toml"
    config.write_text('[retention]\nkeep = "2w"\nrollups = "400d"\n'
                      '[retention.tables]\nagent_actions = "3d"\n')  # fmt: skip
    retention = load_settings(config).retention
    assert (retention.keep, retention.rollups) == (14 * DAY, 400 * DAY)
    assert retention.tables == {"agent_actions": 3 * DAY}
    assert not load_settings().retention.configured


def _day(start: datetime) -> Partition:
    return Partition(partition_name("agent_actions", start, start + DAY), start, start + DAY)


def test_partitions_ending_at_the_cutoff_go_and_the_next_stays() -> None:
    """30 days at 13:00: the partition ending before 13:00 thirty days ago goes, the day
    holding that instant stays (only part of it is older)."""
    parts = [_day(TODAY - n * DAY) for n in range(40, -8, -1)]
    chosen = choose_partitions(parts, keep=30 * DAY, now=NOW)
    assert [p.start for p in chosen] == [TODAY - n * DAY for n in range(40, 30, -1)]
    # Exactly at the boundary: at midnight, 30 days back is a day boundary itself.
    at_midnight = choose_partitions(parts, keep=30 * DAY, now=TODAY)
    assert at_midnight[-1].end == TODAY - 30 * DAY
    assert len(at_midnight) == 10


def test_today_and_later_are_never_chosen() -> None:
    """However short the retention, the cutoff never passes today's start."""
    parts = [_day(TODAY - DAY), _day(TODAY), _day(TODAY + DAY)]
    assert cutoff(NOW, H) == TODAY
    assert [p.start for p in choose_partitions(parts, keep=H, now=NOW)] == [TODAY - DAY]
    just_after_midnight = TODAY + timedelta(minutes=30)
    assert choose_partitions(parts, keep=H, now=just_after_midnight) == []
    open_ended = [
        Partition("x", TODAY - 9 * DAY, None),
        Partition("d", None, None, is_default=True),
    ]
    assert choose_partitions(open_ended, keep=H, now=NOW) == []
    month = Partition("m", datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    assert choose_partitions([month], keep=62 * DAY, now=NOW) == [month]
    assert choose_partitions([month], keep=63 * DAY, now=NOW) == []


@given(
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
                     timezones=st.just(UTC)),
    hours=st.integers(min_value=1, max_value=24 * 400),
    offsets=st.lists(st.integers(min_value=-500, max_value=30), min_size=1, max_size=40,
                     unique=True),
)  # fmt: skip
def test_chosen_partitions_are_exactly_those_entirely_before_the_cutoff(
    now: datetime, hours: int, offsets: list[int]
) -> None:
    """Whatever the time and the policy: every chosen partition ends by the cutoff and
    before today; every partition ending by it is chosen."""
    keep = hours * H
    parts = [_day(day_of(now) + n * DAY) for n in sorted(offsets)]
    chosen = choose_partitions(parts, keep=keep, now=now)
    limit = cutoff(now, keep)
    assert limit <= now - keep
    assert limit <= day_of(now)
    assert all(p.end is not None and p.end <= limit for p in chosen)
    assert all(p.end is not None and p.end <= day_of(now) for p in chosen)
    assert [p for p in parts if p.end is not None and p.end <= limit] == chosen
    assert rollup_cutoff(now, keep) <= now - keep


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root."""

    register(app)
    return app


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--keep", "30"], "--keep: '30' is not a duration"),
     (["--keep", "30d", "--keep-table", "foo=1d"], "--keep-table: unknown table 'foo'"),
     (["--keep", "30d", "--rollups", "7d"], "--rollups: 7d is shorter"),
     (["--keep", "1d", "--keep-table", "agent_execution_logs=1h"],
      "--keep-table: agent_execution_logs: summaries kept 1h"),
     ([], "--keep: nothing to drop"),
     (["--keep", "30d"], "OMNICLAUDE_DATABASE_URL: not set")],
)  # fmt: skip
def test_the_command_refuses_bad_options_naming_them(
    args: list[str], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 2 with one line naming the option, before touching any database."""
    for name in ("OMNICLAUDE_DATABASE_URL", "OMNICLAUDE_CONFIG_FILE", "OMNICLAUDE_RETENTION__KEEP"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(_app(), ["retention", *args])
    assert result.exit_code == 2, result.output
    assert needle in " ".join(result.output.split()), result.output
