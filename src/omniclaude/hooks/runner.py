"""Building and running the emitter from :class:`~omniclaude.settings.Settings`.

Where the emitter sends events: ``OMNICLAUDE_KAFKA_BOOTSTRAP`` when set; otherwise the
broker of a local stack started by ``omniclaude up`` (its state file under the data dir).
An emitter that found the broker in the stack's state file exits when that file changes
(the stack restarted, perhaps on other ports); the next hook starts a fresh one, which
re-sends whatever the previous one left in the outbox. With no broker anywhere the emitter
keeps the spool untouched and checks again every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from omniclaude.hooks.emitter import Emitter, EmitterAlreadyRunningError, EmitterLock
from omniclaude.hooks.fast import SPAWN_MARKER
from omniclaude.hooks.mapping import Mapper, RouteFn
from omniclaude.hooks.shaping import Shaper
from omniclaude.settings import Settings
from omniclaude.stack.registry import Registration

__all__ = [
    "EMITTER_OUTBOX",
    "BrokerTarget",
    "build_mapper",
    "find_broker",
    "package_router",
    "run_emitter",
]

log = logging.getLogger(__name__)

EMITTER_OUTBOX: Final = "emitter-outbox.sqlite3"
"""The emitter's Kafka outbox, in the spool directory."""
_DISCOVERY_INTERVAL_S: Final = 3.0
_ROUTING_FIELDS_EXCLUDED: Final = frozenset(
    {"event_id", "event_type", "correlation_id", "timestamp", "producer", "schema_version",
     "user_request", "session_id", "parent_correlation_id", "context_snapshot", "started_at"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    """A Kafka bootstrap list and where it came from."""

    servers: list[str]
    source: str
    stack_state_file: Path | None = None
    stack_state_mtime_ns: int | None = None

    def changed(self) -> bool:
        """True when it came from the stack's state file and that file changed or vanished."""
        if self.stack_state_file is None:
            return False
        try:
            return self.stack_state_file.stat().st_mtime_ns != self.stack_state_mtime_ns
        except FileNotFoundError:
            return True


def find_broker(settings: Settings) -> BrokerTarget | None:
    """Return the broker to send to: the settings', else a running local stack's, else None."""
    if settings.kafka_bootstrap:
        return BrokerTarget(settings.bootstrap_servers, "OMNICLAUDE_KAFKA_BOOTSTRAP")
    from omniclaude.settings import parse_bootstrap
    from omniclaude.stack.state import load_state, state_path

    path = state_path(settings.data_dir)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    state = load_state(settings.data_dir)
    if state is None or not state.kafka_bootstrap:
        return None
    try:
        servers = parse_bootstrap(state.kafka_bootstrap)
    except ValueError:
        return None
    return BrokerTarget(servers, f"local stack ({path})", path, mtime)


def package_router() -> RouteFn | None:
    """Return the package's router as a :data:`RouteFn` (None when it cannot be built)."""
    try:
        from omniclaude.routing import Router

        router = Router.default()
    except Exception as exc:  # noqa: BLE001 - routing is optional for the hooks
        log.warning("no router (%s): prompts get Claude Code's own routing decision", exc)
        return None

    def route(prompt: str) -> dict[str, Any]:
        event = router.route(prompt).to_event(correlation_id=uuid.UUID(int=0), user_request="")
        return event.model_dump(exclude=set(_ROUTING_FIELDS_EXCLUDED))

    return route


def build_mapper(
    settings: Settings, *, router: RouteFn | None = None, strict_pricing: bool = False
) -> Mapper:
    """A mapper with the package's redaction, the settings' truncation and timeout, and prices.

    Args:
        settings: the settings.
        router: routes prompts (None: Claude Code's own choice is recorded).
        strict_pricing: raise when the user's price table is invalid (commands run by hand);
            otherwise (the background emitter) log it and price with the shipped table only.

    Raises:
        PricingError: ``strict_pricing`` and the user's price table is not valid.
    """
    from omniclaude.pricing import PricingError, default_price_table, load_price_table
    from omniclaude.publishing.redaction import sanitize_pii

    try:
        prices = load_price_table(settings.effective_pricing_file)
    except PricingError as exc:
        if strict_pricing:
            raise
        log.error("%s; pricing with the shipped table only until it is fixed", exc)
        prices = default_price_table()
    shaper = Shaper(redact=sanitize_pii, max_value_bytes=settings.hooks.max_tool_response_bytes)
    return Mapper(
        shaper=shaper, router=router, session_timeout_s=settings.hooks.session_timeout_s,
        prices=prices,
    )  # fmt: skip


async def _take_lock(lock: EmitterLock, stop: asyncio.Event, registration: Registration) -> bool:
    """Take the spool's lock, waiting while another emitter holds it; False when stopped."""
    announced = False
    while not stop.is_set():
        try:
            lock.acquire()
        except EmitterAlreadyRunningError:
            if not announced:
                log.info("an emitter already runs (pid %s); waiting for it to exit", lock.holder())
                registration.update(f"waiting for the emitter with pid {lock.holder()} to exit")
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        else:
            return True
    return False


async def _wait_for_broker(
    settings: Settings, stop: asyncio.Event, idle_exit_s: float | None
) -> BrokerTarget | None:
    """Return the broker once there is one; None when stopped or idle for ``idle_exit_s``."""
    announced = False
    deadline = None if idle_exit_s is None else time.monotonic() + idle_exit_s
    while not stop.is_set():
        target = find_broker(settings)
        if target is not None:
            return target
        if not announced:
            log.warning(
                "no Kafka broker: set OMNICLAUDE_KAFKA_BOOTSTRAP or run `omniclaude up`; "
                "hook events wait in the spool"
            )
            announced = True
        if deadline is not None and time.monotonic() >= deadline:
            log.info("no broker for %ss: exiting (the next hook starts a new emitter)", idle_exit_s)
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _DISCOVERY_INTERVAL_S)
    return None


def _install_signals(stop: asyncio.Event, emitter_ref: list[Emitter]) -> None:
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        stop.set()
        for emitter in emitter_ref:
            emitter.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, request_stop)


async def run_emitter(
    settings: Settings,
    *,
    spool_dir: Path,
    idle_exit_s: float | None = None,
    wait_for_lock: bool = True,
    make_sink: Callable[[BrokerTarget], Any] | None = None,
    started_by: str = "user",
) -> int:
    """Run the emitter until SIGTERM/SIGINT (or idle); return the process exit code.

    1. record this process in the data directory's registry (:mod:`omniclaude.stack.registry`),
       so ``status``, ``down`` and ``hooks status`` know it whoever started it;
    2. take the spool's lock (waiting while another emitter holds it, unless
       ``wait_for_lock`` is False), *before* looking for a broker, so a hook never starts a
       second emitter while this one waits for the stack;
    3. wait for a broker (giving up after ``idle_exit_s``), then ship until stopped or idle;
    4. release the lock and remove the registry entry.

    Args:
        settings: the settings (topics, prefix, producer, hooks, data dir).
        spool_dir: the spool to tail.
        idle_exit_s: exit after this long with nothing to do (None: never).
        wait_for_lock: wait while another emitter runs (else return 0 at once).
        make_sink: builds the sink for a broker (tests); default a Kafka sink whose outbox
            is ``emitter-outbox.sqlite3`` in the spool directory.
        started_by: who started it (``hook``, ``stack``, ``user``), shown by ``status``.
    """
    from omniclaude.stack.registry import register

    await asyncio.to_thread(spool_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
    stop = asyncio.Event()
    emitters: list[Emitter] = []
    _install_signals(stop, emitters)
    lock = EmitterLock(spool_dir)
    if lock.held_by_other() and not wait_for_lock:
        log.info("an emitter already runs for %s (pid %s)", spool_dir, lock.holder())
        return 0
    with register(settings.data_dir, "emitter", started_by=started_by, spool_dir=spool_dir) as reg:
        if not wait_for_lock:
            try:
                lock.acquire()
            except EmitterAlreadyRunningError as exc:  # lost a race with another emitter
                log.info("%s", exc)
                return 0
        elif not await _take_lock(lock, stop, reg):
            return 0
        # Holding the lock, this emitter is what hooks check: the marker that kept a burst of
        # hooks from starting several is done, and the next hook after this one exits may
        # start a new emitter at once.
        (spool_dir / SPAWN_MARKER).unlink(missing_ok=True)
        try:
            reg.update("waiting for a Kafka broker")
            target = await _wait_for_broker(settings, stop, idle_exit_s)
            if target is None:
                return 0
            await _ship(
                settings, spool_dir, target, lock, stop, emitters, idle_exit_s, make_sink, reg
            )
        finally:
            lock.release()
    return 0


async def _ship(  # noqa: PLR0917 - a private step of run_emitter, called once
    settings: Settings,
    spool_dir: Path,
    target: BrokerTarget,
    lock: EmitterLock,
    stop: asyncio.Event,
    emitters: list[Emitter],
    idle_exit_s: float | None,
    make_sink: Callable[[BrokerTarget], Any] | None,
    registration: Registration,
) -> None:
    """Run the emitter (holding ``lock``) against ``target`` until stopped or idle."""
    servers = ",".join(target.servers)
    log.info("emitter: spool %s -> Kafka %s (%s)", spool_dir, servers, target.source)
    if make_sink is None:
        from omniclaude.publishing.sinks.kafka import KafkaSink

        def make_sink(t: BrokerTarget) -> Any:
            return KafkaSink.from_settings(
                settings, bootstrap_servers=t.servers, spool_dir=spool_dir,
                outbox_file=EMITTER_OUTBOX,
            )  # fmt: skip

    hooks = settings.hooks
    emitter = Emitter(
        spool_dir=spool_dir,
        sink=make_sink(target),
        mapper=build_mapper(settings, router=package_router()),
        idle_exit_s=idle_exit_s,
        rotate_bytes=hooks.spool_rotate_bytes,
        rotate_after_s=hooks.spool_rotate_after_s,
        stop_when=target.changed,
        lock=lock,
    )
    emitters.append(emitter)
    if stop.is_set():  # a signal arrived before the emitter existed
        return
    registration.update(f"shipping to Kafka {servers}")
    await emitter.run()
