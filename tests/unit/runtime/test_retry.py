"""Retry policy and the retriable test."""

from __future__ import annotations

import random

import pytest

from omniclaude.errors import DeliveryError, OmniClaudeError
from omniclaude.runtime import ExecutionRequest, RetryPolicy, TransientToolError, is_retriable
from tests.unit.runtime.conftest import RunnerFactory


def test_delays_grow_exponentially_and_are_capped() -> None:
    """Without jitter the delays double up to the cap; there is one fewer than attempts."""
    policy = RetryPolicy(
        max_attempts=5, initial_delay_s=0.1, multiplier=2, max_delay_s=0.3, jitter=0
    )
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.3, 0.3])
    assert list(policy.with_attempts(1).delays()) == []


def test_jitter_takes_off_at_most_its_share() -> None:
    """Jitter takes between 0 and ``jitter`` off each delay (one Backoff for every retry)."""
    policy = RetryPolicy(max_attempts=4, initial_delay_s=1, jitter=0.5, max_delay_s=10)
    for ceiling, value in zip([1, 2, 4], policy.delays(random.Random(1)), strict=True):
        assert ceiling * 0.5 <= value <= ceiling


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TransientToolError("busy"), True),
        (DeliveryError("broker away"), True),
        (OmniClaudeError("permanent"), False),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ValueError("bad"), False),
        (FileNotFoundError("x"), False),
    ],
)
def test_is_retriable_reads_the_flag_first(error: BaseException, expected: bool) -> None:
    """The ``retriable`` attribute decides; transient OS errors retry; others do not."""
    assert is_retriable(error) is expected


async def test_retries_only_for_what_can_succeed_in_the_runtime(make_runner: RunnerFactory) -> None:
    """A missing file fails its tool call after one attempt: no retry can make it appear."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="read it", agent="file-reader", context={"files": ["nope.py"]})
    )
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["type"] == "FileNotFoundError"
    calls = [a for a in sink.actions if a.action_details.get("tool_name") == "read_file"]
    final = [a for a in calls if a.action_details.get("final")]
    assert [a.action_details["attempts"] for a in final] == [1], "the missing file was retried"
    assert final[0].action_details["retriable"] is False
    assert not [a for a in sink.actions if a.action_name.startswith("retry read_file")]
