"""Routing latency with 100 registered agents: median and p99 of ``Router.route``.

The registry is the shipped agents plus synthetic ones (seeded, realistic vocabulary) up to
``--agents``. Prompts are every shipped labelled prompt (tune, held-out and fresh splits),
cycled; top-1 accuracy per split with the synthetic agents registered is printed too (the
synthetic agents compete for every prompt). Measured in the same run:

* ``route (no cache)``  — every signal computed (explicit mention, triggers exact + fuzzy,
  BM25 over words and concepts, concepts, nearest example, context, multi-part check), the
  cache bypassed;
* ``route (cached)``    — the TTL cache answering an identical request;
* ``baseline: naive BM25`` — a straightforward BM25 that re-scans every agent's document per
  prompt (what an unindexed implementation costs), over the same documents;
* ``floor: tokenize``   — only lower-casing and splitting the prompt.

Three tails are printed for each: ``p99 ms`` (wall time of every call: what a caller waits,
including the time the OS gave other processes on a busy machine), ``p99 cpu ms`` (this
thread's CPU time: the router's own cost) and ``p99 typ ms`` (the 99th percentile over
prompts of each prompt's median wall time across rounds: the slowest prompts' usual cost,
robust to preemption). The load average is printed with them.

Usage: python bench/route.py [--agents 100] [--rounds 20]
Target: p99 of ``route (no cache)`` under 5 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections.abc import Callable

from omniclaude.routing import AgentDefinition, AgentRegistry, Router
from omniclaude.routing.evaluation import evaluate, report, shipped_examples
from omniclaude.routing.signals import analyze, tokenize

_DOMAINS = (
    "frontend", "backend", "database", "devops", "mobile", "data", "ml", "infra", "billing",
    "search", "auth", "payments", "analytics", "networking", "compiler", "graphics", "audio",
)  # fmt: skip
_VERBS = (
    "optimize", "migrate", "deploy", "design", "refactor", "benchmark", "monitor", "configure",
    "debug", "profile", "review", "generate", "validate", "translate", "schedule", "index",
)  # fmt: skip
_OBJECTS = (
    "queries", "schemas", "pipelines", "containers", "clusters", "components", "endpoints",
    "dashboards", "alerts", "migrations", "models", "layouts", "caches", "queues", "workers",
    "reports", "invoices", "sessions", "tokens", "shaders", "buffers", "packets", "builds",
)  # fmt: skip


def synthetic_agents(count: int, seed: int = 7) -> list[AgentDefinition]:
    """Build ``count`` plausible agents with distinct names, triggers and capabilities."""
    rng = random.Random(seed)
    agents = []
    for i in range(count):
        domain = rng.choice(_DOMAINS)
        pairs = [(rng.choice(_VERBS), rng.choice(_OBJECTS)) for _ in range(6)]
        agents.append(
            AgentDefinition(
                name=f"{domain}-{pairs[0][0]}-{i}",
                description=(
                    f"Helps {domain} teams {pairs[0][0]} {pairs[0][1]} and {pairs[1][0]} "
                    f"{pairs[1][1]}; reports findings with examples."
                ),
                domain=domain,
                triggers=(*tuple(f"{v} {o}" for v, o in pairs[:4]), f"{domain} {pairs[0][1]}"),
                capabilities=tuple(f"{v} {domain} {o}" for v, o in pairs[2:]),
                examples=tuple(f"please {v} the {domain} {o}" for v, o in pairs[1:4]),
                tools=("read_file",),
                entrypoint="omniclaude.runtime.agents.code_analyzer:run",
            )
        )
    return agents


class NaiveBm25:
    """BM25 without an index: every query re-counts terms in every document."""

    def __init__(self, documents: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = documents
        self.avg = sum(len(d) for d in documents) / len(documents)
        self.k1, self.b = k1, b
        n = len(documents)
        df: dict[str, int] = {}
        for doc in documents:
            for term in set(doc):
                df[term] = df.get(term, 0) + 1
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def best(self, prompt: str) -> int:
        terms = list(tokenize(prompt))
        scores = []
        for doc in self.docs:
            score = 0.0
            for term in terms:
                tf = doc.count(term)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * len(doc) / self.avg)
                    score += self.idf.get(term, 0.0) * tf * (self.k1 + 1) / (tf + norm)
            scores.append(score)
        return max(range(len(scores)), key=scores.__getitem__)


def measure(
    fn: Callable[[str], object], prompts: list[str], rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """Call ``fn`` on every prompt ``rounds`` times; return per-call wall and CPU times (ms)
    and each prompt's median wall time.

    CPU time (this thread's) leaves out the time the OS scheduler gave to other processes, so
    its tail shows the router's own cost on a busy machine; wall time is what a caller waits.
    """
    for prompt in prompts:  # warm caches of the stemmer and fuzzy matcher like a live service
        fn(prompt)
    wall, cpu = [], []
    per_prompt: list[list[float]] = [[] for _ in prompts]
    for _ in range(rounds):
        for number, prompt in enumerate(prompts):
            start, start_cpu = time.perf_counter(), time.thread_time()
            fn(prompt)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
            per_prompt[number].append(wall[-1])
    return wall, cpu, [statistics.median(times) for times in per_prompt]


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    shipped = AgentRegistry.load()
    extra = synthetic_agents(max(0, args.agents - len(shipped)))
    registry = AgentRegistry([*shipped, *extra])
    router = Router(registry)
    examples = shipped_examples()
    prompts = [e.prompt for e in examples]
    splits = report(evaluate(router, examples))
    docs = [
        list(analyze(" ".join([a.description, *a.capabilities, *a.triggers])).terms)
        for a in registry
    ]
    naive = NaiveBm25(docs)

    results = {
        "route (no cache)": measure(
            lambda p: router.route(p, use_cache=False), prompts, args.rounds
        ),
        "route (cached)": measure(router.route, prompts, args.rounds),
        "baseline: naive BM25": measure(naive.best, prompts, args.rounds),
        "floor: tokenize": measure(tokenize, prompts, args.rounds),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"agents registered: {len(registry)}  prompts: {len(prompts)}  rounds: {args.rounds}"
        f"  load average (1 min): {load:.2f} on {os.cpu_count()} cpus"
    )
    print(
        f"top-1 accuracy with {len(registry)} agents: "
        + ", ".join(f"{name} {r.right}/{r.total} = {r.accuracy:.1%}" for name, r in splits.items())
    )
    base = statistics.median(results["baseline: naive BM25"][0])
    header = (
        f"{'':24} {'median ms':>10} {'p99 ms':>10} {'p99 cpu ms':>11} {'p99 typ ms':>11}"
        f" {'x naive BM25':>13}"
    )
    print(header)
    for name, (wall, cpu, typical) in results.items():
        median = statistics.median(wall)
        print(
            f"{name:24} {median:10.4f} {p99(wall):10.4f} {p99(cpu):11.4f} {p99(typical):11.4f}"
            f" {median / base:13.2f}"
        )
    wall, cpu, typical = results["route (no cache)"]
    verdict = "OK" if p99(wall) < 5.0 else f"ABOVE TARGET (load average {load:.1f})"
    print(
        f"target p99 < 5 ms for route (no cache): {verdict} "
        f"(wall {p99(wall):.2f} ms, cpu {p99(cpu):.2f} ms, typical {p99(typical):.2f} ms)"
    )


if __name__ == "__main__":
    main()
