"""How a failing tool call is retried: the policy, with the one retry decision and backoff.

Whether to retry is :func:`omniclaude.retry.is_retriable` (the error's own ``retriable`` flag,
a SQLSTATE class, or a transient OS failure; never a ``FileNotFoundError``), and the delays
come from :class:`omniclaude.retry.Backoff`, the same as the Kafka sink's and the consumer's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.errors import OmniClaudeError
from omniclaude.retry import Backoff, is_retriable

__all__ = ["RetryPolicy", "TransientToolError", "is_retriable"]


class TransientToolError(OmniClaudeError):
    """A tool failed in a way that may pass if tried again (a flaky service, a busy file)."""

    retriable = True


class RetryPolicy(BaseModel):
    """How often and how patiently a failing tool call is retried.

    The ceiling of the delay before attempt ``n + 1`` is ``initial_delay_s * multiplier **
    (n - 1)``, capped at ``max_delay_s``; up to ``jitter`` of it is taken off at random (so
    parallel agents do not retry in lock-step). See :class:`omniclaude.retry.Backoff`.
    """

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_delay_s: float = Field(default=0.2, ge=0, le=60)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    max_delay_s: float = Field(default=5.0, ge=0, le=300)
    jitter: float = Field(default=0.1, ge=0, le=1)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each retry (``max_attempts - 1`` values)."""
        backoff = Backoff(
            self.initial_delay_s, self.max_delay_s, multiplier=self.multiplier,
            jitter=self.jitter, rng=rng,
        )  # fmt: skip
        for _ in range(self.max_attempts - 1):
            yield backoff.next_delay()

    def with_attempts(self, max_attempts: int) -> RetryPolicy:
        """Return a copy allowing ``max_attempts`` attempts."""
        return self.model_copy(update={"max_attempts": max_attempts})
