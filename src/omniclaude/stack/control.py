"""``status`` and ``down``: read what is recorded, check what really runs, stop it.

Three records name the processes of a data directory: the state file (the supervisor and its
children), the supervisor's lock (its pid, even before the state file exists) and the
registry (:mod:`omniclaude.stack.registry`: an emitter a hook started, one run by hand).
Neither command needs the supervisor to be healthy: ``status`` checks each recorded process
(by pid *and* creation time) and probes each address; ``down`` asks the supervisor to stop
(SIGTERM, so it stops the components in order) and then stops whatever is left itself, so
even a stack whose supervisor was killed ends with no process behind.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from omniclaude.stack.children import stop_process
from omniclaude.stack.preflight import StackLock, stop_leftovers
from omniclaude.stack.probes import http_ok, tcp_open
from omniclaude.stack.registry import registered, stop_registered
from omniclaude.stack.state import ComponentState, Phase, ProcessRef, load_state, remove_state

__all__ = ["BROKER_NOTE", "stack_status", "stop_stack"]

BROKER_NOTE = (
    "The embedded Kafka broker (Tansu) keeps everything in memory: after `down`/`up` it is "
    "empty and the topics are created again; PostgreSQL keeps every event."
)


def _probe(component: ComponentState) -> bool | None:
    """Return whether the component answers at its address (None: nothing to probe)."""
    address = component.address
    if not address:
        return None
    if component.name == "consumer":
        return http_ok(f"{address}/health", timeout_s=0.5)
    if component.name in ("api", "viewer"):
        base = address.removesuffix("/viewer/")
        return http_ok(f"{base}/health", timeout_s=0.5)
    if component.name == "kafka" and component.phase is not Phase.EXTERNAL:
        host, _, port = address.rpartition(":")
        return tcp_open(host, int(port), timeout_s=0.5)
    return None


def _live_phase(component: ComponentState, supervisor_alive: bool) -> str:
    """What a component's state really is now (the file may be stale after a crash)."""
    if component.phase is Phase.EXTERNAL:
        return str(Phase.EXTERNAL)
    if component.process is None:
        return str(component.phase) if supervisor_alive else str(Phase.STOPPED)
    if not component.process.alive():
        return "dead"
    if component.phase is Phase.RUNNING and _probe(component) is False:
        return "unresponsive"
    return str(component.phase)


def _other_processes(data_dir: Path, known: set[int]) -> list[dict[str, Any]]:
    """The registered processes of ``data_dir`` that are not components of its stack."""
    return [e.to_json() for e in registered(data_dir) if e.process.pid not in known]


def stack_status(data_dir: Path) -> dict[str, Any]:
    """Describe the stack kept in ``data_dir`` as a JSON-ready mapping.

    The result has ``running`` (bool), ``phase``, ``data_dir``, ``supervisor_pid``,
    ``api_url``, ``viewer_url``, ``components`` (``{name: {state, address, pid, log_file,
    detail, restarts}}``), ``processes`` (the other live processes registered for the data
    directory: ``{role, pid, started_by, spool_dir, detail}``), ``error`` (why the last start
    failed) and ``notes``.
    """
    state = load_state(data_dir)
    if state is None:
        holder = StackLock(data_dir).holder()
        return {
            "running": False,
            "phase": str(Phase.STARTING) if holder else str(Phase.STOPPED),
            "data_dir": str(data_dir),
            "supervisor_pid": holder.pid if holder else None,
            "api_url": None,
            "viewer_url": None,
            "components": {},
            "processes": _other_processes(data_dir, set()),
            "error": None,
            "notes": [BROKER_NOTE],
        }
    supervisor_alive = state.supervisor is not None and state.supervisor.alive()
    components = {
        c.name: {
            "state": _live_phase(c, supervisor_alive),
            "address": c.address,
            "pid": c.process.pid if c.process else None,
            "log_file": c.log_file,
            "detail": c.detail,
            "restarts": c.restarts,
        }
        for c in state.components
    }
    known = {c.process.pid for c in state.components if c.process is not None}
    phase = str(state.phase) if supervisor_alive else str(Phase.STOPPED)
    if state.phase is Phase.FAILED:
        phase = str(Phase.FAILED)
    return {
        "running": supervisor_alive and state.phase is Phase.RUNNING,
        "phase": phase,
        "data_dir": state.data_dir,
        "supervisor_pid": state.supervisor.pid if state.supervisor else None,
        "started_at": state.started_at,
        "api_url": state.api_url,
        "viewer_url": state.viewer_url,
        "viewer_key_file": state.viewer_key_file,
        "database_url": state.database_url,
        "kafka_bootstrap": state.kafka_bootstrap,
        "components": components,
        "processes": _other_processes(data_dir, known),
        "error": state.error,
        "notes": [BROKER_NOTE],
    }


def stop_stack(data_dir: Path, *, timeout_s: float = 60.0) -> list[str]:
    """Stop every process of ``data_dir``; return what was stopped (empty: nothing ran).

    1. SIGTERM the supervisor (named by the state file, else by its lock), which stops its
       components in reverse order, PostgreSQL last with a fast shutdown, then the registered
       processes, and removes the state file; wait up to ``timeout_s``.
    2. Stop any recorded component process still alive (the supervisor was killed or did
       not finish in time).
    3. Stop every process still registered for the data directory (an emitter a hook
       started while the stack was down, ``omniclaude emitter`` run by hand).
    4. Remove the state file, unless a new supervisor holds the lock by now.
    """
    state = load_state(data_dir)
    lock = StackLock(data_dir)
    stopped: list[str] = []
    supervisor: ProcessRef | None = state.supervisor if state is not None else None
    if supervisor is None or not supervisor.alive():
        supervisor = lock.holder()
    if supervisor is not None and supervisor.alive():
        stop_process(supervisor, timeout_s=timeout_s, group=False, first_signal=signal.SIGTERM)
        stopped.append("supervisor")
    deadline = time.monotonic() + 5.0
    while lock.held_by_other() and time.monotonic() < deadline:
        time.sleep(0.05)
    if state is not None:
        stopped += stop_leftovers(state)
    stopped += [f"{e.role} (started by {e.started_by})" for e in stop_registered(data_dir)]
    if state is not None and not lock.held_by_other():
        remove_state(data_dir)
    return stopped
