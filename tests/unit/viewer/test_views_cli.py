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


def test_the_executions_table_fits_100_columns_with_children_under_parents() -> None:
    """Long prompts and agent names: every row is one line of at most 100 columns with the
    short id whole; a child follows its parent, indented; --wide shows full ids."""
    from omniclaude.cli.views import executions_table
    from omniclaude.storage.queries import ExecutionListItem

    parent, child, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    long = "Refactor the whole payment module and explain every change in great detail " * 3
    rows = [
        execution_row(child, agent="a-very-long-subagent-name-for-reviews", parent=parent,
                      prompt=long, start_ms=50),
        execution_row(other, agent="test-finder", prompt=long, start_ms=20),
        execution_row(parent, agent="polymorphic-agent", prompt=long, start_ms=0),
    ]  # fmt: skip
    items = [ExecutionListItem.model_validate(r.model_dump()) for r in rows]
    console = Console(width=100, record=True)
    console.print(executions_table(items))
    lines = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(lines) == 1 + len(items), f"a row wrapped onto two lines: {lines}"
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    order = [next(i for i, line in enumerate(lines) if str(c)[:8] in line) for c in
             (other, parent, child)]  # fmt: skip
    assert order == sorted(order), "the child is not right under its parent"
    assert "└" in lines[order[2]]
    assert str(parent) not in console.export_text()
    wide = Console(width=220, record=True)
    wide.print(executions_table(items, wide=True))
    assert str(parent) in wide.export_text()


def test_the_executions_table_shows_minutes_whole_beside_costs_in_100_columns() -> None:
    """Executions of minutes with priced LLM calls (the cost column shown): the duration
    (``12 min 34 s``) and the cost are whole, the row one line of at most 100 columns."""
    from omniclaude.cli.views import executions_table
    from omniclaude.storage.queries import ExecutionListItem

    cid = uuid.uuid4()
    row = execution_row(cid, agent="agent-api-architect", status="in_progress",
                        prompt="Fix pagination " * 20, end_ms=754_000)  # fmt: skip
    usage = {"llm_calls": 3, "total_tokens": 9_000, "cost_usd": 12.3456,
             "cost_exactness": "estimate"}  # fmt: skip
    item = ExecutionListItem.model_validate({**row.model_dump(), **usage})
    console = Console(width=100, record=True)
    console.print(executions_table([item]))
    lines = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(lines) == 2, f"a row wrapped onto two lines: {lines}"
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    for whole in ("12 min 34 s", "$12.3456*", "in_progress", str(cid)[:8], "agent-api-architect"):
        assert whole in lines[1], f"{whole!r} cut in {lines[1]!r}"
