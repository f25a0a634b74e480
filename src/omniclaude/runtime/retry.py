"""Retry with exponential backoff, deciding by the error's ``retriable`` flag (not its class).

An error is retried when it says so (``retriable = True``, as every
:class:`~omniclaude.errors.OmniClaudeError` subclass declares) or when it is one of the
transient OS-level failures (timeouts, refused or reset connections).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.errors import OmniClaudeError

__all__ = ["RetryPolicy", "TransientToolError", "is_retriable"]

_TRANSIENT = (TimeoutError, ConnectionError, BlockingIOError, InterruptedError)


class TransientToolError(OmniClaudeError):
    """A tool failed in a way that may pass if tried again (a flaky service, a busy file)."""

    retriable = True


def is_retriable(exc: BaseException) -> bool:
    """Return whether ``exc`` is worth another attempt."""
    flag = getattr(exc, "retriable", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(exc, _TRANSIENT)


class RetryPolicy(BaseModel):
    """How often and how patiently a failing tool call is retried.

    The delay before attempt ``n + 1`` is ``initial_delay_s * multiplier ** (n - 1)``, capped
    at ``max_delay_s``, with up to ``jitter`` of it added at random (so parallel agents do not
    retry in lock-step).
    """

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_delay_s: float = Field(default=0.2, ge=0, le=60)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    max_delay_s: float = Field(default=5.0, ge=0, le=300)
    jitter: float = Field(default=0.1, ge=0, le=1)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay before each retry (``max_attempts - 1`` values)."""
        rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        delay = self.initial_delay_s
        for _ in range(self.max_attempts - 1):
            capped = min(delay, self.max_delay_s)
            yield capped + capped * self.jitter * rng.random()
            delay *= self.multiplier

    def with_attempts(self, max_attempts: int) -> RetryPolicy:
        """Return a copy allowing ``max_attempts`` attempts."""
        return self.model_copy(update={"max_attempts": max_attempts})
