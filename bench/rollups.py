"""Benchmark the rollups' cost on the write path: the same batches with and without them.

The rollups are kept by statement-level triggers in the writing transaction (migration
0005). This writes realistic agent actions in batches, as the consumer does (one ``COPY``
per batch, its own transaction), alternately with the rollup trigger enabled and disabled
(``ALTER TABLE .. DISABLE TRIGGER``) batch by batch, so both see the same machine load, and
prints both rates and their ratio; then the same for the fallback path (``INSERT .. ON
CONFLICT``, what a redelivered batch takes). Last, the session counts' cost (migration 0009:
the LLM calls' trigger also moves the session cells): a steady stream of LLM calls from
``--sessions`` active sessions (each on one project, with two agents, calls in time order over
the last three hours), written in consecutive ``COPY`` batches in one transaction (rolled
back), alternately with 0006's trigger function and 0009's, four rounds; then the same with
0010's per-day and session sums' triggers disabled and enabled.

Services: as bench/ingest.py (``OMNICLAUDE_DATABASE_URL`` or an embedded PostgreSQL).

Usage: python bench/rollups.py [--batches 40] [--batch-events 2000] [--insert-batches 10]
                               [--llm-batches 10] [--sessions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from ingest import Services, realistic_actions, with_services

from omniclaude.events import CostSource, LlmCall, llm_call_id, utc_now
from omniclaude.storage.partitions import PartitionCache
from omniclaude.storage.pool import connect
from omniclaude.storage.writers import WRITERS, copy_events, enable_copy, write_events

TRIGGER = "agent_actions_rollup"


def _fresh_rows(count: int, seed: int) -> list[Any]:
    events = realistic_actions(count, seed=seed)
    for event in events:  # a new id each round: every row is inserted
        object.__setattr__(event, "event_id", uuid.uuid4())
    return events


async def _toggle(conn: Any, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    await conn.execute(f"ALTER TABLE agent_actions {verb} TRIGGER {TRIGGER}")


async def _paired(
    conn: Any, batches: list[list[Any]], write: Any
) -> tuple[float, float, list[float]]:
    """Write the batches two by two, one with the trigger and one without (alternating which
    goes first), so both modes see the same load; return both rates and per-pair ratios."""
    spent = {True: 0.0, False: 0.0}
    rows = {True: 0, False: 0}
    ratios: list[float] = []
    for index in range(0, len(batches) - 1, 2):
        order = (True, False) if index % 4 == 0 else (False, True)
        took: dict[bool, float] = {}
        for enabled, batch in zip(order, batches[index : index + 2], strict=True):
            await _toggle(conn, enabled)
            started = time.perf_counter()
            await write(batch)
            took[enabled] = time.perf_counter() - started
            spent[enabled] += took[enabled]
            rows[enabled] += len(batch)
        ratios.append(took[False] / took[True])
    await _toggle(conn, True)
    return rows[True] / spent[True], rows[False] / spent[False], ratios


def _llm_stream(count: int, sessions: int, seed: int) -> list[LlmCall]:
    """LLM calls of ``sessions`` active sessions over the last three hours, in time order."""
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(sessions)]
    start = utc_now().timestamp() - 3 * 3600
    calls = []
    for i in range(count):
        request = f"req_{rng.getrandbits(64):016x}"
        n = rng.randrange(sessions)
        calls.append(
            LlmCall(event_id=llm_call_id(request_id=request, message_id=None),
                    correlation_id=uuid.uuid4(), model=rng.choice(["claude-a", "claude-b"]),
                    input_tokens=10, output_tokens=5, request_id=request, session_id=ids[n],
                    project_name=f"p{n % 8}", agent_name=f"a{(n + rng.randrange(2)) % 12}",
                    cost_usd=0.01, cost_source=CostSource.ESTIMATE, source="transcript",
                    timestamp=datetime.fromtimestamp(start + i * 3 * 3600 / count, tz=UTC))
        )  # fmt: skip
    return calls


async def _llm_stream_rates(
    conn: Any,
    args: argparse.Namespace,
    cache: PartitionCache,
    setups: dict[str, str],
    restore: str,
) -> dict[str, float]:
    """Calls per second of a steady stream under each set-up (SQL run before its round),
    alternating; ``restore`` is run at the end."""
    calls = _llm_stream(args.llm_batches * args.batch_events, args.sessions, 303)
    took: dict[str, list[float]] = {name: [] for name in setups}
    try:
        for round_ in range(4):
            names = list(setups) if round_ % 2 == 0 else list(setups)[::-1]
            for name in names:
                await conn.execute(setups[name])
                writing = conn.transaction()
                await writing.start()
                started = time.perf_counter()
                for at in range(0, len(calls), args.batch_events):
                    await copy_events(conn, calls[at : at + args.batch_events], partitions=cache)
                took[name].append(time.perf_counter() - started)
                await writing.rollback()
    finally:
        await conn.execute(restore)
    return {name: len(calls) / statistics.median(spent) for name, spent in took.items()}


def _llm_setups() -> list[tuple[dict[str, str], str]]:
    """What the LLM stream is written under: 0006's trigger function against 0009's (the
    session cells); 0010's per-day and session sums' triggers disabled against enabled."""
    m9 = importlib.import_module("omniclaude.storage.migrations.versions.0009_session_cells")
    triggers = (
        "agent_llm_calls_rollup_session_sums",
        "agent_llm_calls_rollup_updates_session_sums",
    )
    switch = "".join(f"ALTER TABLE agent_llm_calls {{}} TRIGGER {t};" for t in triggers)
    return [
        ({"0006 (no session cells)": m9.TRIGGER_0006, "0009 (session cells)": m9.TRIGGER},
         m9.TRIGGER),
        ({"without 0010's session sums": switch.format("DISABLE", "DISABLE"),
          "with 0010's session sums": switch.format("ENABLE", "ENABLE")},
         switch.format("ENABLE", "ENABLE")),
    ]  # fmt: skip


async def _measure(args: argparse.Namespace, services: Services) -> None:
    writer = WRITERS["agent_actions"]
    conn = await connect(services.database_url)
    try:
        await enable_copy(conn)
        cache = PartitionCache()
        events = _fresh_rows(args.batches * args.batch_events, 101)
        rows = [writer.row(e) for e in events]
        copy_batches = [
            rows[i : i + args.batch_events] for i in range(0, len(rows), args.batch_events)
        ]

        async def copy(batch: list[Any]) -> None:
            await writer.copy_rows(conn, batch, cache)

        copy_with, copy_without, copy_ratios = await _paired(conn, copy_batches, copy)
        events = _fresh_rows(args.insert_batches * args.batch_events, 202)
        insert_batches = [
            events[i : i + args.batch_events] for i in range(0, len(events), args.batch_events)
        ]

        async def insert(batch: list[Any]) -> None:
            await write_events(conn, batch, partitions=cache)

        insert_with, insert_without, insert_ratios = await _paired(conn, insert_batches, insert)
        rollup_rows = await conn.fetchval("SELECT count(*) FROM rollup_actions_hour")
        streams = [
            await _llm_stream_rates(conn, args, cache, setups, restore)
            for setups, restore in _llm_setups()
        ]
    finally:
        await conn.close()
    print(f"services: {services.description}")
    print(f"COPY (the consumer's path), {args.batches} batches of {args.batch_events} actions,")
    print("  alternately with and without the rollup trigger:")
    print(f"  with rollups:    {copy_with:,.0f} rows/s")
    print(f"  without rollups: {copy_without:,.0f} rows/s")
    print(
        f"  ratio with / without: {copy_with / copy_without:.2f}x "
        f"(median of pairs {statistics.median(copy_ratios):.2f}x)"
    )
    print(
        f"INSERT .. ON CONFLICT (the redelivery path), {args.insert_batches} batches of "
        f"{args.batch_events}:"
    )
    print(f"  with rollups:    {insert_with:,.0f} rows/s")
    print(f"  without rollups: {insert_without:,.0f} rows/s")
    print(
        f"  ratio with / without: {insert_with / insert_without:.2f}x "
        f"(median of pairs {statistics.median(insert_ratios):.2f}x)"
    )
    print(f"rollup_actions_hour rows after the run: {rollup_rows}")
    print(
        f"LLM calls, {args.llm_batches} consecutive COPY batches of {args.batch_events} from "
        f"{args.sessions} active sessions (median of 4 rounds):"
    )
    for rates in streams:
        base = next(iter(rates.values()))
        for name, rate in rates.items():
            print(f"  {name + ':':<29} {rate:,.0f} calls/s ({rate / base:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="COPY batches (pairs)")
    parser.add_argument("--batch-events", type=int, default=2000)
    parser.add_argument("--insert-batches", type=int, default=10)
    parser.add_argument("--llm-batches", type=int, default=10, help="LLM COPY batches a round")
    parser.add_argument("--sessions", type=int, default=300, help="active sessions (LLM)")
    args = parser.parse_args(argv)
    asyncio.run(with_services(_measure, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
