"""The ``omniclaude`` console script.

``omniclaude hook`` is on Claude Code's critical path, so it is dispatched here before Typer,
Rich or anything else of the package is imported; every other command goes to the Typer app.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line: the hook fast path, or the full CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "hook":
        from omniclaude.hooks.fast import main as hook_main

        raise SystemExit(hook_main(sys.argv[2:]))
    from omniclaude.cli import main as cli_main

    cli_main()
