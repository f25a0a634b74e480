"""``omniclaude agents``: list the registry, check definitions, route a prompt, run an agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from omniclaude.cli._common import console, err_console, fail, settings_from

__all__ = ["agents_app", "register"]

agents_app = typer.Typer(help="The agent registry and router.", no_args_is_help=True)

DirOption = Annotated[
    list[Path] | None,
    typer.Option("--dir", "-d", help="More directories of agent YAML files (repeatable)."),
]


def _load(ctx: typer.Context, dirs: list[Path] | None):  # type: ignore[no-untyped-def]
    from omniclaude.routing import AgentRegistry

    settings = settings_from(ctx)
    user_dir = settings.data_dir / "agents"
    search = ([user_dir] if user_dir.is_dir() else []) + list(dirs or [])
    return AgentRegistry.load(search)


@agents_app.command("list")
def list_agents(
    ctx: typer.Context,
    dirs: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every agent (shipped, in <data dir>/agents, and --dir) and any file that failed."""
    registry = _load(ctx, dirs)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "agents": [a.summary() | {"source": a.source} for a in registry],
                    "problems": [
                        {"path": p.path, "field": p.field, "message": p.message}
                        for p in registry.problems
                    ],
                },
                indent=2,
            )
        )
    else:
        from rich.table import Table

        table = Table("name", "domain", "triggers", "entrypoint", "description")
        for agent in sorted(registry, key=lambda a: a.name):
            table.add_row(
                agent.name,
                agent.domain,
                str(len(agent.triggers)),
                agent.entrypoint,
                agent.description[:70] + ("…" if len(agent.description) > 70 else ""),
            )
        console.print(table)
        for problem in registry.problems:
            err_console.print(f"[yellow]skipped[/] {problem}", highlight=False, soft_wrap=True)
    if registry.problems:
        raise typer.Exit(1)


@agents_app.command("route")
def route(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The prompt to route.")],
    dirs: DirOption = None,
) -> None:
    """Show which agent the router picks for PROMPT, with the alternatives and the reasoning."""
    from omniclaude.routing import Router

    result = Router(_load(ctx, dirs)).route(prompt)
    console.print(
        f"[bold]{result.selected}[/] confidence {result.confidence:.2f} ({result.strategy})"
    )
    console.print(result.reasoning, highlight=False)
    for candidate in result.alternatives:
        console.print(
            f"  {candidate.agent:24} {candidate.confidence:.2f}  {candidate.reason()}",
            highlight=False,
        )


@agents_app.command("eval")
def evaluate(
    ctx: typer.Context,
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="JSONL files of {prompt, agent[, context][, split]} (default: shipped)."
        ),
    ] = None,
    *,
    dirs: DirOption = None,
    splits: Annotated[
        list[str] | None, typer.Option("--split", "-s", help="Only these splits (repeatable).")
    ] = None,
    misses: Annotated[bool, typer.Option("--misses", help="List every wrong decision.")] = False,
    strict_vocabulary: Annotated[
        bool,
        typer.Option(
            "--strict-vocabulary",
            help="Route with a concept map stripped of every word the dev-* prompts use.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Top-1 routing accuracy per split and per agent, confusions and a reliability table.

    The shipped data has a tuning part, a fixed held-out part, development sets of paraphrased
    prompts (dev-*) and a sealed set (fresh-sealed), see
    src/omniclaude/routing/datasets/README.md; each is reported on its own. The fallback
    threshold that would be best on the held-out part is shown beside the configured one.
    """
    from omniclaude.errors import ConfigurationError
    from omniclaude.routing import Router
    from omniclaude.routing.evaluation import (
        choose_threshold,
        evaluate,
        load_examples,
        report,
        shipped_examples,
        strict_concepts,
    )
    from omniclaude.routing.text import set_concepts

    try:
        examples = (
            [e for path in datasets for e in load_examples(path)]
            if datasets
            else shipped_examples()
        )
    except ConfigurationError as exc:
        fail(str(exc))
    if splits:
        examples = [e for e in examples if e.split in set(splits)]
    if not examples:
        fail("dataset: no rows" + (f" in split(s) {', '.join(splits)}" if splits else ""))
    if strict_vocabulary:
        seen = [e for e in shipped_examples() if e.split.startswith("dev-")]
        set_concepts(strict_concepts(seen))
    try:
        router = Router(_load(ctx, dirs))
        reports = report(evaluate(router, examples))
    finally:
        set_concepts(None)
    held = reports.get("held-out")
    threshold = (
        None if held is None else choose_threshold(held.outcomes, router.config.fallback_agent)
    )
    if as_json:
        typer.echo(
            json.dumps(_eval_json(reports, router.config.min_confidence, threshold), indent=2)
        )
        return
    _print_eval(reports, router.config.min_confidence, threshold, misses=misses)


def _eval_json(reports, configured: float, threshold):  # type: ignore[no-untyped-def]
    from omniclaude.routing.evaluation import reliability

    return {
        "min_confidence": configured,
        "held_out_best_threshold": None if threshold is None else threshold.threshold,
        "held_out_best_range": None if threshold is None else [threshold.low, threshold.high],
        "splits": {
            name: {
                "right": r.right,
                "total": r.total,
                "accuracy": round(r.accuracy, 4),
                "per_agent": {a: {"right": x, "total": n} for a, (x, n) in r.per_agent().items()},
                "confusions": [
                    {"expected": want, "selected": got, "count": count}
                    for (want, got), count in r.confusions()
                ],
                "reliability": [
                    {"low": b.low, "high": b.high, "decisions": b.decisions, "right": b.right}
                    for b in reliability(r.outcomes)
                ],
                "misses": [
                    {"prompt": o.example.prompt, "expected": o.example.agent,
                     "selected": o.selected, "confidence": round(o.confidence, 4)}
                    for o in r.misses()
                ],
            }
            for name, r in reports.items()
        },
    }  # fmt: skip


def _print_eval(reports, configured: float, threshold, *, misses: bool) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from omniclaude.routing.evaluation import reliability

    summary = Table("split", "right", "total", "top-1", "fallbacks", title="routing accuracy")
    for name, r in reports.items():
        falls = sum(o.is_fallback for o in r.outcomes)
        summary.add_row(name, str(r.right), str(r.total), f"{r.accuracy:.1%}", str(falls))
    console.print(summary)
    for name, r in reports.items():
        console.print(f"top-1 accuracy ({name}): {r.right}/{r.total} = {r.accuracy:.1%}",
                      highlight=False)  # fmt: skip
    agents = sorted({a for r in reports.values() for a in r.per_agent()})
    per_agent = Table("agent", *reports, title="per agent (right/total)")
    for agent in agents:
        cells = []
        for r in reports.values():
            right, total = r.per_agent().get(agent, (0, 0))
            cells.append(f"{right}/{total}" if total else "-")
        per_agent.add_row(agent, *cells)
    console.print(per_agent)
    for name, r in reports.items():
        pairs = r.confusions()
        if pairs:
            text = ", ".join(f"{want} -> {got} x{count}" for (want, got), count in pairs)
            console.print(f"confusions ({name}): {text}", highlight=False, soft_wrap=True)
    table = Table("confidence", *reports, title="reliability: right/decisions (fallbacks apart)")
    bins = {name: reliability(r.outcomes) for name, r in reports.items()}
    for i, row in enumerate(next(iter(bins.values()))):
        cells = []
        for rows in bins.values():
            b = rows[i]
            cells.append(f"{b.right}/{b.decisions} ({b.accuracy:.0%})" if b.decisions else "-")
        table.add_row(f"[{row.low:.1f}, {row.high:.1f}{']' if row.high >= 1 else ')'}", *cells)
    cells = []
    for r in reports.values():
        falls = [o for o in r.outcomes if o.is_fallback]
        cells.append(f"{sum(o.correct for o in falls)}/{len(falls)}" if falls else "-")
    table.add_row("fallback", *cells)
    console.print(table)
    line = f"fallback threshold: configured {configured:.2f}"
    if threshold is not None:
        line += (
            f"; best on held-out {threshold.threshold:.2f} (top-1 {threshold.accuracy:.1%} "
            f"there, from {threshold.low:.2f} to {threshold.high:.2f})"
        )
    console.print(line, highlight=False)
    if misses:
        for name, r in reports.items():
            for o in r.misses():
                console.print(
                    f"[red]miss[/] ({name}) {o.example.prompt!r}: expected {o.example.agent}, "
                    f"got {o.selected} ({o.confidence:.2f})",
                    highlight=False,
                )


@agents_app.command("run")
def run(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The request.")],
    agent: Annotated[str | None, typer.Option(help="Run this agent (skip routing).")] = None,
    workspace: Annotated[Path, typer.Option(help="The code tree to work on.")] = Path(),
    dirs: DirOption = None,
) -> None:
    """Run an agent locally on WORKSPACE and print its result (events go to the configured sink)."""
    import asyncio

    from omniclaude.errors import OmniClaudeError
    from omniclaude.publishing.sinks.kafka import sink_from_settings
    from omniclaude.routing import Router
    from omniclaude.runtime import AgentRunner, ExecutionRequest, Workspace

    settings = settings_from(ctx)
    registry = _load(ctx, dirs)

    async def main() -> dict[str, object]:
        sink = sink_from_settings(settings)
        async with sink:
            runner = AgentRunner(
                registry=registry,
                router=Router(registry),
                sink=sink,
                workspace=Workspace(workspace),
            )
            async with runner:
                state = await runner.run(ExecutionRequest(user_prompt=prompt, agent=agent))
            return state.as_json()

    try:
        outcome = asyncio.run(main())
    except OmniClaudeError as exc:
        fail(str(exc))
    typer.echo(json.dumps(outcome, indent=2, default=str))
    if outcome["status"] != "success":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``agents`` commands to the CLI."""
    app.add_typer(agents_app, name="agents")
