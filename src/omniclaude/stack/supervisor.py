"""The supervisor behind ``omniclaude up``: start the stack in order, watch it, stop it cleanly.

Start, in order (each step waits for a real readiness check before the next):

1. take the data directory's lock — before anything else is touched, so a second ``up``
   while a stack runs fails here and leaves that stack (its state file, its processes)
   alone; stop leftovers of a stack whose supervisor was killed; check the ports and the
   PostgreSQL data directory's version;
2. PostgreSQL (embedded, persistent under ``<data_dir>/postgres``) — or the external
   ``OMNICLAUDE_DATABASE_URL``; create the ``omniclaude`` database; run the migrations;
3. the Kafka broker (embedded Tansu, memory-only) — or the external
   ``OMNICLAUDE_KAFKA_BOOTSTRAP``; create the topics and their dead-letter topics;
4. the viewer's ``read`` key; the consumer (``omniclaude consume``), the emitter
   (``omniclaude emitter``; an emitter a hook started for this data directory is stopped
   first, see :mod:`omniclaude.stack.registry`) and the API with the viewer
   (``omniclaude api``), each a child process with the environment pointing at this stack.

If any step fails, everything already started is stopped (in reverse order) and the error is
recorded in the state file and raised: nothing is left half-started. Stop is the reverse of
start: API, emitter, consumer (each finishes its batch), broker, then PostgreSQL with a fast
shutdown (a clean checkpoint, no recovery at the next start); before all of them, every other
process registered for the data directory (an emitter a hook started meanwhile).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from omniclaude.errors import StackError
from omniclaude.settings import TopicSettings
from omniclaude.stack.children import Child
from omniclaude.stack.components import child_env, child_specs
from omniclaude.stack.config import DATABASE_NAME, StackConfig
from omniclaude.stack.postgres import EmbeddedPostgres
from omniclaude.stack.preflight import (
    StackLock,
    check_data_dir,
    check_ports,
    previous_state,
    stop_leftovers,
)
from omniclaude.stack.registry import stop_registered
from omniclaude.stack.services import (
    create_database,
    create_topics,
    mask_password,
    migrate,
    topic_names,
)
from omniclaude.stack.state import Phase, ProcessRef, StackState, remove_state, save_state
from omniclaude.stack.tansu import TansuBroker

__all__ = ["StartInterruptedError", "Supervisor"]

_RESTART_BACKOFF_MAX_S = 30.0


class StartInterruptedError(StackError):
    """``up`` was interrupted (Ctrl-C, SIGTERM) before the stack was ready."""


class Supervisor:
    """Start, watch and stop one local stack.

    Args:
        config: what to start and where.
        progress: called with one human line per step (the CLI prints them).
        topics: the topic names and partition count (``Settings.topics``).
    """

    def __init__(
        self,
        config: StackConfig,
        *,
        progress: Callable[[str], None] = lambda _line: None,
        topics: TopicSettings | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.topics = topics if topics is not None else TopicSettings()
        self.state = StackState(data_dir=str(config.data_dir), external=not config.embedded_kafka)
        self._lock = StackLock(config.data_dir)
        self._stop = threading.Event()
        self._pg: EmbeddedPostgres | None = None
        self._broker: TansuBroker | None = None
        self._children: dict[str, Child] = {}
        self._restart_at: dict[str, float] = {}
        self._database_url: str | None = None
        self._bootstrap: str | None = None

    # ------------------------------------------------------------------ public

    def request_stop(self) -> None:
        """Ask the supervisor to stop (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def run(self, on_ready: Callable[[StackState], None] = lambda _s: None) -> None:
        """Start the stack, call ``on_ready``, watch it until a stop is requested, stop it.

        SIGINT, SIGTERM and SIGHUP request the stop.

        Raises:
            StackError: the start failed (everything started was stopped again).
        """
        previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        try:
            self.start()
            on_ready(self.state)
            self.watch()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self) -> StackState:
        """Start every component in order; return the state once all are ready.

        Raises:
            AlreadyRunningError: a stack already runs from this data directory; nothing
                was touched.
            StackError: one line saying what failed and what to do; everything already
                started has been stopped again.
        """
        self._lock.acquire()  # first: until we hold it, nothing of the data dir is ours
        self.state.supervisor = ProcessRef.of(os.getpid())
        try:
            self._preflight()
            self._start_postgres()
            self._start_kafka()
            self._start_children()
        except BaseException as exc:
            message = str(exc) if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
            self.state.error = message.splitlines()[0] if message else type(exc).__name__
            self._teardown(Phase.FAILED)
            self._lock.release()
            raise
        self.state.phase = Phase.RUNNING
        self._save()
        return self.state

    def watch(self, poll_s: float = 1.0) -> None:
        """Watch the children until a stop is requested; restart one that exits, with backoff."""
        while not self._stop.wait(poll_s):
            self.check_once()

    def check_once(self) -> None:
        """Restart whatever has exited (a child after its backoff); record the change."""
        changed = self._check_services()
        for name, child in self._children.items():
            component = self.state.component(name)
            code = child.exit_code()
            if code is None:
                if component.phase is Phase.RESTARTING and child.spec.ready():
                    component.phase, component.detail = Phase.RUNNING, None
                    changed = True
                continue
            if component.phase is not Phase.RESTARTING:
                delay = min(2.0**component.restarts, _RESTART_BACKOFF_MAX_S)
                component.phase = Phase.RESTARTING
                component.detail = f"exited with code {code}; restarting in {delay:.0f}s"
                self._restart_at[name] = time.monotonic() + delay
                self.progress(f"{name} exited (code {code}); restarting")
                changed = True
            elif time.monotonic() >= self._restart_at.get(name, 0.0):
                child.stop()
                component.restarts += 1
                component.process = child.start()
                component.detail = f"restarted ({component.restarts}x)"
                changed = True
        if changed:
            self._save()

    def _check_services(self) -> bool:
        """Restart PostgreSQL or the broker if it died; return True when something changed.

        Tansu is memory-only: a restarted broker is empty, so the topics are created again
        (the consumer starts from the earliest offset; inserts are idempotent).
        """
        changed = False
        if self._pg is not None and not self._pg.is_running():
            component = self.state.component("postgres")
            component.restarts += 1
            self.progress("postgres exited; restarting")
            try:
                self._pg.start(timeout_s=60.0)
            except StackError as exc:
                component.phase, component.detail = Phase.FAILED, str(exc).splitlines()[0]
            else:
                component.process = ProcessRef.of(self._pg.pid) if self._pg.pid else None
                component.phase = Phase.RUNNING
            changed = True
        if self._broker is not None and not self._broker.is_running():
            component = self.state.component("kafka")
            component.restarts += 1
            self.progress("kafka exited; restarting (empty: Tansu is memory-only)")
            try:
                self._broker.start(timeout_s=30.0)
                names = topic_names(self.topics, self.config.topic_prefix)
                create_topics(self._broker.bootstrap, names, self.topics.partitions)
            except StackError as exc:
                component.phase, component.detail = Phase.FAILED, str(exc).splitlines()[0]
            else:
                component.process = ProcessRef.of(self._broker.pid) if self._broker.pid else None
                component.phase = Phase.RUNNING
            changed = True
        return changed

    def stop(self) -> None:
        """Stop everything in reverse order and remove the state file (idempotent).

        Does nothing unless this supervisor holds the data directory's lock: a start that
        failed to take it must not touch the stack that holds it.
        """
        if not self._lock.held or self.state.phase in (Phase.STOPPED, Phase.FAILED):
            return
        # Other producers of the data dir first (an emitter a hook started): like our own
        # emitter, they hand their last events over while the broker and consumer still run.
        ours = frozenset(c.ref.pid for c in self._children.values() if c.ref is not None)
        for entry in stop_registered(self.config.data_dir, exclude=ours):
            self.progress(f"{entry.role:<10} stopped (pid {entry.process.pid}, "
                          f"started by {entry.started_by})")  # fmt: skip
        self._teardown(Phase.STOPPED)
        remove_state(self.config.data_dir)
        self._lock.release()

    # ------------------------------------------------------------------ steps

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stop.is_set():
            self.progress(f"received {signal.Signals(signum).name}: stopping")
        self._stop.set()

    def _check_interrupted(self) -> None:
        if self._stop.is_set():
            raise StartInterruptedError("start interrupted; everything started was stopped")

    def _save(self) -> None:
        save_state(self.state)

    def _preflight(self) -> None:
        old = previous_state(self.config.data_dir)
        if old is not None:
            stopped = stop_leftovers(old)
            if stopped:
                self.progress(f"stopped leftovers of an earlier stack: {', '.join(stopped)}")
        self.state.phase = Phase.STARTING
        names = ["postgres", "kafka", "consumer"]
        names += ["emitter"] if self.config.with_emitter else []
        for name in [*names, "api", "viewer"]:
            self.state.component(name)
        self._save()
        check_ports(self.config)
        if self.config.embedded_postgres:
            from omniclaude.stack.postgres import binary_version, postgres_bin_dir

            check_data_dir(self.config, binary_version(postgres_bin_dir()).split(".")[0])

    def _start_postgres(self) -> None:
        config, component = self.config, self.state.component("postgres")
        component.phase = Phase.STARTING
        self._save()
        started = time.monotonic()
        if config.external_database_url is not None:
            url = config.external_database_url
            component.phase, component.detail = Phase.EXTERNAL, "OMNICLAUDE_DATABASE_URL"
        else:
            pg = EmbeddedPostgres(config.pgdata, port=config.pg_port, host=config.host)
            self._pg = pg
            component.log_file = str(pg.log_path)
            pg.start(timeout_s=60.0)
            component.process = ProcessRef.of(pg.pid) if pg.pid else None
            create_database(pg.url, DATABASE_NAME)
            url = pg.url_for(DATABASE_NAME)
            component.phase, component.detail = Phase.RUNNING, f"data in {config.pgdata}"
            self.state.pgdata = str(config.pgdata)
        self._check_interrupted()
        revision = migrate(url)
        self._database_url = url
        component.address = mask_password(url)
        self.state.database_url = mask_password(url)
        self._save()
        self.progress(
            f"postgres   {component.phase}  {component.address}  (schema {revision}, "
            f"{time.monotonic() - started:.1f}s)"
        )
        self._check_interrupted()

    def _start_kafka(self) -> None:
        config, component = self.config, self.state.component("kafka")
        component.phase = Phase.STARTING
        self._save()
        started = time.monotonic()
        if config.external_bootstrap is not None:
            bootstrap = config.external_bootstrap
            component.phase, component.detail = Phase.EXTERNAL, "OMNICLAUDE_KAFKA_BOOTSTRAP"
        else:
            log_path = config.logs_dir / "kafka.log"
            broker = TansuBroker(port=config.kafka_port, log_path=log_path, die_with_parent=True)
            self._broker = broker
            component.log_file = str(log_path)
            broker.start(timeout_s=30.0)
            bootstrap = broker.bootstrap
            component.process = ProcessRef.of(broker.pid) if broker.pid else None
            component.phase = Phase.RUNNING
            component.detail = "Tansu, memory-only: empty after every restart (the DB keeps all)"
        self._check_interrupted()
        created = create_topics(
            bootstrap, topic_names(self.topics, config.topic_prefix), self.topics.partitions
        )
        self._bootstrap = bootstrap
        component.address = bootstrap
        self.state.kafka_bootstrap = bootstrap
        self._save()
        self.progress(
            f"kafka      {component.phase}  {bootstrap}  ({len(created)} topics created, "
            f"{time.monotonic() - started:.1f}s)"
        )
        self._check_interrupted()

    def _child_env(self) -> dict[str, str]:
        if self._database_url is None or self._bootstrap is None:
            raise StackError("the children start after PostgreSQL and Kafka")
        return child_env(self.config, self._database_url, self._bootstrap)

    def _start_children(self) -> None:
        import asyncio

        from omniclaude.stack.keys import ensure_viewer_key, viewer_key_path

        if self._database_url is None:
            raise StackError("the viewer key is made after PostgreSQL started")
        _, created = asyncio.run(ensure_viewer_key(self._database_url, self.config.data_dir))
        self.state.viewer_key_file = str(viewer_key_path(self.config.data_dir))
        if created:
            self.progress(f"created the viewer's read key in {self.state.viewer_key_file}")
        # All children start at once and are then waited for in order: their start-ups (the
        # interpreter's imports, the consumer's group join) overlap instead of adding up.
        started = time.monotonic()
        for spec in child_specs(self.config, self._child_env()):
            if spec.name == "emitter":  # the stack's emitter takes the spool over
                for entry in stop_registered(self.config.data_dir, role="emitter"):
                    self.progress(f"stopped the emitter a {entry.started_by} started "
                                  f"(pid {entry.process.pid}); the stack's takes over")  # fmt: skip
            component = self.state.component(spec.name)
            component.phase, component.log_file = Phase.STARTING, str(spec.log_file)
            child = Child(spec)
            self._children[spec.name] = child
            component.process = child.start()
            self._save()
        for name, child in self._children.items():
            component = self.state.component(name)
            child.wait_ready(should_abort=self._stop.is_set)
            component.phase, component.address = Phase.RUNNING, child.spec.address
            self._save()
            shown = (
                child.spec.address or f"pid {component.process.pid if component.process else '?'}"
            )
            self.progress(f"{name:<10} running  {shown}  ({time.monotonic() - started:.1f}s)")
        viewer = self.state.component("viewer")
        viewer.phase, viewer.address = Phase.RUNNING, f"{self.config.api_url}/viewer/"
        viewer.process = self.state.component("api").process
        self.state.api_url = self.config.api_url
        self.state.viewer_url = viewer.address

    def _teardown(self, final: Phase) -> None:
        self.state.phase = Phase.STOPPING
        self._save()
        for name in reversed(list(self._children)):
            component = self.state.component(name)
            component.phase = Phase.STOPPING
            self._children[name].stop()
            component.phase, component.process = Phase.STOPPED, None
            self.progress(f"{name:<10} stopped")
        self._children.clear()
        if "viewer" in {c.name for c in self.state.components}:
            self.state.component("viewer").phase = Phase.STOPPED
            self.state.component("viewer").process = None
        for name, service in (("kafka", self._broker), ("postgres", self._pg)):
            if service is None:
                continue
            service.stop()
            component = self.state.component(name)
            component.phase, component.process = Phase.STOPPED, None
            self.progress(f"{name:<10} stopped")
        self._broker = self._pg = None
        self.state.phase = final
        self._save()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
