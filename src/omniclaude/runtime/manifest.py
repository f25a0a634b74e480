"""The context manifest: what an agent is given before it runs, built within a time budget.

Sections (each timed, sized and counted; a section that fails or runs out of time is left
out with a warning, never delaying the agent past the budget):

* ``agent_definition`` — the agent's registry entry;
* ``request_context`` — the context the caller sent;
* ``relevant_files`` — files the context names and workspace files whose names share words
  with the prompt (bounded scan);
* ``recent_patterns`` — the agent's latest successful executions from the database;
* ``tools`` — the tools the agent may call.

The runtime publishes what was injected as a manifest injection event linked to the routing
decision (``routing_decision_id``) by the execution's correlation id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from omniclaude.events import ManifestSection, dumps
from omniclaude.routing.registry import AgentDefinition
from omniclaude.routing.signals import analyze
from omniclaude.runtime.isolation import WorkerPool
from omniclaude.runtime.workspace import Workspace, language_of

__all__ = ["MANIFEST_VERSION", "Manifest", "ManifestBuilder"]

MANIFEST_VERSION = "1"
_MAX_RELEVANT = 50
_SCAN_LIMIT = 5000


@dataclass(slots=True)
class Manifest:
    """A built manifest: the data per section and how it was obtained."""

    agent_name: str
    data: dict[str, Any] = field(default_factory=dict)
    sections: list[ManifestSection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    total_ms: float = 0.0

    @property
    def size_bytes(self) -> int:
        """Total size of the injected sections."""
        return sum(s.size_bytes for s in self.sections)

    @property
    def is_fallback(self) -> bool:
        """True when a section could not be built (the agent got less than usual)."""
        return bool(self.failures)


def _relevant_files(
    workspace: Workspace, prompt: str, context: dict[str, Any]
) -> list[dict[str, Any]]:
    named = context.get("files")
    found: dict[str, dict[str, Any]] = {}
    if isinstance(named, list):
        for item in named[:_MAX_RELEVANT]:
            try:
                path = workspace.resolve(str(item), field="context.files")
            except ValueError:
                continue
            if path.is_file():
                rel = workspace.relative(path)
                found[rel] = {
                    "path": rel,
                    "bytes": path.stat().st_size,
                    "language": language_of(path),
                    "why": "named",
                }
    words = {t for t in analyze(prompt).terms if len(t) >= 4}
    if words:
        for scanned, path in enumerate(workspace.iter_files()):
            if scanned >= _SCAN_LIMIT or len(found) >= _MAX_RELEVANT:
                break
            rel = workspace.relative(path)
            stem_terms = set(analyze(path.stem.replace("_", " ")).terms)
            if rel not in found and stem_terms & words:
                found[rel] = {
                    "path": rel,
                    "bytes": path.stat().st_size,
                    "language": language_of(path),
                    "why": "name matches the request",
                }
    return list(found.values())


RecentLoader = Callable[[str], Awaitable[list[dict[str, Any]]]]
"""``agent name -> recent successful executions`` (from the database)."""


class ManifestBuilder:
    """Builds manifests for agents about to run.

    Args:
        workspace: the code tree (for ``relevant_files``).
        recent: loads the agent's recent successful executions; None leaves the section out
            with a warning.
        timeout_s: the budget for a whole manifest.
        workers: processes for the workspace scan (killed when the budget runs out); None
            scans in a thread.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        recent: RecentLoader | None = None,
        timeout_s: float = 1.0,
        workers: WorkerPool | None = None,
    ) -> None:
        self.workspace = workspace
        self.recent = recent
        self.timeout_s = timeout_s
        self.workers = workers

    async def _scan(self, prompt: str, context: dict[str, Any]) -> list[dict[str, Any]]:
        if self.workers is not None:
            found: list[dict[str, Any]] = await self.workers.run(
                _relevant_files, self.workspace, prompt, context
            )
            return found
        return await asyncio.to_thread(_relevant_files, self.workspace, prompt, context)

    async def build(self, agent: AgentDefinition, prompt: str, context: dict[str, Any]) -> Manifest:
        """Build the manifest of ``agent`` for one request, within the time budget."""
        manifest = Manifest(agent.name)
        started = time.perf_counter()
        deadline = started + self.timeout_s

        async def constant(value: Any) -> Any:
            return value

        steps: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
            ("agent_definition", "registry", lambda: constant(agent.summary())),
            ("request_context", "request", lambda: constant(dict(context))),
            (
                "relevant_files",
                "workspace",
                lambda: self._scan(prompt, context),
            ),
            ("tools", "registry", lambda: constant(list(agent.tools))),
        ]
        if self.recent is not None:
            loader = self.recent
            steps.insert(3, ("recent_patterns", "database", lambda: loader(agent.name)))
        else:
            manifest.warnings.append("recent_patterns: no database configured; section skipped")
        for name, source, step in steps:
            left = deadline - time.perf_counter()
            t0 = time.perf_counter()
            if left <= 0:
                manifest.failures[name] = "timeout"
                manifest.warnings.append(f"{name}: skipped, the manifest time budget ran out")
                continue
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation of
                # the enclosing task (the execution's own timeout) when the step finishes at
                # the same moment, and the execution would then run past its deadline.
                async with asyncio.timeout(left):
                    value = await step()
            except TimeoutError:
                manifest.failures[name] = "timeout"
                manifest.warnings.append(f"{name}: skipped, the manifest time budget ran out")
                continue
            except Exception as exc:  # noqa: BLE001 - a failed section must not stop the agent
                manifest.failures[name] = self.workspace.hide_paths(f"{type(exc).__name__}: {exc}")
                manifest.warnings.append(f"{name}: failed ({type(exc).__name__})")
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            manifest.data[name] = value
            count = len(value) if isinstance(value, list | dict) else None
            manifest.sections.append(
                ManifestSection(
                    name=name,
                    size_bytes=len(dumps(value)),
                    source=source,
                    item_count=count,
                    query_time_ms=elapsed,
                )
            )
        manifest.total_ms = (time.perf_counter() - started) * 1000
        return manifest
