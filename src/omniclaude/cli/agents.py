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
    dataset: Annotated[
        Path | None, typer.Argument(help="JSONL of {prompt, agent[, context]}.")
    ] = None,
    dirs: DirOption = None,
) -> None:
    """Top-1 routing accuracy on a labelled data set (default: the shipped one)."""
    from importlib.resources import files

    from omniclaude.routing import Router

    text = (
        dataset.read_text()
        if dataset
        else (files("omniclaude.routing") / "datasets" / "routing.jsonl").read_text()
    )
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not rows:
        fail("dataset: no rows")
    router = Router(_load(ctx, dirs))
    misses = []
    for row in rows:
        got = router.route(row["prompt"], row.get("context"), use_cache=False).selected
        if got != row["agent"]:
            misses.append((row["prompt"], row["agent"], got))
    for prompt, want, got in misses:
        console.print(f"[red]miss[/] {prompt!r}: expected {want}, got {got}", highlight=False)
    hits = len(rows) - len(misses)
    console.print(f"top-1 accuracy: {hits}/{len(rows)} = {hits / len(rows):.1%}")


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
            state = await runner.run(ExecutionRequest(user_prompt=prompt, agent=agent))
            return state.as_json()

    try:
        outcome = asyncio.run(main())
    except OmniClaudeError as exc:
        fail(str(exc))
    typer.echo(json.dumps(outcome, indent=2, default=str))
    if outcome["status"] != "completed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``agents`` commands to the CLI."""
    app.add_typer(agents_app, name="agents")
