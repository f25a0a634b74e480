"""``omniclaude hook``: record one Claude Code hook payload, at interpreter-start speed.

This module is the hot path of every tool call the user waits for, so it imports nothing
but modules the interpreter has already loaded (``os``, ``sys``, ``time``) plus two small
built-in ones (``_json``, the C scanner behind :mod:`json`, and ``fcntl``). It never imports
:mod:`json`, pydantic, the settings, a Kafka client or a database driver, and it never
touches the network. What it does, in order:

1. stamp the receive time and read standard input (one JSON object from Claude Code);
2. check it is one complete JSON object (the C scanner parses it without importing
   :mod:`json`); bad input is written to the log with the reason and dropped;
3. append ``OC1 <receive_ns> <pid> <length>\\t<payload>\\n`` to the spool with ONE ``write``
   on an ``O_APPEND`` descriptor (mode 0600), so concurrent hooks never interleave records,
   under the sealing protocol below, unless the spool is full (then the payload is refused
   and the refusal logged: see :data:`MAX_SPOOL_ENV`);
4. start the emitter if its lock is free (``os.posix_spawn`` in a new session, standard
   streams on ``/dev/null`` and the log, so Claude Code never waits on it);
5. exit 0, always: whatever goes wrong is written to ``hook.log`` in the spool directory.

The spool directory is ``$OMNICLAUDE_SPOOL_DIR``, else ``$OMNICLAUDE_DATA_DIR/spool``, else
``$XDG_DATA_HOME/omniclaude/spool`` (``~/.local/share/omniclaude/spool``), the same place
``Settings.effective_spool_dir`` names.

**Sealing protocol** (how the emitter can delete shipped records while hooks append). A hook
opens ``hooks.spool``, takes a *shared* ``flock`` on it without waiting, and checks that the
name still points at the file it opened (same inode); only then does it write, and it holds
the shared lock until the write is done. The emitter seals a segment by renaming it away and
then taking an *exclusive* ``flock`` on it (:mod:`omniclaude.hooks.spool`). Once the exclusive
lock is granted, every hook that will ever write to that file has written: a hook that held
the shared lock with a matching name wrote before the grant; any other finds the lock taken
or the name moved, and reopens ``hooks.spool`` (the fresh file). A sealed segment therefore
never changes after its exclusive lock was granted, and can be deleted once read.

It has no ``from __future__`` import
and reaches nothing outside the standard library, so the launcher ``omniclaude hooks install``
writes can import it as a top-level module under ``python -I -S`` (no ``site``, no package
``__init__``), which is faster than ``omniclaude hook`` through the console script.
"""

import os
import sys
import time

__all__ = [
    "AUTOSTART_ENV",
    "DEFAULT_MAX_SPOOL_BYTES",
    "LOCK_FILE",
    "LOG_FILE",
    "MAX_PAYLOAD_BYTES",
    "MAX_SPOOL_ENV",
    "RECORD_MAGIC",
    "SPAWN_MARKER",
    "SPOOL_FILE",
    "SpoolFullError",
    "append_record",
    "check_payload",
    "encode_record",
    "flock_free",
    "main",
    "resolve_spool_dir",
]

SPOOL_FILE = "hooks.spool"
"""The active spool segment, appended to by every hook."""
LOG_FILE = "hook.log"
"""Where the hook (and the emitter it starts) write what went wrong."""
LOCK_FILE = "emitter.lock"
"""Held (``flock``) by the running emitter; free means no emitter runs."""
RECORD_MAGIC = b"OC1"
"""First field of every spool record (the record format's version)."""
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
"""Larger payloads are refused (logged), never half-spooled."""
SPAWN_MARKER = "emitter.spawned"
"""Touched when a hook starts the emitter; within :data:`SPAWN_GRACE_NS` no other hook does."""
SPAWN_GRACE_NS = 10 * 1_000_000_000
AUTOSTART_ENV = "OMNICLAUDE_HOOK_AUTOSTART"
"""Set to ``0`` to stop the hook from starting the emitter (``omniclaude up`` runs one)."""
MAX_SPOOL_ENV = "OMNICLAUDE_SPOOL_MAX_BYTES"
"""The spool's size cap in bytes (every segment not yet deleted, this record included).

A payload that would take the spool past it is refused: not written, and the refusal logged
(``payload refused: ...``) and counted by ``omniclaude hooks status``. Concurrent hooks may
overshoot the cap by at most one payload each (each checks, then writes)."""
DEFAULT_MAX_SPOOL_BYTES = 1024 * 1024 * 1024
SEALED_PREFIX = "hooks."
SEALED_SUFFIX = ".spool"
"""Sealed segments are named ``hooks.<ns>.spool`` (``hooks.spool`` is the active one)."""

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_WHITESPACE = b" \t\r\n"
_MAX_REASON_CHARS = 300
_MAX_REOPENS = 64
"""A segment sealed under a hook this many times in a row means something is wrong."""


class SpoolFullError(OSError):
    """Writing the record would take the spool past its cap (see :data:`MAX_SPOOL_ENV`)."""


def resolve_spool_dir(environ: "dict[str, str] | os._Environ[str]") -> str:
    """Return the spool directory named by the environment (no settings object needed).

    Args:
        environ: the process environment (or a test's mapping).

    Returns:
        ``OMNICLAUDE_SPOOL_DIR``, else ``OMNICLAUDE_DATA_DIR/spool``, else
        ``$XDG_DATA_HOME/omniclaude/spool`` with ``~/.local/share`` as the XDG default.
    """
    explicit = environ.get("OMNICLAUDE_SPOOL_DIR")
    if explicit:
        return explicit
    data_dir = environ.get("OMNICLAUDE_DATA_DIR")
    if data_dir:
        return os.path.join(data_dir, "spool")
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "omniclaude", "spool")


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads (what ``json.JSONDecoder`` would hold)."""

    strict = False
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


_scanner: object = None


def _scan(text: str) -> tuple[object, int]:
    global _scanner
    if _scanner is None:
        import _json

        _scanner = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
    return _scanner(text, 0)  # type: ignore[operator,no-any-return]


def check_payload(data: bytes) -> str | None:  # noqa: PLR0911 - one return per reason
    """Say why ``data`` is not one complete JSON object, or return None when it is.

    The C scanner behind :mod:`json` does the parsing, so :mod:`json` itself (and ``re``) is
    never imported on the hook's path.

    Args:
        data: standard input as received.

    Returns:
        None for a JSON object, else a one-line reason (empty, not JSON, truncated...).
    """
    body = data.strip(_WHITESPACE)
    if not body:
        return "empty stdin (no payload)"
    if body[:1] != b"{":
        return f"not JSON: expected an object, input starts with {body[:20]!r}"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not JSON: invalid UTF-8 at byte {exc.start}"
    try:
        value, end = _scan(text)
    except StopIteration as exc:
        if body[-1:] != b"}" or exc.value >= len(text):
            return f"truncated JSON object ({len(body)} bytes, no complete object)"
        return f"not JSON: no value at character {exc.value}"
    except Exception:  # noqa: BLE001 - the C scanner raises several kinds; the reason is enough
        # More openings than closings (strings aside: this only words the reason) = cut short.
        opened = body.count(b"{") + body.count(b"[")
        if body[-1:] != b"}" or opened > body.count(b"}") + body.count(b"]"):
            return f"truncated JSON object ({len(body)} bytes, ends with {body[-20:]!r})"
        return f"not JSON: the object is malformed ({len(body)} bytes)"
    if not isinstance(value, dict):
        return "not JSON: expected an object"
    if end != len(text):
        return f"not JSON: extra data after the object at character {end}"
    return None


def encode_record(payload: bytes, receive_ns: int, pid: int) -> bytes:
    """Build one spool record: ``OC1 <receive_ns> <pid> <length>\\t<payload>\\n``.

    Raw newlines in a JSON text can only be whitespace between tokens (inside strings they
    are escaped), so replacing them with spaces keeps the JSON identical and the record on
    one line. ``length`` lets the reader detect a torn record.

    Args:
        payload: one complete JSON object (already checked).
        receive_ns: when the hook received it (``time.time_ns()``).
        pid: the hook's process id (makes the record key unique with ``receive_ns``).

    Returns:
        The record bytes, to be written with a single ``write``.
    """
    body = payload.strip(_WHITESPACE).replace(b"\n", b" ").replace(b"\r", b" ")
    return b"%s %d %d %d\t%s\n" % (RECORD_MAGIC, receive_ns, pid, len(body), body)


def _open_private(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_CLOEXEC, _FILE_MODE)


def _open_append(directory: str, path: str) -> int:
    """Open ``path`` (in ``directory``, created 0700 if missing) for appending, mode 0600."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        return _open_private(path, flags)
    except FileNotFoundError:
        os.makedirs(directory, mode=_DIR_MODE, exist_ok=True)
        return _open_private(path, flags)


def flock_free(path: str, *, create: bool = False) -> bool | None:
    """Take and release ``path``'s exclusive ``flock`` without waiting.

    Args:
        path: the file.
        create: create it (mode 0600) if missing.

    Returns:
        True when nobody held a lock on it, False while someone does, None when there is no
        such file.
    """
    import fcntl

    try:
        fd = _open_private(path, os.O_RDONLY | (os.O_CREAT if create else 0))
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return True


def _append(directory: str, name: str, data: bytes) -> None:
    """Append ``data`` with one write on an O_APPEND descriptor, creating the dir if needed."""
    path = os.path.join(directory, name)
    fd = _open_append(directory, path)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes")


def _spool_bytes(directory: str, active_size: int) -> int:
    """The bytes held by every segment: the active one (``active_size``) and the sealed ones."""
    total = active_size
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            sealed = name.startswith(SEALED_PREFIX) and name.endswith(SEALED_SUFFIX)
            if sealed and name != SPOOL_FILE:
                try:  # noqa: SIM105 - contextlib costs 1.5 ms of import on the hot path
                    total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:  # deleted by the emitter meanwhile
                    pass
    return total


def append_record(directory: str, record: bytes, max_spool_bytes: int) -> None:
    """Append ``record`` to the active segment under the sealing protocol (module docstring).

    Args:
        directory: the spool directory (created 0700 if missing).
        record: one encoded record (:func:`encode_record`), written with a single ``write``.
        max_spool_bytes: refuse the record if the spool would grow past this.

    Raises:
        SpoolFullError: the cap would be passed; nothing was written.
        OSError: the write failed (disk full...) or was short.
    """
    import fcntl

    path = os.path.join(directory, SPOOL_FILE)
    for _ in range(_MAX_REOPENS):
        fd = _open_append(directory, path)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being sealed right now: the name already points elsewhere
            opened = os.fstat(fd)
            try:
                named = os.stat(path)
            except FileNotFoundError:
                continue  # sealed between our open and this check: open the fresh file
            if named.st_ino != opened.st_ino or named.st_dev != opened.st_dev:
                continue
            total = _spool_bytes(directory, opened.st_size) + len(record)
            if total > max_spool_bytes:
                raise SpoolFullError(
                    f"the spool is full: {total - len(record)} bytes held, cap "
                    f"{max_spool_bytes} ({MAX_SPOOL_ENV}); is the emitter shipping? "
                    "see `omniclaude hooks status`"
                )
            written = os.write(fd, record)
        finally:
            os.close(fd)  # releases the shared lock
        if written != len(record):
            raise OSError(f"short write to {path}: {written} of {len(record)} bytes")
        return
    raise OSError(f"{path} was sealed {_MAX_REOPENS} times while this hook tried to append")


def _max_spool_bytes(environ: "dict[str, str] | os._Environ[str]") -> int:
    """The cap from :data:`MAX_SPOOL_ENV` (the default when unset; ValueError when invalid)."""
    text = environ.get(MAX_SPOOL_ENV)
    if not text:
        return DEFAULT_MAX_SPOOL_BYTES
    value = int(text)
    if value <= 0:
        raise ValueError(f"{MAX_SPOOL_ENV} must be a positive number of bytes, not {text!r}")
    return value


def _log(directory: str, message: str) -> None:
    """Write one line to ``hook.log``; never raises (stderr as the last resort)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    line = f"{stamp} hook[{os.getpid()}] {message[: _MAX_REASON_CHARS * 4]}\n"
    try:
        _append(directory, LOG_FILE, line.encode("utf-8", "replace"))
    except OSError:
        try:  # noqa: SIM105 - contextlib costs 1.5 ms of import on the hot path
            sys.stderr.write(line)
        except (OSError, ValueError):
            pass


def _emitter_running(directory: str) -> bool:
    """Return True when the emitter's lock is held (by a live emitter)."""
    return flock_free(os.path.join(directory, LOCK_FILE), create=True) is False


def _spawned_recently(directory: str, now_ns: int) -> bool:
    """Return True if a hook started an emitter moments ago (it may still be starting).

    Otherwise touch the marker: a burst of parallel hooks starts one emitter, not ten.
    """
    marker = os.path.join(directory, SPAWN_MARKER)
    try:
        if now_ns - os.stat(marker).st_mtime_ns < SPAWN_GRACE_NS:
            return True
    except FileNotFoundError:
        pass
    os.close(_open_private(marker, os.O_WRONLY | os.O_CREAT))
    os.utime(marker, ns=(now_ns, now_ns))
    return False


def _spawn_emitter(directory: str, environ: "dict[str, str] | os._Environ[str]") -> int:
    """Start ``omniclaude emitter`` detached: new session, no inherited pipes."""
    executable = sys.executable
    argv = [
        executable,
        "-c",
        "from omniclaude._entry import main; main()",
        "emitter",
        "--if-not-running",
        "--started-by",
        "hook",
        "--spool-dir",
        directory,
        "--idle-exit-s",
        environ.get("OMNICLAUDE_HOOK_EMITTER_IDLE_EXIT_S", "1800"),
    ]
    log_path = os.path.join(directory, LOG_FILE)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _FILE_MODE),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(executable, argv, environ, file_actions=actions, setsid=True)


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None or stream.isatty():  # run by hand in a terminal: nothing to wait for
        return b""
    return stream.buffer.read(MAX_PAYLOAD_BYTES + 1)


_USAGE = """Usage: omniclaude hook

  Record one Claude Code hook payload (a JSON object on standard input) in the spool
  ($OMNICLAUDE_SPOOL_DIR, else $OMNICLAUDE_DATA_DIR/spool), start the emitter if none runs,
  and exit 0 whatever happens (problems go to hook.log in the spool directory).
  Install it with `omniclaude hooks install`.
"""


def main(argv: list[str]) -> int:
    """Record the payload on standard input; return 0 whatever happens.

    Args:
        argv: command-line arguments after ``hook``: Claude Code passes none; ``--help``
            prints the usage (nothing else is read).

    Returns:
        Always 0: a hook must never fail Claude Code.
    """
    if argv and argv[0] in {"--help", "-h"}:
        sys.stdout.write(_USAGE)
        return 0
    receive_ns = time.time_ns()
    environ = os.environ
    directory = resolve_spool_dir(environ)
    try:
        data = _read_stdin()
        if len(data) > MAX_PAYLOAD_BYTES:
            _log(directory, f"payload dropped: larger than {MAX_PAYLOAD_BYTES} bytes")
            return 0
        reason = check_payload(data)
        if reason is not None:
            _log(directory, f"payload dropped: {reason}")
            return 0
        try:
            cap = _max_spool_bytes(environ)
        except ValueError as exc:
            _log(directory, f"{exc}; using the default {DEFAULT_MAX_SPOOL_BYTES}")
            cap = DEFAULT_MAX_SPOOL_BYTES
        append_record(directory, encode_record(data, receive_ns, os.getpid()), cap)
    except SpoolFullError as exc:  # not written; start the emitter below, it drains the spool
        _log(directory, f"payload refused: {exc}")
    except BaseException as exc:  # noqa: BLE001 - the hook must exit 0 whatever happens
        _log(directory, f"payload lost: {type(exc).__name__}: {exc}")
        return 0
    if environ.get(AUTOSTART_ENV, "1") != "0":
        try:
            if not _emitter_running(directory) and not _spawned_recently(directory, receive_ns):
                pid = _spawn_emitter(directory, environ)
                _log(directory, f"emitter was not running; started it (pid {pid})")
        except BaseException as exc:  # noqa: BLE001 - the record is spooled; report and go on
            _log(directory, f"could not start the emitter: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
