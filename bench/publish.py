"""Benchmark the SDK's publish path: what a ``log_*`` call costs the caller.

Measures, per call, in one process, **interleaved** in rounds (every figure of a table sees
the same machine load; this machine is shared):

1. baselines: a bare ``dict`` copy of the event's fields, a ``copy.deepcopy`` of them, the
   construction of a **bare pydantic model** with the same fields and types and no validator
   of ours (what any pydantic event costs), and ``AgentAction.model_validate`` of the same
   dict (the contract's model alone: limits, redaction-free);
2. ``log_tool_call``, ``log_decision`` and ``log_success`` into a
   :class:`~omniclaude.publishing.KafkaSink` whose broker is UNREACHABLE (nothing listens on
   the port): the call must not wait on the network; the sink's sender loop spools the events
   to the SQLite outbox. Afterwards the outbox file is opened again and every event must be
   in it (exit status 1 otherwise); the time until nothing lived in memory only
   (``wait_durable``) is the durability window a crash could lose;
3. ``log_tool_call`` into an :class:`~omniclaude.testing.InMemorySink`;
4. unless ``--no-live``: ``log_tool_call`` into a KafkaSink on a live Tansu broker (started
   for the run unless ``OMNICLAUDE_KAFKA_BOOTSTRAP`` is set), plus the time until the broker
   acknowledged all.

Prints median and p99 (microseconds), each median's ratio to the bare pydantic model's
median of the same rounds, the calling thread's CPU time per call (``time.thread_time_ns``
over each round, median of the rounds; the timer calls included: what is left when waiting
for the GIL or a core is taken out), and the load average. Target: ``log_*`` median ≤ 15 µs with the
broker down.

Usage: python bench/publish.py [--calls 20000] [--no-live]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from omniclaude.events import ActionType, AgentAction
from omniclaude.publishing import ActionLogger, KafkaSink
from omniclaude.settings import ProducerSettings
from omniclaude.stack.ports import unused_port
from omniclaude.testing import InMemorySink

PARAMS = {
    "command": "pytest -q tests/unit -k 'publish and not slow'",
    "cwd": "/home/dev/projects/omniclaude",
    "timeout": 120_000,
    "env": {"PYTHONPATH": "src", "CI": "1"},
}
RESULT = {"exit_code": 0, "stdout": "." * 200 + "\n120 passed in 3.2s\n", "stderr": ""}
ROUND = 250
"""Calls of each candidate per round (rounds alternate between the candidates)."""

Sample = Callable[[], object]
AsyncSample = Callable[[], Awaitable[object]]


def _bare_model() -> type[BaseModel]:
    """The baseline: AgentAction's fields, types and defaults, no validator or limit of ours
    (what constructing any pydantic event of this shape costs)."""
    fields: dict[str, Any] = {
        name: (info.annotation, Field(default=info.default, default_factory=info.default_factory))
        if info.default_factory is not None
        else (info.annotation, info.default if not info.is_required() else ...)
        for name, info in AgentAction.model_fields.items()
    }
    config = ConfigDict(frozen=True, extra="allow")
    return create_model("BareAction", __config__=config, **fields)


BareAction = _bare_model()


def _stats(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    median = statistics.median(ordered) / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return median, p99


def _fields(cid: uuid.UUID) -> dict[str, Any]:
    return {
        "correlation_id": cid, "action_type": ActionType.TOOL_CALL, "action_name": "Bash",
        "action_details": {"params": PARAMS, "result": RESULT}, "agent_name": "bench",
    }  # fmt: skip


def _baselines(cid: uuid.UUID) -> dict[str, Sample]:
    fields = _fields(cid)
    return {
        "baseline: dict(fields) copy": lambda: dict(fields),
        "baseline: copy.deepcopy(fields)": lambda: copy.deepcopy(fields),
        "baseline: bare pydantic model (same fields)": lambda: BareAction(**fields),
        "baseline: AgentAction.model_validate(fields)": lambda: AgentAction.model_validate(fields),
    }


CPU: dict[str, list[float]] = {}
"""Per candidate, the calling thread's CPU time per call of each round (ns): the wall-clock
samples minus nothing but waiting (for the GIL, for a core) would be these."""


async def _rounds(
    calls: int, sync: dict[str, Sample], calls_async: dict[str, AsyncSample]
) -> dict[str, list[int]]:
    """Time every candidate ``calls`` times, alternating in rounds of :data:`ROUND`; also
    record the thread's CPU time per call of each round in :data:`CPU`."""
    samples: dict[str, list[int]] = {name: [] for name in [*sync, *calls_async]}
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    for name in samples:
        CPU[name] = []
    for _ in range(max(1, calls // ROUND)):
        for name, call in sync.items():
            out = samples[name]
            c0 = cpu()
            for _ in range(ROUND):
                t0 = clock()
                call()
                out.append(clock() - t0)
            CPU[name].append((cpu() - c0) / ROUND)
        for name, acall in calls_async.items():
            out = samples[name]
            c0 = cpu()
            for _ in range(ROUND):
                t0 = clock()
                await acall()
                out.append(clock() - t0)
            CPU[name].append((cpu() - c0) / ROUND)
            await asyncio.sleep(0)  # let the sender loop run, as a real agent's awaits would
    return samples


def _table(title: str, samples: dict[str, list[int]], base_name: str) -> dict[str, float]:
    base = _stats(samples[base_name])[0]
    load = os.getloadavg()
    print(f"\n{title}\n  (ratio = median / median of the bare pydantic model, same rounds; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")  # fmt: skip
    medians = {}
    for name, values in samples.items():
        median, p99 = _stats(values)
        medians[name] = median
        cpu = statistics.median(CPU[name]) / 1000 if CPU.get(name) else float("nan")
        print(f"  {name:<48} median {median:8.2f} us   p99 {p99:9.2f} us   x{median / base:6.2f}"
              f"   cpu/call {cpu:6.2f} us")  # fmt: skip
    return medians


def _outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _sink(bootstrap: str, spool: Path, flush_timeout_s: float) -> KafkaSink:
    return KafkaSink(
        bootstrap_servers=[bootstrap], spool_dir=spool, topic_prefix=f"b{uuid.uuid4().hex[:6]}.",
        producer=ProducerSettings(flush_timeout_s=flush_timeout_s), request_timeout_ms=3000,
    )  # fmt: skip


async def _broker_down(calls: int, spool: Path) -> tuple[dict[str, list[int]], float, int]:
    sink = _sink(f"127.0.0.1:{unused_port()}", spool, 1.0)
    logger = ActionLogger(sink=sink, agent_name="bench")
    cid = uuid.uuid4()
    async with sink:
        samples = await _rounds(
            calls,
            _baselines(cid),
            {
                "log_tool_call (broker down)": lambda: logger.log_tool_call(
                    cid, "Bash", PARAMS, RESULT
                ),
                "log_decision (broker down)": lambda: logger.log_decision(
                    cid, "patch the parser", {"files": ["src/app.py"], "confidence": 0.8}
                ),
                "log_success (broker down)": lambda: logger.log_success(
                    cid, "tests pass", {"passed": 120}
                ),
            },
        )
        t0 = time.perf_counter()
        durable = await sink.wait_durable(30)
        window_s = time.perf_counter() - t0
        if not durable:
            print("  !! events still in memory only after 30 s")
    sent = sum(len(v) for k, v in samples.items() if "broker down" in k)
    return samples, window_s, sent


async def _in_memory(calls: int) -> dict[str, list[int]]:
    logger = ActionLogger(sink=InMemorySink(), agent_name="bench")
    cid = uuid.uuid4()
    fields = _fields(cid)
    return await _rounds(
        calls,
        {"baseline: bare pydantic model (same fields)": lambda: BareAction(**fields)},
        {
            "log_tool_call -> InMemorySink": lambda: logger.log_tool_call(
                cid, "Bash", PARAMS, RESULT
            )
        },
    )


async def _live(calls: int, bootstrap: str, spool: Path) -> tuple[list[int], float, int]:
    sink = _sink(bootstrap, spool, 2.0)
    logger = ActionLogger(sink=sink, agent_name="bench")
    cid = uuid.uuid4()
    async with sink:
        samples = await _rounds(
            calls, {}, {"live": lambda: logger.log_tool_call(cid, "Bash", PARAMS, RESULT)}
        )
        t0 = time.perf_counter()
        await sink.flush(120)
        drain_s = time.perf_counter() - t0
        delivered = sink.delivered
    return samples["live"], drain_s, delivered


def main() -> None:
    """Run the benchmark and print the figures; exit 1 if an event is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--no-live", action="store_true", help="skip the live-broker run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    base = "baseline: bare pydantic model (same fields)"
    print(f"publish path, {args.calls} calls per candidate, interleaved in rounds of {ROUND}")

    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "down"
        samples, window_s, sent = asyncio.run(_broker_down(args.calls, spool))
        medians = _table("KafkaSink, broker UNREACHABLE", samples, base)
        rows = _outbox_rows(spool / "outbox.sqlite3")
        print(f"    outbox after stop: {rows} of {sent} events"
              f" ({'all there' if rows == sent else 'MISSING EVENTS'}); in memory only for"
              f" {window_s * 1000:.1f} ms after the last call (wait_durable)")  # fmt: skip
        worst = max(v for k, v in medians.items() if "broker down" in k)
        print(f"    slowest log_* median {worst:.2f} us (target 15 us)")

        _table("InMemorySink", asyncio.run(_in_memory(args.calls)), base)

        if not args.no_live:
            bootstrap = os.environ.get("OMNICLAUDE_KAFKA_BOOTSTRAP")
            broker = None
            if not bootstrap:
                from omniclaude.stack.tansu import TansuBroker

                broker = TansuBroker(log_path=Path(tmp) / "tansu.log")
                broker.start(timeout_s=60)
                bootstrap = broker.bootstrap
            try:
                live, drain_s, delivered = asyncio.run(
                    _live(args.calls, bootstrap, Path(tmp) / "up")
                )
            finally:
                if broker is not None:
                    broker.stop()
            median, p99 = _stats(live)
            rate = len(live) / (sum(live) / 1e9 + drain_s)
            print(f"\nKafkaSink, broker up\n  log_tool_call median {median:.2f} us, p99 {p99:.2f} "
                  f"us; acknowledged {delivered} of {len(live)}; calls + final flush = "
                  f"{rate:,.0f} events/s end to end")  # fmt: skip
    if rows != sent:
        sys.exit(1)


if __name__ == "__main__":
    main()
