"""Benchmark the OTLP receiver: spans/s through ``POST /v1/traces`` against ``POST /events`` of
the same events, in the same run.

1. Builds ``--runs`` runs of a GenAI agent with the official OpenTelemetry SDK (per run: an
   ``invoke_agent`` span holding two ``chat`` calls, two ``execute_tool`` calls and one plain
   HTTP span; realistic attribute sizes), i.e. 6 spans → 7 events per run, and groups the
   finished spans into export requests of ``--batch`` spans (the SDK's batch processor sends
   512 at most).
2. Maps a second, identical set of runs (other trace ids, so no path re-sends the other's
   events) with the receiver's own mapper and encodes each request's events as a
   ``POST /events`` body: the same events, the same batches.
3. Starts the API (``create_app``, its Kafka sink from settings, the key store on a scratch
   database) and an :class:`~omniclaude.consuming.IngestService`, and sends, for ``--rounds``
   rounds, each path taking each place in the order in turn (the machine's load drifts, and
   the sink's sender works behind whichever path comes next: the order alone moved the
   figures by 2x), a share of the batches with ``--clients`` concurrent requests: OTLP
   protobuf, OTLP protobuf + gzip, OTLP/JSON, and POST /events.
   A request counts when its answer is back: 200/202 means durable (the sink's local outbox).

Prints, per path, spans/s and events/s (median of the rounds) and the ratio of each OTLP path
to POST /events; then the rows stored by the consumer (every event of every path must land).

Services: ``OMNICLAUDE_DATABASE_URL`` / ``OMNICLAUDE_KAFKA_BOOTSTRAP`` when set, else an
embedded PostgreSQL and a Tansu broker started for the run (see ``bench/ingest.py``).

Usage: python bench/otlp.py [--runs 2000] [--batch 512] [--clients 4] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from ingest import Services, run_bench
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from omniclaude.api import create_app
from omniclaude.consuming import IngestService
from omniclaude.events import dumps
from omniclaude.otel.receive import Encoding, encode_message
from omniclaude.otel.spans import SpanMapper
from omniclaude.pricing import default_price_table
from omniclaude.settings import ConsumerSettings, Settings
from omniclaude.storage.api_keys import ApiKeyStore
from omniclaude.storage.pool import connect

MODEL = "claude-sonnet-4-5-20250929"
TABLES = ("agent_actions", "agent_llm_calls", "agent_execution_events")


def agent_spans(runs: int, service: str) -> list[ReadableSpan]:
    """The finished spans of ``runs`` runs of a GenAI agent (one trace per run)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench.agent", "1.0")
    for run in range(runs):
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
                 "gen_ai.conversation.id": f"conv-{run % 97}"}  # fmt: skip
        with tracer.start_as_current_span("invoke_agent planner", attributes=agent):
            for turn in range(2):
                chat = {
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                    "gen_ai.request.model": MODEL, "gen_ai.usage.input_tokens": 1200 + run % 300,
                    "gen_ai.usage.cache_read.input_tokens": 800, "gen_ai.usage.output_tokens": 90,
                    "gen_ai.response.finish_reasons": ["tool_use"],
                    "gen_ai.response.id": f"msg_{service}_{run}_{turn}",
                }  # fmt: skip
                with tracer.start_as_current_span(f"chat {MODEL}", attributes=chat):
                    pass
                arguments = {"command": f"pytest -q tests/test_mod_{run % 97}.py -k case_{run}"}
                result = "\n".join(f"{n:4d}  " + "x" * (20 + (run * n) % 50) for n in range(6))
                tool = {
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "bash",
                    "gen_ai.tool.call.id": f"call_{service}_{run}_{turn}",
                    "gen_ai.tool.call.arguments": json.dumps(arguments),
                    "gen_ai.tool.call.result": result,
                }  # fmt: skip
                with tracer.start_as_current_span("execute_tool bash", attributes=tool):
                    pass
            http = {"http.request.method": "GET", "url.full": f"https://docs.example/p/{run}",
                    "http.response.status_code": 200}  # fmt: skip
            with tracer.start_as_current_span("GET", attributes=http):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def batches(spans: Sequence[ReadableSpan], size: int) -> list[Any]:
    """Export requests of ``size`` spans, as the SDK's exporter builds them."""
    return [encode_spans(spans[i : i + size]) for i in range(0, len(spans), size)]


def event_bodies(requests: Sequence[Any]) -> tuple[list[bytes], int]:
    """Each request's events (the receiver's mapping) as a POST /events body; event count."""
    mapper = SpanMapper(prices=default_price_table())
    bodies, total = [], 0
    for request in requests:
        mapped, refused = mapper.map_request(request)
        assert not refused, refused
        events = [json.loads(dumps(e)) for m in mapped for e in m.events]
        total += len(events)
        bodies.append(json.dumps({"events": events}).encode())
    return bodies, total


async def send_all(
    client: httpx.AsyncClient, path: str, bodies: Sequence[bytes], headers: dict[str, str],
    clients: int,
) -> float:  # fmt: skip
    """Send every body with ``clients`` concurrent requests; return the seconds it took."""
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            body = queue.pop()
            response = await client.post(path, content=body, headers=headers)
            assert response.status_code in (200, 202), (
                f"{path}: {response.status_code} {response.text[:300]}"
            )
            if path == "/v1/traces" and response.content not in (b"", b"{}"):
                raise AssertionError(f"{path}: partial success {response.content[:300]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - start


async def stored(url: str) -> int:
    """Rows of the three tables the events land in."""
    conn = await connect(url)
    try:
        counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]  # noqa: S608 - constants
    finally:
        await conn.close()
    return sum(counts)


async def run(args: argparse.Namespace, services: Services) -> None:
    """Build the spans, start the API and a consumer, measure, print."""
    print(f"services: {services.description}")
    started = time.perf_counter()
    paths = ["otlp protobuf", "otlp protobuf+gzip", "otlp json", "POST /events"]
    span_sets = {p: agent_spans(args.runs, f"svc{n}") for n, p in enumerate(paths)}
    spans_per_path = len(span_sets[paths[0]])
    requests = {p: batches(s, args.batch) for p, s in span_sets.items()}
    proto = [r.SerializeToString() for r in requests["otlp protobuf"]]
    gzipped = [gzip.compress(r.SerializeToString(), 1) for r in requests["otlp protobuf+gzip"]]
    as_json = [encode_message(r, Encoding.JSON) for r in requests["otlp json"]]
    bodies, events_per_path = event_bodies(requests["POST /events"])
    print(
        f"built {len(paths)} x {spans_per_path:,} spans ({events_per_path:,} events) in "
        f"{len(proto)} requests of <= {args.batch} spans each, {time.perf_counter() - started:.1f}s"
    )
    sizes = {"otlp protobuf": proto, "otlp protobuf+gzip": gzipped, "otlp json": as_json,
             "POST /events": bodies}  # fmt: skip
    for p in paths:
        print(f"  {p:20} {sum(map(len, sizes[p])) / len(sizes[p]) / 1024:8.1f} KiB per request")
    prefix = f"bench-otlp-{secrets.token_hex(3)}-"
    with tempfile.TemporaryDirectory(prefix="omniclaude-bench-otlp-") as tmp:
        settings = Settings(
            database_url=services.database_url, kafka_bootstrap=services.bootstrap,
            topic_prefix=prefix, data_dir=Path(tmp) / "data", spool_dir=Path(tmp) / "spool",
        )  # fmt: skip
        conn = await connect(services.database_url)
        try:
            _, key = await ApiKeyStore(conn).create("bench", ["ingest"])
        finally:
            await conn.close()
        consumer = IngestService(
            bootstrap_servers=settings.bootstrap_servers, database_url=services.database_url,
            topic_prefix=prefix, consumer=ConsumerSettings(group_id=f"{prefix}ingest"),
        )  # fmt: skip
        await consumer.start()
        app = create_app(settings, workspace=Path(tmp))
        auth = {"Authorization": f"Bearer {key}"}
        headers = {
            "otlp protobuf": {**auth, "Content-Type": "application/x-protobuf"},
            "otlp protobuf+gzip": {**auth, "Content-Type": "application/x-protobuf",
                                   "Content-Encoding": "gzip"},
            "otlp json": {**auth, "Content-Type": "application/json"},
            "POST /events": {**auth, "Content-Type": "application/json"},
        }  # fmt: skip
        route = {p: "/events" if p == "POST /events" else "/v1/traces" for p in paths}
        rounds = max(1, args.rounds)
        chunk = -(-len(proto) // rounds)
        seconds: dict[str, list[float]] = {p: [] for p in paths}
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
                ) as client,
            ):
                for index in range(rounds):
                    part = slice(index * chunk, (index + 1) * chunk)
                    shift = index % len(paths)  # each path takes each place in turn
                    order = paths[shift:] + paths[:shift]
                    for p in order:
                        took = await send_all(
                            client, route[p], sizes[p][part], headers[p], args.clients
                        )
                        seconds[p].append(took / max(1, len(sizes[p][part])))
            expected = events_per_path * len(paths)
            deadline = time.monotonic() + 600
            count = await stored(services.database_url)
            while count < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                count = await stored(services.database_url)
        finally:
            await consumer.stop()
    per_request = {p: statistics.median(v) for p, v in seconds.items()}
    requests_count = len(proto)
    spans_per_request = spans_per_path / requests_count
    events_per_request = events_per_path / requests_count
    base = spans_per_request / per_request["POST /events"]
    print(f"{'path':22} {'spans/s':>10} {'events/s':>10} {'vs POST /events':>16}")
    for p in paths:
        rate = spans_per_request / per_request[p]
        print(
            f"{p:22} {rate:10,.0f} {events_per_request / per_request[p]:10,.0f} "
            f"{rate / base:15.2f}x"
        )
    print(
        f"(median over {rounds} rounds of per-request time; {args.clients} concurrent clients; "
        "a request counts when its answer says the events are durable)"
    )
    verdict = "all stored" if count >= expected else "MISSING ROWS"
    print(f"consumer: {count:,} of {expected:,} rows stored ({verdict})")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="agent runs per path (6 spans)")
    parser.add_argument("--batch", type=int, default=512, help="spans per export request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent requests")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, rotating the order")
    return run_bench(run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
