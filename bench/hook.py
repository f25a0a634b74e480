"""Benchmark the Claude Code hook command against a bare interpreter start.

Runs, interleaved in one process so both see the same machine load:

* ``python -c pass`` (the bare interpreter of the same venv), ``--runs`` times;
* ``omniclaude hook`` (the console script), ``--runs`` times, with realistic payloads;
* the launcher ``omniclaude hooks install`` writes (a ``#!python -IS`` script importing
  ``fast.py`` as a top-level module), ``--runs`` times, with the same payloads.

Each hook run appends its payload to a temporary spool while the bench holds the emitter's
lock (as a running emitter would), so the hook does its full work: read, check, append,
emitter check. Prints median, p99 and the ratio of each hook variant to the bare start.
Target: hook median ≤ 1.5x bare, p99 < 50 ms.

``--before REV`` adds the launcher running ``fast.py`` as it was at git revision ``REV``,
interleaved with the others, to compare a change before/after under the same load.

Usage: python bench/hook.py [--runs 200] [--before main]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent


def realistic_payloads(count: int, seed: int = 7) -> list[bytes]:
    """Claude Code payloads of the sizes seen in practice (tool responses up to ~8 KiB)."""
    rng = random.Random(seed)
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    common = {
        "session_id": session,
        "transcript_path": f"/home/dev/.claude/projects/-home-dev-app/{session}.jsonl",
        "cwd": "/home/dev/app",
        "permission_mode": "default",
        "prompt_id": str(uuid.UUID(int=rng.getrandbits(128))),
    }
    out: list[bytes] = []
    for i in range(count):
        tool_use_id = f"toolu_{rng.getrandbits(64):016x}"
        kind = i % 5
        body = "\n".join(f"line {n}: " + "x" * rng.randint(20, 90) for n in range(60))
        if kind in (0, 2):
            payload = {
                **common, "hook_event_name": "PreToolUse", "tool_name": "Bash",
                "tool_input": {"command": f"pytest -q tests/test_{i}.py", "timeout": 120000},
                "tool_use_id": tool_use_id,
            }  # fmt: skip
        elif kind in (1, 3):
            payload = {
                **common, "hook_event_name": "PostToolUse", "tool_name": "Read",
                "tool_input": {"file_path": f"/home/dev/app/src/mod_{i}.py"},
                "tool_response": {"type": "text", "file": {"content": body, "numLines": 60}},
                "tool_use_id": tool_use_id, "duration_ms": rng.randint(3, 900),
            }  # fmt: skip
        else:
            payload = {
                **common, "hook_event_name": "UserPromptSubmit",
                "prompt": "Refactor the payment module and add tests for the refund path",
            }  # fmt: skip
        out.append(json.dumps(payload).encode())
    return out


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def timed(command: list[str], stdin: bytes, env: dict[str, str]) -> float:
    """Run ``command`` once; return its wall time in milliseconds (it must exit 0)."""
    started = time.perf_counter()
    result = subprocess.run(command, input=stdin, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0 or result.stdout:
        raise SystemExit(f"{command} failed: exit {result.returncode}, {result.stderr[-500:]!r}")
    return elapsed


def _launcher_at(revision: str, tmp: Path, python: str) -> Path:
    """A launcher importing ``fast.py`` as it was at ``revision`` (compiled, as installed)."""
    import py_compile

    from omniclaude.hooks.install import write_launcher

    source = subprocess.run(
        ["git", "show", f"{revision}:src/omniclaude/hooks/fast.py"],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, check=True,
    ).stdout  # fmt: skip
    hooks_dir = tmp / "before"
    hooks_dir.mkdir()
    (hooks_dir / "fast.py").write_bytes(source)
    py_compile.compile(str(hooks_dir / "fast.py"))
    launcher = tmp / "bin" / "omniclaude-hook-before"
    write_launcher(launcher, python=python, hooks_dir=str(hooks_dir))
    return launcher


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--before", help="also run fast.py as of this git revision")
    args = parser.parse_args()

    import py_compile

    from omniclaude.hooks import fast
    from omniclaude.hooks.install import write_launcher

    python = str(BIN / "python")
    payloads = realistic_payloads(args.runs)
    with tempfile.TemporaryDirectory(prefix="omniclaude-bench-hook-") as tmp:
        spool = Path(tmp) / "spool"
        spool.mkdir(mode=0o700)
        launcher = Path(tmp) / "bin" / "omniclaude-hook"
        write_launcher(launcher, python=python, hooks_dir=str(Path(fast.__file__).parent))
        py_compile.compile(fast.__file__)  # as `hooks install` and pip do
        variants: dict[str, list[str]] = {
            "bare `python -c pass`": [python, "-c", "pass"],
            "`omniclaude hook` (console script)": [str(BIN / "omniclaude"), "hook"],
            "installed launcher (python -IS)": [str(launcher)],
        }
        if args.before:
            variants[f"launcher, fast.py @ {args.before}"] = [
                str(_launcher_at(args.before, Path(tmp), python))
            ]
        env = {**os.environ, "OMNICLAUDE_SPOOL_DIR": str(spool)}
        for name in ("COVERAGE_PROCESS_START", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)  # a real install has its .pyc files
        lock_fd = os.open(spool / fast.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # act as the running emitter
        try:
            for command in variants.values():  # warm the page cache and .pyc files
                for _ in range(5):
                    timed(command, payloads[0], env)
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for i in range(args.runs):
                order = list(variants.items())
                random.Random(i).shuffle(order)
                for name, command in order:
                    samples[name].append(timed(command, payloads[i], env))
            spooled = (spool / fast.SPOOL_FILE).read_bytes().count(b"\n")
            log = spool / fast.LOG_FILE
            problems = log.read_text() if log.exists() else ""
        finally:
            os.close(lock_fd)

    expected = (len(variants) - 1) * (args.runs + 5)
    print(f"hook benchmark: {args.runs} runs per variant, interleaved, on {os.cpu_count()} cores")
    bare = statistics.median(samples["bare `python -c pass`"])
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p99 = percentile(values, 0.99)
        print(
            f"  {name:<36} median {median:6.2f} ms   p99 {p99:6.2f} ms   "
            f"ratio to bare {median / bare:4.2f}x"
        )
    print(f"  records spooled: {spooled} (expected {expected})")
    if spooled != expected or problems:
        print(f"  PROBLEM: hook.log says: {problems[-1000:]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
