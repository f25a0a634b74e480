"""Benchmark the read side at team scale: a busy team's month loaded, its reads timed over HTTP.

1. Loads ``--actions`` agent actions (10M by default: about 330,000 executions over 30 days,
   the last day the densest) with what goes with them in plausible proportion: every
   execution's lifecycle events (some children of others, a few still running, some failed
   or cancelled), LLM calls (about one per three actions, priced by the price table), one
   routing decision and one manifest injection per top-level execution. The events are
   built as the producers build them (the event models), turned into rows by the writers'
   row builders (``WRITERS[table].row``) and ``COPY``ed in batches, each its own
   transaction, by ``--workers`` processes loading days of their own. The rollups are kept
   by statement-level triggers on the tables, so ``COPY`` fills them as the consumer's
   writes do; after the load their sums are checked against the raw tables. Then ``VACUUM
   ANALYZE`` (what autovacuum would have done over the month).
2. Starts the real API (``omniclaude api``: uvicorn, in a subprocess) on the database,
   creates a key as the API expects (``ApiKeyStore``: hashed, scopes ``read`` and
   ``ingest``) and times each read over HTTP (httpx, one keep-alive connection, requests one
   after another, a few warm-up requests first): p50 and p99 against their targets.

Prints the load time and rate, every figure with its target, and the load average (the
machine's other work shows in the figures: compare with the load).

Services: ``--database-url URL`` loads into (or, with ``--reads-only``, only reads) that
database and leaves it in place; else ``OMNICLAUDE_DATABASE_URL``'s server or an embedded
PostgreSQL gets a scratch database, dropped afterwards (as bench/ingest.py).

Usage:
    python bench/reads.py [--actions 10000000] [--workers 2] [--requests 200] [--budget 30]
    python bench/reads.py --actions 300000            # a quick run
    python bench/reads.py --database-url URL          # load into URL and keep it
    python bench/reads.py --reads-only --database-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from ingest import Services, tool_action, with_services

from omniclaude.events import (
    AgentAction,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
)
from omniclaude.events.manifests import ManifestSection
from omniclaude.events.routing import AgentAlternative
from omniclaude.pricing import default_price_table
from omniclaude.stack.children import omniclaude_argv
from omniclaude.storage.api_keys import ApiKeyStore
from omniclaude.storage.migrations import upgrade
from omniclaude.storage.partitions import PartitionCache
from omniclaude.storage.pool import connect
from omniclaude.storage.writers import WRITERS, enable_copy, group_by_table

DAYS = 30
DAY_WEIGHTS = [1 + d / (DAYS - 2) for d in range(DAYS - 1)] + [8.0]
"""Older days ramp from 1 to 2, the last day (the 24 hours before the load) weighs 8:
about 15% of everything."""
ACTIONS_PER_EXECUTION = 30
LLM_PER_ACTION = 0.3
AGENTS = (
    "agent-polymorphic", "agent-code-analyzer", "agent-debug", "agent-testing",
    "agent-refactor", "agent-docs", "agent-security", "agent-performance",
    "agent-frontend", "agent-api-architect", "agent-devops", "agent-repository-setup",
)  # fmt: skip
AGENT_WEIGHTS = [1 / (rank + 1) for rank in range(len(AGENTS))]
PROJECTS = (
    "omniclaude", "web-app", "billing-service", "data-pipeline", "mobile-client", "infra",
    "docs-site", "ml-models",
)  # fmt: skip
MODELS = (("claude-sonnet-4-5", 0.7), ("claude-haiku-4-5", 0.2), ("claude-opus-4-5", 0.1))
VERBS = (
    "Fix", "Refactor", "Add tests for", "Explain", "Speed up", "Review", "Document", "Debug",
    "Migrate", "Simplify",
)  # fmt: skip
THINGS = (
    "the retry logic of", "pagination in", "the kafka consumer of", "error handling in",
    "the login form of", "the CSV export of", "caching in", "the database migration of",
    "logging in", "the websocket client of", "input validation in", "the scheduler of",
)  # fmt: skip
MODULES = (
    "billing/invoices.py", "api/routes.py", "core/models.py", "worker/tasks.py",
    "auth/session.py", "ui/components/Table.tsx", "etl/loaders.py", "cli/main.py",
)  # fmt: skip
RARE_WORD = "idempotency"
"""In about 0.2% of the prompts: a search that finds few rows."""
COMMON_WORD = "pagination"
"""In about 1 prompt in 12: a search that finds many."""
ERRORS = (
    ("TimeoutError", "Bash exceeded 120000 ms running the test suite"),
    ("AssertionError", "expected status 200, got 500 from /api/orders"),
    ("PermissionDenied", "Edit of settings.py denied by the user"),
    ("RateLimitError", "429 Too Many Requests from the model API"),
    ("ValueError", "invalid literal for int() with base 10: 'abc'"),
)
PRICES = default_price_table()


# ------------------------------------------------------------------ the data
@dataclass
class Loaded:
    """What a worker wrote, per table."""

    rows: Counter[str]
    executions: int


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _prompt(rng: random.Random) -> str:
    text = f"{rng.choice(VERBS)} {rng.choice(THINGS)} {rng.choice(MODULES)}"
    if rng.random() < 0.002:
        text += f" and keep {RARE_WORD} on retries"
    return text


def _llm_call(rng: random.Random, index: int) -> LlmCall:
    """An LLM call of varied model and size (a template: its ids and times are replaced)."""
    model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
    tokens = {
        "input_tokens": rng.randint(3, 4000),
        "output_tokens": rng.randint(20, 2500),
        "cache_creation_input_tokens": rng.choice((0, 0, 0, rng.randint(500, 8000))),
        "cache_read_input_tokens": rng.randint(5000, 90000),
    }
    cost = PRICES.cost(
        model, input_tokens=tokens["input_tokens"], output_tokens=tokens["output_tokens"],
        cache_write_5m_tokens=tokens["cache_creation_input_tokens"],
        cache_read_tokens=tokens["cache_read_input_tokens"],
    )  # fmt: skip
    exact = index % 3 == 0
    return LlmCall(
        correlation_id=uuid.UUID(int=index), duration_ms=round(rng.uniform(800, 20000), 1),
        model=model, provider="anthropic", **tokens,
        cost_usd=float(cost.usd) if cost else None,
        cost_source="exact" if exact else "estimate",
        pricing_source=None if exact or cost is None else cost.source,
        source="otel" if exact else "transcript", stop_reason="tool_use",
    )  # fmt: skip


class Rows:
    """The rows of one worker, per table, ready to ``COPY``.

    Volume rows (tool calls, LLM calls: nine rows in ten) are copies of a pool of templates
    built as producers build them (the event models, then the writers' row builders) with
    their ids, trace, session, project and times replaced: building every one through the
    models would make the load take as long as the Python of it. Everything else (the
    lifecycle, routing, manifests, error and decision actions) is built event by event.
    """

    _ACTION_VARIED = (
        "event_id", "correlation_id", "agent_name", "session_id", "prompt_id", "tool_use_id",
        "project_path", "project_name", "working_directory", "duration_ms", "started_at",
        "created_at",
    )  # fmt: skip
    _LLM_VARIED = (
        "event_id", "correlation_id", "session_id", "agent_name", "is_sidechain",
        "request_id", "message_id", "project_path", "project_name", "started_at", "created_at",
    )  # fmt: skip

    def __init__(self, rng: random.Random) -> None:
        self.pending: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        actions, llm = WRITERS["agent_actions"], WRITERS["agent_llm_calls"]
        self._action_at = [actions.columns.index(c) for c in self._ACTION_VARIED]
        self._llm_at = [llm.columns.index(c) for c in self._LLM_VARIED]
        self._llm_duration = llm.columns.index("duration_ms")
        self._actions = [
            actions.row(tool_action(rng, i, correlation_id=uuid.UUID(int=i), session="s"))
            for i in range(2_000)
        ]
        self._llm = [llm.row(_llm_call(rng, i)) for i in range(1_000)]

    def event(self, event: EventBase) -> None:
        """Add one event's row (built by its table's writer)."""
        for table, group in group_by_table([event]).items():
            self.pending[table].extend(WRITERS[table].row(e) for e in group)

    @staticmethod
    def _varied(
        template: tuple[Any, ...], at: list[int], values: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        row = list(template)
        for index, value in zip(at, values, strict=True):
            row[index] = value
        return tuple(row)

    def tool_call(
        self,
        rng: random.Random,
        ctx: tuple[uuid.UUID, str, str, str],
        at: datetime,
        duration_ms: float,
        step: int,
    ) -> None:
        """A tool call of execution ``ctx`` (id, agent, session, project) ending at ``at``."""
        cid, agent, session, project = ctx
        path = f"/home/dev/projects/{project}"
        self.pending["agent_actions"].append(self._varied(
            self._actions[rng.randrange(len(self._actions))], self._action_at,
            (_uuid(rng), cid, agent, session, f"{session}:{step // 20}",
             f"toolu_{rng.getrandbits(64):016x}", path, project, f"{path}/src", duration_ms,
             at - timedelta(milliseconds=duration_ms), at),
        ))  # fmt: skip

    def llm_call(
        self,
        rng: random.Random,
        ctx: tuple[uuid.UUID, str, str, str],
        at: datetime,
        sidechain: bool,
    ) -> None:
        """An LLM call of execution ``ctx`` whose response ended at ``at``."""
        cid, agent, session, project = ctx
        template = self._llm[rng.randrange(len(self._llm))]
        took = template[self._llm_duration] or 0.0
        self.pending["agent_llm_calls"].append(self._varied(
            template, self._llm_at,
            (_uuid(rng), cid, session, agent, sidechain, f"req_{rng.getrandbits(80):020x}",
             f"msg_{rng.getrandbits(80):020x}", f"/home/dev/projects/{project}", project,
             at - timedelta(milliseconds=took), at),
        ))  # fmt: skip


def _execution(
    rng: random.Random,
    out: Rows,
    *,
    cid: uuid.UUID,
    parent: uuid.UUID | None,
    agent: str,
    session: str,
    project: str,
    prompt: str,
    start: datetime,
    now: datetime,
) -> tuple[datetime, int]:
    """Add one execution's rows to ``out``; return when it ended and its actions."""
    out.event(ExecutionStarted(
        correlation_id=cid, parent_correlation_id=parent, agent_name=agent, user_prompt=prompt,
        session_id=session, project_path=f"/home/dev/projects/{project}",
        project_name=project, timestamp=start,
    ))  # fmt: skip
    ctx = (cid, agent, session, project)
    count = min(400, 3 + int(rng.expovariate(1 / (ACTIONS_PER_EXECUTION - 3))))
    outcome = rng.random()
    failed, cancelled = outcome < 0.06, 0.06 <= outcome < 0.08
    at = start
    written = 0
    for i in range(count):
        if rng.random() < LLM_PER_ACTION:
            at += timedelta(milliseconds=rng.uniform(800, 12000))
            if at > now:
                return at, written
            out.llm_call(rng, ctx, at, parent is not None)
        duration = round(rng.lognormvariate(4.5, 1.4), 2)
        at += timedelta(milliseconds=duration + rng.uniform(50, 1500))
        if at > now:  # still running: nothing after now, no end
            return at, written
        if failed and i == count - 1:
            kind, message = rng.choice(ERRORS)
            out.event(AgentAction(
                correlation_id=cid, agent_name=agent, action_type="error", action_name=kind,
                action_details={"error_message": message}, session_id=session,
                project_name=project, timestamp=at,
            ))  # fmt: skip
        elif rng.random() < 0.03:
            out.event(AgentAction(
                correlation_id=cid, agent_name=agent, action_type="decision",
                action_name="choose_approach",
                action_details={"options": ["patch", "rewrite"], "chosen": "patch"},
                session_id=session, project_name=project, timestamp=at,
            ))  # fmt: skip
        else:
            out.tool_call(rng, ctx, at, duration, i)
        written += 1
    at += timedelta(milliseconds=rng.uniform(100, 3000))
    if at > now:
        return at, written
    took = (at - start).total_seconds() * 1000
    if failed:
        kind, message = rng.choice(ERRORS)
        out.event(ExecutionFailed(
            correlation_id=cid, parent_correlation_id=parent, agent_name=agent,
            error_type=kind, error_message=message, duration_ms=took, timestamp=at,
        ))  # fmt: skip
    else:
        out.event(ExecutionCompleted(
            correlation_id=cid, parent_correlation_id=parent, agent_name=agent,
            status="cancelled" if cancelled else "success", duration_ms=took, timestamp=at,
            quality_score=round(rng.uniform(0.5, 1.0), 3),
        ))  # fmt: skip
    return at, written


def trace_rows(
    rng: random.Random, out: Rows, start: datetime, now: datetime, *, session: str, project: str
) -> tuple[int, int]:
    """One top-level execution routed and briefed, with 0-3 children, into ``out``:
    (actions, executions)."""
    cid = _uuid(rng)
    agent = rng.choices(AGENTS, AGENT_WEIGHTS)[0]
    prompt = _prompt(rng)
    if rng.random() < 1 / 12:
        prompt = f"{prompt} ({COMMON_WORD})"
    confidence = round(rng.betavariate(8, 2), 4)
    routed = start - timedelta(milliseconds=rng.uniform(20, 400))
    decision = RoutingDecision(
        correlation_id=cid, session_id=session, user_request=prompt, selected_agent=agent,
        confidence_score=confidence, routing_strategy="enhanced_fuzzy_matching",
        routing_time_ms=round(rng.uniform(2, 80), 2), is_fallback=confidence < 0.5,
        alternatives=[
            AgentAlternative(agent_name=a, confidence=round(confidence * rng.uniform(0.4, 0.9), 4))
            for a in rng.sample(AGENTS, 2) if a != agent
        ],
        matched_triggers=[prompt.split()[0].lower()], timestamp=routed,
    )  # fmt: skip
    out.event(decision)
    out.event(ManifestInjection(
        correlation_id=cid, session_id=session, agent_name=agent,
        routing_decision_id=decision.event_id, total_query_time_ms=round(rng.uniform(5, 300), 2),
        sections=[
            ManifestSection(
                name=n, size_bytes=rng.randint(200, 6000), item_count=rng.randint(1, 40)
            )
            for n in ("patterns", "infrastructure", "models", "recent_executions")
        ],
        timestamp=start,
    ))  # fmt: skip
    end, actions = _execution(
        rng, out, cid=cid, parent=None, agent=agent, session=session, project=project,
        prompt=prompt, start=start, now=now,
    )  # fmt: skip
    executions = 1
    children = rng.choices((0, 1, 2, 3), (0.75, 0.15, 0.07, 0.03))[0]
    for _ in range(children):
        begin = start + (end - start) * rng.uniform(0.05, 0.7)
        if begin >= now:
            break
        _, more = _execution(
            rng, out, cid=_uuid(rng), parent=cid, agent=rng.choice(AGENTS), session=session,
            project=project, prompt=f"Subtask: {_prompt(rng)}", start=begin, now=now,
        )  # fmt: skip
        actions += more
        executions += 1
    return actions, executions


def day_budgets(total: int) -> list[int]:
    """Actions per day, oldest first (the last day is the 24 hours before the load)."""
    weight = sum(DAY_WEIGHTS)
    return [round(total * w / weight) for w in DAY_WEIGHTS]


def day_traces(day: int, budget: int, now: datetime, seed: int, out: Rows) -> Iterator[int]:
    """Add the traces of one day (``day`` 0 the oldest) to ``out`` until ``budget`` actions;
    yields each trace's executions."""
    rng = random.Random(seed * 1_000 + day)
    end = now - timedelta(days=DAYS - 1 - day)
    begin = end - timedelta(days=1)
    span = (end - begin).total_seconds()
    written = 0
    session, project, left = "", "", 0
    while written < budget:
        if left <= 0:  # a session runs a few prompts on one project
            session, project, left = str(_uuid(rng)), rng.choice(PROJECTS), rng.randint(1, 8)
        left -= 1
        start = begin + timedelta(seconds=rng.uniform(0, span))
        actions, executions = trace_rows(rng, out, start, now, session=session, project=project)
        written += actions
        yield executions


@dataclass(frozen=True)
class Share:
    """What one loading process does: its days of the month, into which database."""

    url: str
    days: list[int]
    budgets: list[int]
    now: datetime
    seed: int
    batch: int
    worker: int


async def _load_days(job: Share) -> Loaded:
    url, days, budgets, now, seed, batch, worker = (
        job.url, job.days, job.budgets, job.now, job.seed, job.batch, job.worker,
    )  # fmt: skip
    conn = await connect(url)
    rows: Counter[str] = Counter()
    executions = 0
    started = time.perf_counter()
    try:
        await enable_copy(conn)
        cache = PartitionCache()
        out = Rows(random.Random(seed))

        async def flush(table: str) -> None:
            batch_rows = out.pending.pop(table, [])
            if batch_rows:  # one COPY, its own transaction, as the consumer's batches
                await WRITERS[table].copy_rows(conn, batch_rows, cache)
                rows[table] += len(batch_rows)

        for day in days:
            for count in day_traces(day, budgets[day], now, seed, out):
                executions += count
                for table in [t for t, built in out.pending.items() if len(built) >= batch]:
                    await flush(table)
            for table in sorted(out.pending):
                await flush(table)
            took = time.perf_counter() - started
            print(
                f"  worker {worker}: day {day + 1:2d}/{DAYS} loaded ({rows['agent_actions']:,} "
                f"actions so far, {sum(rows.values()) / took:,.0f} rows/s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await conn.close()
    return Loaded(rows, executions)


def _worker(job: Share) -> Loaded:
    return asyncio.run(_load_days(job))


_CHECKS = (
    ("actions", "SELECT count(*) FROM agent_actions",
     "SELECT coalesce(sum(events), 0) FROM rollup_actions_hour"),
    ("LLM calls", "SELECT count(*) FROM agent_llm_calls",
     "SELECT coalesce(sum(calls), 0) FROM rollup_llm_hour"),
    ("routing decisions", "SELECT count(*) FROM agent_routing_decisions",
     "SELECT coalesce(sum(decisions), 0) FROM rollup_routing_hour"),
    ("executions", "SELECT count(*) FROM agent_execution_logs",
     "SELECT coalesce(sum(executions), 0) FROM rollup_executions_hour"),
    ("events (all tables)",
     ("SELECT (SELECT count(*) FROM agent_actions) + (SELECT count(*) FROM agent_llm_calls)"
      " + (SELECT count(*) FROM agent_routing_decisions)"
      " + (SELECT count(*) FROM agent_manifest_injections)"
      " + (SELECT count(*) FROM agent_execution_events)"
      " + (SELECT count(*) FROM agent_transformation_events)"),
     "SELECT coalesce(sum(events), 0) FROM rollup_events_minute"),
)  # fmt: skip
"""Each raw table's count against its rollup's sum (the triggers filled them)."""


async def load(url: str, args: argparse.Namespace) -> None:
    """Load the month into ``url`` with ``args.workers`` processes; check the rollups."""
    budgets = day_budgets(args.actions)
    now = datetime.now(UTC)
    # Days dealt round-robin from the densest (the last) down, so workers finish together.
    order = sorted(range(DAYS), key=lambda d: -budgets[d])
    shares: list[list[int]] = [[] for _ in range(args.workers)]
    for index, day in enumerate(order):
        shares[index % args.workers].append(day)
    print(
        f"loading {args.actions:,} actions over {DAYS} days (the last day {budgets[-1]:,}) "
        f"with {args.workers} workers, COPY batches of {args.batch:,} rows"
    )
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(
            loop.run_in_executor(pool, _worker, Share(
                url, sorted(share), budgets, now, args.seed, args.batch, n
            ))
            for n, share in enumerate(shares) if share
        ))  # fmt: skip
    took = time.perf_counter() - started
    rows: Counter[str] = Counter()
    for result in results:
        rows.update(result.rows)
    executions = sum(r.executions for r in results)
    total = sum(rows.values())
    print(
        f"loaded {total:,} rows in {took:.0f} s: {total / took:,.0f} rows/s "
        f"({rows['agent_actions'] / took:,.0f} actions/s), load average "
        f"{_load_average()}"
    )
    for table in sorted(rows):
        print(f"  {table}: {rows[table]:,}")
    print(f"  executions: {executions:,}")
    conn = await connect(url)
    try:
        for name, raw, rolled in _CHECKS:
            counted, summed = await conn.fetchval(raw), await conn.fetchval(rolled)
            verdict = "ok" if counted == summed else "MISMATCH"
            print(f"rollup check, {name}: {counted:,} rows, rollups say {summed:,}: {verdict}")
            if counted != summed:
                raise SystemExit(f"the rollups do not match the raw {name}")
        vacuum_started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        print(f"VACUUM ANALYZE: {time.perf_counter() - vacuum_started:.0f} s")
    finally:
        await conn.close()


# ------------------------------------------------------------------ the reads
@dataclass(frozen=True)
class Read:
    """One read to time: its paths (used in turn) and its p99 target."""

    name: str
    paths: list[str]
    target_ms: float


def _load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def api_server(url: str, workdir: Path) -> Iterator[str]:
    """``omniclaude api`` on ``url``'s database, until the block ends; yields its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}
    env |= {"OMNICLAUDE_DATABASE_URL": url, "OMNICLAUDE_DATA_DIR": str(workdir / "data")}
    log = (workdir / "api.log").open("wb")
    proc = subprocess.Popen(
        omniclaude_argv(
            "api", "--host", "127.0.0.1", "--port", str(port), "--workspace", str(workdir)
        ),
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the API exited ({proc.returncode}); see {workdir / 'api.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the API did not answer /health within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def _samples(url: str) -> dict[str, Any]:
    """Ids, names and words to read with (the bench's own statements, not the API's)."""
    conn = await connect(url)
    try:
        recent = await conn.fetch(
            "SELECT correlation_id FROM agent_execution_logs WHERE parent_correlation_id IS NULL"
            " AND created_at >= now() - interval '1 day' ORDER BY random() LIMIT 400"
        )
        older = await conn.fetch(
            "SELECT correlation_id FROM agent_execution_logs WHERE parent_correlation_id IS NULL"
            " AND created_at < now() - interval '2 days' ORDER BY random() LIMIT 400"
        )
        sessions = await conn.fetch(
            "SELECT DISTINCT session_id FROM agent_execution_logs"
            " WHERE created_at >= now() - interval '1 day' LIMIT 200"
        )
        agent = await conn.fetchval(
            "SELECT agent_name FROM rollup_executions_hour GROUP BY 1 ORDER BY sum(executions)"
            " DESC LIMIT 1"
        )
        rare_agent = await conn.fetchval(
            "SELECT agent_name FROM rollup_executions_hour GROUP BY 1 ORDER BY sum(executions)"
            " LIMIT 1"
        )
        model = await conn.fetchval(
            "SELECT model FROM rollup_llm_sums_day GROUP BY 1 ORDER BY sum(calls) DESC LIMIT 1"
        )
        _, key = await ApiKeyStore(conn).create("bench-reads", ["read", "ingest"])
    finally:
        await conn.close()
    if not recent or not older:
        raise SystemExit("the database holds too few executions to read (load it first)")
    return {
        "recent": [str(r["correlation_id"]) for r in recent],
        "older": [str(r["correlation_id"]) for r in older],
        "sessions": [r["session_id"] for r in sessions if r["session_id"]],
        "agent": agent, "rare_agent": rare_agent, "model": model, "key": key,
    }  # fmt: skip


def reads(samples: dict[str, Any], cursor: str | None) -> list[Read]:
    """What to time, with the issue's targets (p99)."""
    recent, older, sessions = samples["recent"], samples["older"], samples["sessions"]
    agent, rare = samples["agent"], samples["rare_agent"]
    out = [
        Read("GET /health (baseline: no database)", ["/health"], 50),
        Read("GET /traces/{id} (last day)", [f"/traces/{c}" for c in recent], 50),
        Read("GET /traces/{id} (older days)", [f"/traces/{c}" for c in older], 50),
        Read("GET /traces/{short id}", [f"/traces/{c[:8]}" for c in recent], 50),
        Read("GET /overview (24h)", ["/overview"], 150),
        Read("GET /overview?range=7d", ["/overview?range=7d"], 150),
        Read("GET /overview?range=30d", ["/overview?range=30d"], 150),
        Read("viewer /viewer/overview (24h)", ["/viewer/overview"], 150),
        Read("GET /executions", ["/executions"], 50),
        Read("GET /executions?agent= (busiest)", [f"/executions?agent={agent}"], 50),
        Read("GET /executions?agent= (rarest)", [f"/executions?agent={rare}"], 50),
        Read("GET /executions?status=failed", ["/executions?status=failed"], 50),
        Read(
            "GET /executions?session_id=<8 chars>",
            [f"/executions?session_id={s[:8]}" for s in sessions], 50,
        ),
        Read("GET /executions?top_level&range=7d", ["/executions?top_level=true&range=7d"], 50),
        Read(
            "GET /executions?agent&status=failed&range=30d",
            [f"/executions?agent={agent}&status=failed&range=30d"], 50,
        ),
        Read("viewer /viewer/ (executions page)", ["/viewer/"], 50),
        Read("search text=<common word> (24h)", [f"/executions?q={COMMON_WORD}"], 100),
        Read("search text=<rare word> (24h)", [f"/executions?q={RARE_WORD}"], 100),
        Read("search text=<rare word> (30d)", [f"/executions?q={RARE_WORD}&range=30d"], 100),
        Read("search text=<no match> (7d)", ["/executions?q=zebra%20crossing&range=7d"], 100),
        Read(
            "search text=<id prefix> (30d)",
            [f"/executions?q={c[:8]}&range=30d" for c in recent], 100,
        ),
        Read("GET /usage (24h, by day)", ["/usage"], 150),
        Read("GET /usage?range=30d (by day)", ["/usage?range=30d"], 150),
        Read("GET /usage?range=30d&group_by=model", ["/usage?range=30d&group_by=model"], 150),
        Read(
            "GET /usage?range=30d&model=<busiest> (by day)",
            [f"/usage?range=30d&model={samples['model']}"], 150,
        ),
        Read("GET /usage?range=7d&group_by=session", ["/usage?range=7d&group_by=session"], 150),
    ]  # fmt: skip
    if cursor:
        second = Read("GET /executions (2nd page, cursor)", [f"/executions?cursor={cursor}"], 50)
        out.insert(9, second)
    return out


def _percentile(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


def measure(
    base: str, key: str, plan: list[Read], *, requests: int, warmup: int, budget_s: float
) -> list[str]:
    """Time each read ``requests`` times (after ``warmup``), or for ``budget_s`` seconds if
    that ends first (at least 20 times); return the report's lines."""
    lines = [
        f"{'read':<46} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'target':>7}  verdict",
    ]
    misses = 0
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for read in plan:
            took: list[float] = []
            ends = time.monotonic() + budget_s
            for index in range(warmup + requests):
                if len(took) >= 20 and time.monotonic() > ends:
                    break
                path = read.paths[index % len(read.paths)]
                started = time.perf_counter()
                answer = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
                if index >= warmup:
                    took.append(elapsed)
            p50, p99 = statistics.median(took), _percentile(took, 0.99)
            verdict = "meets" if p99 < read.target_ms else "MISSES"
            misses += p99 >= read.target_ms
            line = (
                f"{read.name:<46} {len(took):>4} {p50:>8.1f} {p99:>8.1f} "
                f"{'<' + format(read.target_ms, '.0f'):>7}  {verdict}"
            )
            print(line, flush=True)
            lines.append(line)
    lines.append(f"{len(plan) - misses} of {len(plan)} reads meet their p99 target")
    return lines


async def measure_reads(url: str, args: argparse.Namespace) -> None:
    """Start the API on ``url`` and time the reads."""
    samples = await _samples(url)
    with (
        tempfile.TemporaryDirectory(prefix="omniclaude-reads-") as workdir,
        api_server(url, Path(workdir)) as base,
    ):
        headers = {"Authorization": f"Bearer {samples['key']}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            first = (await client.get("/executions")).json()
        plan = reads(samples, first.get("next_cursor"))
        print(f"API at {base} (uvicorn, one process); load average before: {_load_average()}")
        await asyncio.to_thread(
            functools.partial(
                measure, base, samples["key"], plan, requests=args.requests,
                warmup=args.warmup, budget_s=args.budget,
            )
        )  # fmt: skip
        print(f"load average after: {_load_average()} ({os.cpu_count()} cores)")


async def _on_services(args: argparse.Namespace, services: Services) -> None:
    print(f"services: {services.description}")
    await load(services.database_url, args)
    await measure_reads(services.database_url, args)


async def main_async(args: argparse.Namespace) -> None:
    """Load (unless ``--reads-only``) and measure."""
    print(f"load average at start: {_load_average()} ({os.cpu_count()} cores)")
    if args.database_url is None:
        await with_services(_on_services, args, broker=False)
        return
    url = args.database_url
    if not args.reads_only:
        await asyncio.to_thread(upgrade, url)
        conn = await connect(url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM agent_actions")
        finally:
            await conn.close()
        if stored:
            raise SystemExit(f"{url} holds {stored:,} actions already: use --reads-only")
        await load(url, args)
    await measure_reads(url, args)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000_000, help="actions to load")
    parser.add_argument("--workers", type=int, default=2, help="loading processes")
    parser.add_argument("--batch", type=int, default=5_000, help="rows per COPY")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per read")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per read first")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds per read at most (20 requests at least)"
    )
    parser.add_argument(
        "--database-url", help="load into (or read) this database and leave it in place"
    )
    parser.add_argument(
        "--reads-only", action="store_true", help="measure an already loaded --database-url"
    )
    args = parser.parse_args(argv)
    if args.reads_only and args.database_url is None:
        parser.error("--reads-only needs --database-url")
    if args.actions < 1_000 or args.workers < 1:
        parser.error("--actions must be at least 1000 and --workers at least 1")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
