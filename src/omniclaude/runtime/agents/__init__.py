"""Built-in agents: they do real work on a local code tree, with no external service.

Each module exposes ``async def run(ctx: AgentContext) -> dict``; the YAML definitions in
``omniclaude/routing/agents`` point at them.
"""

__all__: list[str] = []
