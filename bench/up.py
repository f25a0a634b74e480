"""Benchmark ``omniclaude up``: seconds until the stack is ready, cold and warm.

Runs ``omniclaude up --detach`` twice on one fresh data directory (free ports): the first run
initialises the embedded PostgreSQL cluster (cold), the second starts from it (warm caches,
the case the < 5 s target is about). For each it reports the time until ``up`` returned
("ready": every component answers its probe) and until the consumer holds its partitions
(``/ready`` reports them assigned, i.e. the group join on the broker completed), then runs
``down``. The same-run baseline is the warm start of the embedded PostgreSQL alone.

Usage: python bench/up.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from omniclaude.stack.children import omniclaude_argv

PORTS = ["--api-port", "0", "--pg-port", "0", "--kafka-port", "0", "--consumer-port", "0"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        omniclaude_argv(*args), env=_env(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def _consumer_url(data_dir: Path) -> str:
    status = json.loads(_run("status", "--json", "--data-dir", str(data_dir)).stdout)
    return str(status["components"]["consumer"]["address"])


def _assigned(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as answer:  # noqa: S310 - ours
            return int(json.loads(answer.read())["assigned_partitions"])
    except Exception:
        return 0


def one_start(data_dir: Path) -> tuple[float, float]:
    """(seconds until up returned, seconds until the consumer held its partitions)."""
    started = time.perf_counter()
    up = _run("up", "--detach", "--data-dir", str(data_dir), *PORTS)
    ready = time.perf_counter() - started
    if up.returncode != 0:
        raise SystemExit(f"up failed: {up.stdout}{up.stderr}")
    url = _consumer_url(data_dir)
    while not _assigned(url):
        if time.perf_counter() - started > 120:
            raise SystemExit("the consumer never got its partitions")
        time.sleep(0.05)
    joined = time.perf_counter() - started
    _run("down", "--data-dir", str(data_dir))
    return ready, joined


def postgres_alone(data_dir: Path) -> float:
    """Warm start of the stack's own PostgreSQL cluster, alone (the baseline)."""
    from omniclaude.stack.postgres import EmbeddedPostgres

    pg = EmbeddedPostgres(data_dir / "postgres", die_with_parent=True)
    started = time.perf_counter()
    pg.start(timeout_s=120)
    elapsed = time.perf_counter() - started
    pg.stop()
    return elapsed


def main() -> int:
    """Cold start, warm start, baseline, print."""
    root = Path(tempfile.mkdtemp(prefix="omniclaude-bench-up-"))
    data_dir = root / "data"
    try:
        cold = one_start(data_dir)
        warm = one_start(data_dir)
        baseline = postgres_alone(data_dir)
    finally:
        if (data_dir / "stack").exists():
            _run("down", "--data-dir", str(data_dir))
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'':34} {'ready':>8} {'partitions held':>16}")
    print(f"{'omniclaude up (cold, initdb)':34} {cold[0]:7.1f}s {cold[1]:15.1f}s")
    print(f"{'omniclaude up (warm)':34} {warm[0]:7.1f}s {warm[1]:15.1f}s")
    print(f"{'baseline: embedded PostgreSQL alone':34} {baseline:7.1f}s")
    print(f"warm ready / PostgreSQL alone: {warm[0] / baseline:.1f}x")
    verdict = "meets" if warm[0] < 5 else "MISSES"
    print(f"warm up to ready {warm[0]:.1f}s: {verdict} the < 5 s target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
