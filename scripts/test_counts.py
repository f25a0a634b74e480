"""Count the tests of each level of the pyramid (for docs/testing.md).

Runs ``pytest --collect-only -q`` on each level's directory and prints a Markdown table:
level, directory, tests (parametrised cases counted one by one), share of the total, and the
CI stage that runs it. Usage: ``python scripts/test_counts.py`` (from anywhere).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (
    ("unit", "tests/unit", "unit"),
    ("wheel", "tests/wheel", "wheel"),
    ("integration", "tests/integration", "integration"),
    ("system", "tests/system", "system"),
    ("load", "tests/load", "load-chaos"),
    ("chaos", "tests/chaos", "load-chaos"),
)
_COLLECTED = re.compile(r"(\d+) tests? collected")


def count(directory: str) -> int:
    """Return how many tests pytest collects under ``directory``.

    Raises:
        RuntimeError: pytest failed to collect (its output is in the message).
    """
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", directory],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode not in (0, 5):
        raise RuntimeError(f"collecting {directory} failed:\n{done.stdout[-2000:]}{done.stderr}")
    match = _COLLECTED.search(done.stdout)
    if match:
        return int(match.group(1))
    return sum(1 for line in done.stdout.splitlines() if "::" in line)


def table(counts: dict[str, int]) -> list[str]:
    """The Markdown table of ``counts`` (level → tests)."""
    total = sum(counts.values()) or 1
    lines = ["| level | directory | tests | share | CI stage |", "|---|---|---:|---:|---|"]
    for level, directory, stage in LEVELS:
        n = counts[level]
        lines.append(f"| {level} | `{directory}` | {n} | {100 * n / total:.0f}% | {stage} |")
    lines.append(f"| **total** | | **{sum(counts.values())}** | | |")
    return lines


def main() -> int:
    """Print the table."""
    counts = {level: count(directory) for level, directory, _ in LEVELS}
    print("\n".join(table(counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
