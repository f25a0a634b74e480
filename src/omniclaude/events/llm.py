"""LLM calls: one model API request and response, its tokens, and what it cost.

One event per API response, wherever it was learnt: a Claude Code transcript (the emitter
and ``import-transcript``), OpenTelemetry (Claude Code's ``api_request`` log, GenAI spans),
or the SDK. The same request told twice has the same ``event_id`` (:func:`llm_call_id`), so
it is stored and counted once; a figure of a better :class:`CostSource` (an ``exact`` cost
reported by the provider) replaces a worse one (an ``estimate`` from the price table).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import Field, model_validator

from omniclaude.events.base import AgentName, DurationMs, Identifier, JsonObject, TimedEvent
from omniclaude.events.limits import INT8_MAX, MAX_COST_USD

__all__ = ["COST_SOURCE_RANK", "LLM_CALL_NAMESPACE", "CostSource", "LlmCall", "llm_call_id"]

LLM_CALL_NAMESPACE: Final = uuid.UUID("4b1f6c1e-2f6a-5d38-9a0e-6c6c6d2d6361")
"""UUIDv5 namespace of LLM call event ids (:func:`llm_call_id`)."""


class CostSource(StrEnum):
    """How a call's cost was obtained, from least to most exact."""

    UNPRICED = "unpriced"
    """The model is not in the price table: no cost, never a guess."""
    ESTIMATE = "estimate"
    """Tokens times the price table (what a transcript allows)."""
    EXACT = "exact"
    """The provider's own figure (Claude Code's OpenTelemetry ``cost_usd``)."""


COST_SOURCE_RANK: Final[dict[CostSource, int]] = {
    CostSource.UNPRICED: 0,
    CostSource.ESTIMATE: 1,
    CostSource.EXACT: 2,
}
"""A stored call's cost is only ever replaced by one of a higher rank."""


def llm_call_id(*, request_id: str | None, message_id: str | None) -> uuid.UUID:
    """Return the deterministic event id of one API response.

    The dedupe key is (``message.id``, ``requestId``): one API response is written as several
    transcript lines repeating both, and must count once. A request id names exactly one
    response, so it alone is the key when known (OpenTelemetry's ``api_request`` knows only
    the request id and must land on the same id to replace the estimate); the message id is
    the key when no request id was recorded.

    Raises:
        ValueError: neither id is given.
    """
    if request_id:
        return uuid.uuid5(LLM_CALL_NAMESPACE, f"request\x1f{request_id}")
    if message_id:
        return uuid.uuid5(LLM_CALL_NAMESPACE, f"message\x1f{message_id}")
    raise ValueError("request_id/message_id: an LLM call id needs at least one of them")


class LlmCall(TimedEvent):
    """One model API call: model, tokens, stop reason, the tools it asked for, its cost.

    ``correlation_id`` is the execution it belongs to (a prompt, a subagent, a session).
    Timed: ``started_at`` is when the request was sent (as well as the source knows it),
    ``timestamp`` when the response was complete.
    """

    event_type: Literal["llm_call"] = "llm_call"
    model: str = Field(min_length=1, max_length=256, description="The model that answered.")
    provider: str | None = Field(default=None, max_length=128)
    input_tokens: int = Field(default=0, ge=0, le=INT8_MAX, description="Uncached input tokens.")
    output_tokens: int = Field(default=0, ge=0, le=INT8_MAX)
    cache_creation_input_tokens: int = Field(
        default=0, ge=0, le=INT8_MAX, description="Input tokens written to the prompt cache."
    )
    cache_read_input_tokens: int = Field(
        default=0, ge=0, le=INT8_MAX, description="Input tokens read from the prompt cache."
    )
    usage: JsonObject = Field(
        default_factory=dict,
        description="The usage object as reported (cache TTL split, service tier...).",
    )
    stop_reason: str | None = Field(default=None, max_length=128)
    request_id: str | None = Field(default=None, max_length=256)
    message_id: str | None = Field(default=None, max_length=256)
    tool_use_ids: list[str] = Field(
        default_factory=list, description="The tool calls (tool_use ids) this response asked for."
    )
    duration_ms: DurationMs | None = None
    cost_usd: float | None = Field(
        default=None,
        ge=0,
        lt=MAX_COST_USD,
        description="What the call cost, in USD (stored to 10 decimal places).",
    )
    cost_source: CostSource = Field(
        default=CostSource.UNPRICED, description="unpriced, estimate (price table) or exact."
    )
    pricing_source: str | None = Field(
        default=None, max_length=512, description="The price table an estimate came from."
    )
    source: str = Field(
        default="sdk", min_length=1, max_length=64, description="transcript, otel, sdk..."
    )
    agent_name: AgentName | None = None
    session_id: Identifier | None = None
    prompt_id: Identifier | None = None
    claude_agent_id: Identifier | None = Field(
        default=None, description="The Claude Code subagent that made the call, if any."
    )
    is_sidechain: bool = False
    project_path: str | None = None
    project_name: str | None = None
    metadata: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_cost(self) -> Self:
        if self.total_tokens > INT8_MAX:
            raise ValueError(f"input_tokens: the four token counts add up past {INT8_MAX}")
        if self.cost_source is CostSource.UNPRICED and self.cost_usd is not None:
            raise ValueError("cost_usd: an unpriced call has no cost (cost_source is unpriced)")
        if self.cost_source is not CostSource.UNPRICED and self.cost_usd is None:
            raise ValueError(f"cost_usd: required when cost_source is {self.cost_source.value}")
        return self

    @property
    def total_tokens(self) -> int:
        """Input + output + cache write + cache read tokens."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )
