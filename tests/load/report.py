"""Latency and throughput bookkeeping for the load test, and the ``test-output/load.json`` file.

Pure code (no I/O but :func:`write_report`), unit-tested in ``tests/unit/quality``.
Percentiles are nearest-rank (the value below which ``p`` percent of the samples fall),
which is what load tools such as wrk and k6 print.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHAOS_FIGURES",
    "LOAD_SECONDS_ENV",
    "OUTPUT_DIR",
    "WRITTEN",
    "LatencyRecorder",
    "OperationStats",
    "format_table",
    "load_seconds",
    "percentile",
    "record_chaos",
    "write_report",
]

LOAD_SECONDS_ENV = "OMNICLAUDE_LOAD_SECONDS"
"""How long the load runs: CI sets 15 (``scripts/ci_stages.py``); a full run uses 60."""
_DEFAULT_SECONDS = 60.0
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"
WRITTEN: list[Path] = []
"""Reports written by this process (the terminal summary prints them)."""


def load_seconds(environ: dict[str, str] | None = None) -> float:
    """Return the traffic duration from ``OMNICLAUDE_LOAD_SECONDS`` (default 60).

    Raises:
        ValueError: the variable is not a positive number.
    """
    env = os.environ if environ is None else environ
    text = env.get(LOAD_SECONDS_ENV, "").strip()
    if not text:
        return _DEFAULT_SECONDS
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{LOAD_SECONDS_ENV}: {text!r} is not a positive number of seconds")
    return value


def percentile(samples: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``samples`` (None when there are none).

    Args:
        samples: the values, in any order.
        pct: 0 < pct <= 100.
    """
    if not samples:
        return None
    if not 0 < pct <= 100:
        raise ValueError(f"pct: {pct} is not in (0, 100]")
    ordered = sorted(samples)
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass
class OperationStats:
    """What one kind of request saw: latencies (seconds), status codes, failures."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for code, n in self.statuses.items() if code.startswith("5"))

    def summary(self, seconds: float) -> dict[str, Any]:
        """Counts, throughput (per second of traffic) and p50/p95/p99/max in milliseconds."""

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 2)

        count = len(self.latencies)
        return {
            "requests": count,
            "throughput_per_s": round(count / seconds, 1) if seconds > 0 else None,
            "errors": len(self.failures),
            "server_errors": self.server_errors,
            "status": dict(sorted(self.statuses.items())),
            "latency_ms": {
                "p50": ms(percentile(self.latencies, 50)),
                "p95": ms(percentile(self.latencies, 95)),
                "p99": ms(percentile(self.latencies, 99)),
                "max": ms(max(self.latencies, default=None)),
            },
            "first_errors": self.failures[:5],
        }


class LatencyRecorder:
    """Collects one :class:`OperationStats` per operation name (``POST /events``, ``hook``...)."""

    def __init__(self) -> None:
        self.operations: defaultdict[str, OperationStats] = defaultdict(OperationStats)

    def record(
        self, operation: str, seconds: float, status: int | str, failure: str | None = None
    ) -> None:
        """Record one request: its latency, its status (an HTTP code, an exit code, or
        ``"transport"``) and, when it counts as an error, why."""
        stats = self.operations[operation]
        stats.latencies.append(seconds)
        stats.statuses[str(status)] += 1
        if failure is not None:
            stats.failures.append(f"{status}: {failure}"[:300])

    @property
    def server_errors(self) -> int:
        """5xx responses over every operation."""
        return sum(s.server_errors for s in self.operations.values())

    @property
    def failures(self) -> list[str]:
        """Every recorded failure, prefixed with its operation."""
        return [f"{op}: {f}" for op, s in self.operations.items() for f in s.failures]

    def summary(self, seconds: float) -> dict[str, Any]:
        """Per operation and in total (every request, whatever the operation)."""
        everything = OperationStats()
        for stats in self.operations.values():
            everything.latencies += stats.latencies
            everything.statuses.update(stats.statuses)
            everything.failures += stats.failures
        return {
            "operations": {
                name: stats.summary(seconds) for name, stats in sorted(self.operations.items())
            },
            "total": everything.summary(seconds),
        }


def write_report(report: dict[str, Any], name: str = "load.json") -> Path:
    """Write ``report`` as indented JSON under ``test-output/`` and return the path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / name
    path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    WRITTEN.append(path)
    return path


def format_table(summary: dict[str, Any], rows: Iterable[str] | None = None) -> list[str]:
    """Human-readable lines of a :meth:`LatencyRecorder.summary` (for the terminal)."""
    ops = summary["operations"]
    header = (
        f"{'operation':<22} {'requests':>8} {'per s':>8} {'errors':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    lines = [header]
    for name in rows if rows is not None else [*ops, "total"]:
        stats = summary["total"] if name == "total" else ops[name]
        lat = stats["latency_ms"]
        lines.append(
            f"{name:<22} {stats['requests']:>8} {stats['throughput_per_s'] or 0:>8} "
            f"{stats['errors']:>6} {lat['p50'] or 0:>8} {lat['p95'] or 0:>8} {lat['p99'] or 0:>8}"
        )
    return lines


CHAOS_FIGURES: dict[str, dict[str, Any]] = {}
"""Figures of the chaos tests run in this process (written to ``test-output/chaos.json``)."""


def record_chaos(test: str, **figures: Any) -> None:
    """Keep one chaos test's figures (events sent, during the fault, recovery seconds...)."""
    CHAOS_FIGURES[test] = figures
