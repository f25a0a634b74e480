"""Retry policy and the retriable test."""

from __future__ import annotations

import random

import pytest

from omniclaude.errors import DeliveryError, OmniClaudeError
from omniclaude.runtime import RetryPolicy, TransientToolError, is_retriable


def test_delays_grow_exponentially_and_are_capped() -> None:
    """Without jitter the delays double up to the cap; there is one fewer than attempts."""
    policy = RetryPolicy(
        max_attempts=5, initial_delay_s=0.1, multiplier=2, max_delay_s=0.3, jitter=0
    )
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.3, 0.3])
    assert list(policy.with_attempts(1).delays()) == []


def test_jitter_adds_at_most_its_share() -> None:
    """Jitter adds between 0 and ``jitter`` of each delay."""
    policy = RetryPolicy(max_attempts=4, initial_delay_s=1, jitter=0.5, max_delay_s=10)
    for base, value in zip([1, 2, 4], policy.delays(random.Random(1)), strict=True):
        assert base <= value <= base * 1.5


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
