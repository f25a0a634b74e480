"""HTML rendering: one Jinja2 environment with autoescape on, and the filters templates use.

Everything a template prints is escaped (``autoescape=True`` for every template), and every
value that came from an event goes through :func:`redacted` first, so a secret that slipped
past the producers' redaction is still never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import jinja2
import pydantic_core

from omniclaude.api.viewer.waterfall import format_duration

__all__ = [
    "DetailSections",
    "detail_sections",
    "environment",
    "nest_children",
    "pretty_json",
    "redacted",
    "render",
    "shorten",
]


def redacted(value: Any) -> Any:
    """Return ``value`` with secrets and PII replaced (the SDK's default redaction rules).

    The redactor's screen (one RE2 pass over the value's JSON text, :meth:`Redactor.screen`)
    says first whether any rule could change it; only then is it walked. Walking every field
    of a page's rows with every pattern was over half of the executions page's time at 10M
    actions (bench/reads.py). A value JSON cannot hold as it is (an unknown type, an unpaired
    surrogate) is walked.
    """
    from omniclaude.publishing.redaction import default_redactor

    redactor = default_redactor()
    try:
        text = pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        return redactor.redact(value)
    return redactor.redact(value) if redactor.screen(text) else value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def pretty_json(value: Any) -> str:
    """Return ``value``, redacted, as indented JSON text (escaped later by the template)."""
    return json.dumps(redacted(value), indent=2, sort_keys=True, default=_plain)


def shorten(text: Any, limit: int = 120) -> str:
    """Return ``text`` redacted and cut to ``limit`` characters (with an ellipsis)."""
    if text is None:
        return ""
    clean = " ".join(str(redacted(str(text))).split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(slots=True)
class DetailSections:
    """One row split for display: scalar fields, JSON structures, multi-line texts."""

    scalars: list[tuple[str, str]] = field(default_factory=list)
    objects: list[tuple[str, Any]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)


def _scalar_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(value)


def detail_sections(
    row: Mapping[str, Any], skip: tuple[str, ...] = ("lifecycle",)
) -> DetailSections:
    """Split a row (already redacted) for the detail panel.

    Multi-line strings — a traceback, a file excerpt — are shown as text blocks instead of
    JSON strings full of ``\\n``; they are pulled out of top-level JSON objects too.
    """
    out = DetailSections()
    for name, value in row.items():
        if value is None or name in skip:
            continue
        if isinstance(value, str) and "\n" in value:
            out.texts.append((name, value))
        elif isinstance(value, Mapping):
            rest = {}
            for key, item in value.items():
                if isinstance(item, str) and "\n" in item:
                    out.texts.append((f"{name}.{key}", item))
                else:
                    rest[key] = item
            if rest:
                out.objects.append((name, rest))
        elif isinstance(value, list | tuple):
            if value:
                out.objects.append((name, list(value)))
        else:
            out.scalars.append((name, _scalar_text(value)))
    return out


def nest_children(items: Sequence[Any]) -> list[tuple[int, Any]]:
    """Order a newest-first page so each child follows its parent (oldest child first),
    with its depth; a child whose parent is not on the page stays where it was (depth 0)."""
    on_page = {item.correlation_id for item in items}
    kids: dict[Any, list[Any]] = {}
    for item in items:
        if item.parent_correlation_id in on_page:
            kids.setdefault(item.parent_correlation_id, []).append(item)
    out: list[tuple[int, Any]] = []

    def visit(item: Any, depth: int) -> None:
        out.append((depth, item))
        for kid in sorted(kids.get(item.correlation_id, []), key=lambda k: k.created_at):
            visit(kid, depth + 1)

    for item in items:
        if item.parent_correlation_id not in on_page:
            visit(item, 0)
    return out


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _score(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _pct(value: Any) -> str:
    return f"{max(0.0, min(float(value or 0), 100.0)):.2f}%"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Return the shared template environment (autoescape on for every template)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("omniclaude.api.viewer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["sections"] = detail_sections
    env.filters.update(
        duration=format_duration,
        iso=_iso,
        when=_when,
        score=_score,
        pct=_pct,
        count=_count,
        pretty=pretty_json,
        short=shorten,
        redact=lambda v: redacted(str(v)) if v is not None else "",
    )
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` with ``context`` (escaped)."""
    return environment().get_template(template).render(**context)
