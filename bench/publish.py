"""Benchmark the SDK's publish path: what a ``log_tool_call`` costs the caller.

Measures, per call, in one process (so every figure sees the same machine load):

1. baseline: a bare ``dict`` copy of the same event's fields (and a ``copy.deepcopy``);
2. ``ActionLogger.log_tool_call`` into an :class:`~omniclaude.testing.InMemorySink`
   (event construction + validation + redaction, no I/O);
3. ``log_tool_call`` into a :class:`~omniclaude.publishing.KafkaSink` whose broker is
   UNREACHABLE (nothing listens on the port): the call must not wait on the network; the
   background pump spools the events to the SQLite outbox;
4. ``log_tool_call`` into a KafkaSink on a live Tansu broker (started for the run unless
   ``OMNICLAUDE_KAFKA_BOOTSTRAP`` is set), plus the time until the broker acknowledged all.

Prints median and p99 (microseconds) and the ratio of each to the dict-copy baseline.
Target: the unreachable-broker call well under 1 ms.

Usage: python bench/publish.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

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


def _stats(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    median = statistics.median(ordered) / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return median, p99


def _baseline(calls: int) -> tuple[tuple[float, float], tuple[float, float]]:
    event = {
        "event_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
        "action_type": "tool_call", "action_name": "Bash",
        "action_details": {"params": PARAMS, "result": RESULT}, "agent_name": "bench",
    }  # fmt: skip
    shallow, deep = [], []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        dict(event)
        t1 = time.perf_counter_ns()
        copy.deepcopy(event)
        t2 = time.perf_counter_ns()
        shallow.append(t1 - t0)
        deep.append(t2 - t1)
    return _stats(shallow), _stats(deep)


async def _time_calls(call: Callable[[], Awaitable[object]], calls: int) -> list[int]:
    samples = []
    for i in range(calls):
        t0 = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - t0)
        if i % 500 == 0:
            await asyncio.sleep(0)  # let the pump run, as a real agent's awaits would
    return samples


async def _in_memory(calls: int) -> list[int]:
    logger = ActionLogger(sink=InMemorySink(), agent_name="bench")
    cid = uuid.uuid4()
    return await _time_calls(lambda: logger.log_tool_call(cid, "Bash", PARAMS, RESULT), calls)


async def _kafka(
    calls: int, bootstrap: str, spool: Path, flush_s: float
) -> tuple[list[int], float, dict[str, object]]:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    sink = KafkaSink(
        bootstrap_servers=[bootstrap], spool_dir=spool, topic_prefix=prefix,
        producer=ProducerSettings(flush_timeout_s=2.0), request_timeout_ms=3000,
    )  # fmt: skip
    logger = ActionLogger(sink=sink, agent_name="bench")
    cid = uuid.uuid4()
    async with sink:
        samples = await _time_calls(
            lambda: logger.log_tool_call(cid, "Bash", PARAMS, RESULT), calls
        )
        t0 = time.perf_counter()
        await sink.flush(flush_s)
        drain_s = time.perf_counter() - t0
        stats = sink.stats()
    return samples, drain_s, stats


def _row(name: str, figures: tuple[float, float], base: float) -> None:
    median, p99 = figures
    print(f"  {name:<44} median {median:9.2f} us   p99 {p99:9.2f} us   x{median / base:8.1f}")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    shallow, deep = _baseline(args.calls)
    base = shallow[0]
    print(f"publish path, {args.calls} calls each (ratio = median / median of dict copy)")
    _row("baseline: dict(event) copy", shallow, base)
    _row("baseline: copy.deepcopy(event)", deep, base)
    _row("log_tool_call -> InMemorySink", _stats(asyncio.run(_in_memory(args.calls))), base)

    with tempfile.TemporaryDirectory() as tmp:
        dead = f"127.0.0.1:{unused_port()}"
        samples, drain_s, stats = asyncio.run(_kafka(args.calls, dead, Path(tmp) / "down", 3))
        _row("log_tool_call -> KafkaSink, broker UNREACHABLE", _stats(samples), base)
        print(f"    spooled to the outbox: {stats['outbox']} events (flush gave up after "
              f"{drain_s:.1f}s, as bounded)")  # fmt: skip

        bootstrap = os.environ.get("OMNICLAUDE_KAFKA_BOOTSTRAP")
        broker = None
        if not bootstrap:
            from omniclaude.stack.tansu import TansuBroker

            broker = TansuBroker(log_path=Path(tmp) / "tansu.log")
            broker.start(timeout_s=60)
            bootstrap = broker.bootstrap
        try:
            samples, drain_s, stats = asyncio.run(
                _kafka(args.calls, bootstrap, Path(tmp) / "up", 120)
            )
        finally:
            if broker is not None:
                broker.stop()
        _row("log_tool_call -> KafkaSink, broker up", _stats(samples), base)
        rate = args.calls / (sum(samples) / 1e9 + drain_s)
        print(f"    acknowledged {stats['delivered']} events; calls + final flush = "
              f"{rate:,.0f} events/s end to end")  # fmt: skip


if __name__ == "__main__":
    main()
