"""The terminal trace tree."""

from __future__ import annotations

import uuid

from rich.console import Console

from omniclaude.api.viewer.waterfall import build_waterfall
from omniclaude.cli.views import render_tree
from tests.unit.viewer.rows import action_row, execution_row, trace_of


def test_the_tree_nests_children_and_shows_timings() -> None:
    """Each span is a node under its parent, with its offset and duration; markup is inert."""
    root, child = uuid.uuid4(), uuid.uuid4()
    trace = trace_of(
        root,
        executions=[
            execution_row(root, agent="polymorphic-agent", end_ms=200),
            execution_row(child, agent="test-finder", parent=root, start_ms=20, end_ms=80, depth=1),
        ],
        actions=[action_row(child, name="[bold]grep[/bold]", end_ms=70)],
    )
    console = Console(width=200, record=True)
    console.print(render_tree(build_waterfall(trace)))
    text = console.export_text()
    lines = text.splitlines()
    assert str(root) in lines[0]
    grep = next(line for line in lines if "grep" in line)
    assert "[bold]grep[/bold]" in grep, "markup in a label was interpreted"
    assert "10.0 ms" in grep
    indent = {name: next(line for line in lines if name in line).index(name)
              for name in ("polymorphic-agent", "test-finder", "grep")}  # fmt: skip
    assert indent["polymorphic-agent"] < indent["test-finder"] < indent["grep"]
