"""The one read layer: executions, traces, overview, search and usage, as typed results.

The API's routes, the viewer's pages and the CLI all read through this package, with one
filter type (:class:`ExecutionFilter`) and one window semantics (``since <= created_at <
until``, the last 24 hours by default). Every statement is built from this package's
constants; every value is a query parameter.

Modules: ``filters`` (the filter, windows, cursors), ``rows`` (one typed row per table),
``executions``, ``traces`` (the trace tree, one record, live activity), ``ids`` (short ids),
``overview``, ``usage``, ``stored`` (how many of an execution's events are stored).
"""

from omniclaude.storage.queries._base import Reader
from omniclaude.storage.queries.executions import (
    MAX_PAGE,
    ExecutionListItem,
    ExecutionPage,
    agent_success_rates,
    get_execution,
    list_agents,
    list_children,
    list_executions,
    recent_successes,
)
from omniclaude.storage.queries.filters import (
    DEFAULT_RANGE,
    RANGES,
    Cursor,
    ExecutionFilter,
    InvalidCursorError,
    InvalidFilterError,
    TimeRange,
    decode_cursor,
    encode_cursor,
    escape_like,
    resolve_window,
)
from omniclaude.storage.queries.ids import (
    MIN_PREFIX,
    AmbiguousIdError,
    parse_id,
    resolve_correlation_id,
    short_id,
)
from omniclaude.storage.queries.overview import Overview, fetch_overview
from omniclaude.storage.queries.rows import (
    ActionRow,
    ExecutionRow,
    ExecutionSummary,
    LifecycleRow,
    LlmCallRow,
    ManifestRow,
    RoutingRow,
    TimelineEntry,
    TransformationRow,
)
from omniclaude.storage.queries.stored import final_event_count, stored_events
from omniclaude.storage.queries.traces import (
    MAX_TRACE_DEPTH,
    MAX_TRACE_EXECUTIONS,
    RECORD_SOURCES,
    ActivityItem,
    Trace,
    TraceActivity,
    TraceTree,
    fetch_lifecycle,
    fetch_record,
    fetch_trace_tree,
    get_trace,
    trace_activity,
)
from omniclaude.storage.queries.usage import (
    ExecutionUsage,
    UsageGroup,
    UsageQuery,
    UsageReport,
    UsageTotals,
    execution_usage,
    summarize,
    usage_report,
)

__all__ = [
    "DEFAULT_RANGE",
    "MAX_PAGE",
    "MAX_TRACE_DEPTH",
    "MAX_TRACE_EXECUTIONS",
    "MIN_PREFIX",
    "RANGES",
    "RECORD_SOURCES",
    "ActionRow",
    "ActivityItem",
    "AmbiguousIdError",
    "Cursor",
    "ExecutionFilter",
    "ExecutionListItem",
    "ExecutionPage",
    "ExecutionRow",
    "ExecutionSummary",
    "ExecutionUsage",
    "InvalidCursorError",
    "InvalidFilterError",
    "LifecycleRow",
    "LlmCallRow",
    "ManifestRow",
    "Overview",
    "Reader",
    "RoutingRow",
    "TimeRange",
    "TimelineEntry",
    "Trace",
    "TraceActivity",
    "TraceTree",
    "TransformationRow",
    "UsageGroup",
    "UsageQuery",
    "UsageReport",
    "UsageTotals",
    "agent_success_rates",
    "decode_cursor",
    "encode_cursor",
    "escape_like",
    "execution_usage",
    "fetch_lifecycle",
    "fetch_overview",
    "fetch_record",
    "fetch_trace_tree",
    "final_event_count",
    "get_execution",
    "get_trace",
    "list_agents",
    "list_children",
    "list_executions",
    "parse_id",
    "recent_successes",
    "resolve_correlation_id",
    "resolve_window",
    "short_id",
    "stored_events",
    "summarize",
    "trace_activity",
    "usage_report",
]
