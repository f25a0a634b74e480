"""The agent runtime: runs agents for requests and records everything they do.

``AgentRunner`` routes a request, opens the execution, builds and publishes the manifest,
runs the agent's callable with an :class:`AgentContext` (tool calls logged and retried,
decisions, transformations, parallel children) under a timeout, and closes the execution.
"""

from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.isolation import ToolProcessError, WorkerPool
from omniclaude.runtime.manifest import Manifest, ManifestBuilder
from omniclaude.runtime.models import (
    ChildExecutionError,
    ExecutionRequest,
    ExecutionState,
    ExecutionTimeoutError,
    RuntimeConfig,
    ToolNotAllowedError,
)
from omniclaude.runtime.patterns import InvalidPatternError, compile_user_pattern
from omniclaude.runtime.retry import RetryPolicy, TransientToolError, is_retriable
from omniclaude.runtime.runner import AgentRunner
from omniclaude.runtime.workspace import PathOutsideWorkspaceError, Workspace

__all__ = [
    "AgentContext",
    "AgentRunner",
    "ChildExecutionError",
    "ExecutionRequest",
    "ExecutionState",
    "ExecutionTimeoutError",
    "InvalidPatternError",
    "Manifest",
    "ManifestBuilder",
    "PathOutsideWorkspaceError",
    "RetryPolicy",
    "RuntimeConfig",
    "ToolNotAllowedError",
    "ToolProcessError",
    "TransientToolError",
    "WorkerPool",
    "Workspace",
    "compile_user_pattern",
    "is_retriable",
]
