"""Benchmark export and re-import: 1M actions to JSON lines and Parquet and back, in bounded
memory.

1. ``COPY``s ``--rows`` realistic agent actions (bench/ingest.py's builder, about 1 KiB of
   JSON each) into a scratch database, spread over three days (three partitions), built
   and copied in batches so the loader's own memory stays small.
2. Runs ``omniclaude export`` (the installed command, a process of its own) for
   ``agent_actions`` in jsonl and in parquet, each also, as its memory baseline, for a tenth
   of the window (bounded memory: the same peak for 10x the rows); each child's peak RSS
   is its ``VmHWM`` (sampled from /proc while it runs).
3. Baseline of speed, same run: PostgreSQL's own ``COPY (SELECT … ORDER BY …) TO STDOUT``
   of the same rows and order (what no exporter can beat), read and discarded.
4. Runs ``omniclaude import`` of each file into a fresh database and compares the counts of
   every table (and runs it again: nothing added).

Prints rows/s, peak RSS and the ratios. Services as bench/ingest.py (``OMNICLAUDE_DATABASE_URL``
or an embedded PostgreSQL).

Usage: python bench/export.py [--rows 1000000] [--batch 50000] [--no-import]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import Services, realistic_actions, scratch_database, with_services

from omniclaude.storage.partitions import PartitionCache
from omniclaude.storage.pool import connect
from omniclaude.storage.queries.export import EXPORT_TABLES
from omniclaude.storage.writers import WRITERS, enable_copy

TABLE = "agent_actions"
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 3
OMNICLAUDE = Path(sys.executable).parent / "omniclaude"


@dataclass
class Run:
    """One child process: its wall time, peak RSS and the last lines it printed."""

    seconds: float
    peak_rss_mb: float
    output: str


def _peak_rss_kib(pid: int) -> int | None:
    """The process's own peak RSS so far (``VmHWM``: its address space's high-water mark;
    ``ru_maxrss`` would not do, Linux carries the parent's over into a forked child)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def child(args: list[str], database_url: str) -> Run:
    """Run ``omniclaude ARGS``; return its time and its peak RSS (sampled every 20 ms; the
    high-water mark only grows, so the last sample is the peak up to then)."""
    env = {**os.environ, "OMNICLAUDE_DATABASE_URL": database_url}
    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(OMNICLAUDE), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        while proc.poll() is None:
            peak = max(peak, _peak_rss_kib(proc.pid) or 0)
            time.sleep(0.02)  # sampling a child process: nothing to await
        seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"omniclaude {' '.join(args)} failed:\n{output}")
    return Run(seconds, peak / 1024, output.strip().splitlines()[-1])


async def load(database_url: str, rows: int, batch: int) -> float:
    """COPY ``rows`` actions in batches (times spread over DAYS); return rows/s."""
    writer = WRITERS[TABLE]
    span = timedelta(days=DAYS) / rows
    conn = await connect(database_url)
    started = time.perf_counter()
    try:
        await enable_copy(conn)
        partitions = PartitionCache()
        for offset in range(0, rows, batch):
            count = min(batch, rows - offset)
            records = []
            for i, event in enumerate(realistic_actions(count, seed=offset + 1)):
                row = writer.row(event)
                end = SINCE + span * (offset + i)
                started_at = end - timedelta(milliseconds=event.duration_ms or 0)
                records.append((*row[:-2], started_at, end))
            async with conn.transaction():
                await writer.copy_rows(conn, records, partitions)
            print(f"  loaded {offset + count:,}/{rows:,}", end="\r", flush=True)
        await conn.execute(f"ANALYZE {TABLE}")
    finally:
        await conn.close()
    print()
    return rows / (time.perf_counter() - started)


async def copy_baseline(database_url: str, until: datetime) -> tuple[int, float]:
    """PostgreSQL's COPY of the same rows in the same order, discarded; (bytes, seconds)."""
    columns = ", ".join(EXPORT_TABLES[TABLE])
    query = (
        f"SELECT {columns} FROM {TABLE} WHERE created_at >= $1 AND created_at < $2 "  # noqa: S608
        "ORDER BY created_at, correlation_id, event_id"
    )
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal size
        size += len(data)

    conn = await connect(database_url)
    try:
        started = time.perf_counter()
        await conn.copy_from_query(query, SINCE, until, output=sink, format="text")
        return size, time.perf_counter() - started
    finally:
        await conn.close()


async def counts(database_url: str) -> dict[str, int]:
    """Rows of every exported table."""
    conn = await connect(database_url)
    try:
        return {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in EXPORT_TABLES
        }
    finally:
        await conn.close()


async def run(args: argparse.Namespace, services: Services) -> None:
    """Load, export, baseline, re-import, print."""
    print(f"services: {services.description}; load average {os.getloadavg()[0]:.2f}")
    rate = await load(services.database_url, args.rows, args.batch)
    print(f"loaded {args.rows:,} actions over {DAYS} days by COPY: {rate:,.0f} rows/s")
    until = SINCE + timedelta(days=DAYS)
    window = ["--since", SINCE.isoformat(), "--until", until.isoformat(), "--table", TABLE]
    source = await counts(services.database_url)
    size, copy_s = await copy_baseline(services.database_url, until)
    copy_rate = args.rows / copy_s
    print(f"baseline COPY (SELECT … ORDER BY key) TO STDOUT: {copy_rate:,.0f} rows/s "
          f"({size / 2**20:,.0f} MiB of text in {copy_s:.1f}s)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="omniclaude-export-bench-") as tmp:
        tenth = SINCE + timedelta(days=DAYS) / 10
        files = {}
        for fmt in ("jsonl", "parquet"):
            small = child(
                ["export", "--since", SINCE.isoformat(), "--until", tenth.isoformat(),
                 "--table", TABLE, "--format", fmt, "-o", f"{tmp}/small.{fmt}"],
                services.database_url,
            )  # fmt: skip
            path = Path(tmp) / f"{TABLE}.{fmt}"
            done = child(
                ["export", *window, "--format", fmt, "-o", str(path)], services.database_url
            )
            files[fmt] = path
            print(
                f"export {fmt}: {args.rows / done.seconds:,.0f} rows/s ({done.seconds:.1f}s, "
                f"{path.stat().st_size / 2**20:,.0f} MiB), peak RSS {done.peak_rss_mb:,.0f} MiB; "
                f"a tenth of the rows: {small.peak_rss_mb:,.0f} MiB "
                f"(ratio {done.peak_rss_mb / small.peak_rss_mb:.2f}x for 10x the rows); "
                f"{args.rows / done.seconds / copy_rate:.2f}x COPY's rate"
            )
        for fmt, path in files.items() if args.reimport else ():
            async with scratch_database(services.database_url) as fresh:
                loaded = child(["import", str(path)], fresh)
                again = child(["import", str(path)], fresh)
                copied = await counts(fresh)
            same = "same counts" if copied == source else f"DIFFERENT: {copied} vs {source}"
            print(
                f"import {fmt} into a fresh database: {args.rows / loaded.seconds:,.0f} rows/s "
                f"({loaded.seconds:.1f}s), peak RSS {loaded.peak_rss_mb:,.0f} MiB; {same} "
                f"per table; again: {again.output}"
            )
            if copied != source:
                raise SystemExit(1)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="actions to load")
    parser.add_argument("--batch", type=int, default=50_000, help="actions built per COPY")
    parser.add_argument(
        "--no-import", dest="reimport", action="store_false", help="export only (no re-import)"
    )
    args = parser.parse_args(argv)
    asyncio.run(with_services(run, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
