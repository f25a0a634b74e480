"""The publishing SDK: loggers, publishers, sinks, redaction and the correlation context.

Names resolve lazily (PEP 562) so importing this package does not import aiokafka or asyncpg.

Quick start::

    from omniclaude.publishing import ActionLogger, AgentExecutionLogger

    async with AgentExecutionLogger(db=pool).run("agent-x", "fix the bug") as execution:
        await ActionLogger(db=pool).log_tool_call(None, "bash", {"cmd": "ls"})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omniclaude.publishing.context import (
        NoCorrelationIdError,
        correlation_scope,
        current_correlation_id,
    )
    from omniclaude.publishing.emitter import get_default_sink, set_default_sink
    from omniclaude.publishing.execution_logger import ExecutionStateError
    from omniclaude.publishing.loggers import ActionLogger, AgentExecutionLogger, ToolCall
    from omniclaude.publishing.publishers import EventPublisher
    from omniclaude.publishing.redaction import RedactionRules, Redactor, sanitize_pii
    from omniclaude.publishing.sinks.base import EventSink
    from omniclaude.publishing.sinks.kafka import KafkaSink, sink_from_settings
    from omniclaude.publishing.sinks.postgres import PostgresSink
    from omniclaude.publishing.sync import SyncClient

__all__ = [
    "ActionLogger",
    "AgentExecutionLogger",
    "EventPublisher",
    "EventSink",
    "ExecutionStateError",
    "KafkaSink",
    "NoCorrelationIdError",
    "PostgresSink",
    "RedactionRules",
    "Redactor",
    "SyncClient",
    "ToolCall",
    "correlation_scope",
    "current_correlation_id",
    "get_default_sink",
    "sanitize_pii",
    "set_default_sink",
    "sink_from_settings",
]

_LAZY: dict[str, str] = {
    "ActionLogger": "omniclaude.publishing.loggers",
    "AgentExecutionLogger": "omniclaude.publishing.loggers",
    "ToolCall": "omniclaude.publishing.loggers",
    "EventPublisher": "omniclaude.publishing.publishers",
    "EventSink": "omniclaude.publishing.sinks.base",
    "ExecutionStateError": "omniclaude.publishing.execution_logger",
    "KafkaSink": "omniclaude.publishing.sinks.kafka",
    "sink_from_settings": "omniclaude.publishing.sinks.kafka",
    "PostgresSink": "omniclaude.publishing.sinks.postgres",
    "NoCorrelationIdError": "omniclaude.publishing.context",
    "correlation_scope": "omniclaude.publishing.context",
    "current_correlation_id": "omniclaude.publishing.context",
    "RedactionRules": "omniclaude.publishing.redaction",
    "Redactor": "omniclaude.publishing.redaction",
    "sanitize_pii": "omniclaude.publishing.redaction",
    "get_default_sink": "omniclaude.publishing.emitter",
    "SyncClient": "omniclaude.publishing.sync",
    "set_default_sink": "omniclaude.publishing.emitter",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omniclaude.publishing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
