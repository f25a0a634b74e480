"""The hook hot path: payload checks, record format, spool directory, main() never failing."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from omniclaude.hooks import fast
from omniclaude.hooks.spool import parse_record_line


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh spool directory named by the environment, emitter autostart off."""
    directory = tmp_path / "spool"
    monkeypatch.setenv("OMNICLAUDE_SPOOL_DIR", str(directory))
    monkeypatch.setenv(fast.AUTOSTART_ENV, "0")
    return directory


def run_main(monkeypatch: pytest.MonkeyPatch, data: bytes) -> int:
    """Run fast.main with ``data`` on stdin."""

    class _Stdin:
        buffer = io.BytesIO(data)

        @staticmethod
        def isatty() -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", _Stdin())
    return fast.main([])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty stdin"),
        (b"  \n\t ", "empty stdin"),
        (b"not json at all", "not JSON"),
        (b"[1, 2, 3]", "not JSON: expected an object"),
        (b'{"session_id": "s1", "hook_event_name": "Pre', "truncated JSON object"),
        (b'{"session_id": "s1", "tool_input": {"a": 1}', "truncated JSON object"),
        (b'{"a" 1}', "not JSON"),
        (b'{"a": 1} trailing', "not JSON"),
        (b'{"a": 1}{"b": 2}', "extra data"),
        (b'{"a": "\xff\xfe"}', "invalid UTF-8"),
    ],
)
def test_check_payload_names_the_reason(data: bytes, reason: str) -> None:
    """Bad input gets a one-line reason naming what is wrong."""
    result = fast.check_payload(data)
    assert result is not None, f"{data!r} was accepted"
    assert reason in result


@pytest.mark.parametrize(
    "data",
    [
        b'{"session_id": "s1"}',
        b'  {"a": [1, 2.5, NaN, true, null], "b": {"c": "\\u00e9\\n"}}\n',
        b'{\n  "pretty": "printed",\n  "n": 1\n}\n',
        '{"prompt": "héllo wörld ✓"}'.encode(),
    ],
)
def test_check_payload_accepts_objects(data: bytes) -> None:
    """Any complete JSON object passes, pretty-printed or not."""
    assert fast.check_payload(data) is None


def test_check_payload_never_imports_json() -> None:
    """Checking a payload does not import the json package (the hot path stays lean)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fast;"
        'assert fast.check_payload(b\'{"a": [1, {"b": 2}]}\') is None;'
        "print('json' in sys.modules)"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(Path(fast.__file__).parent)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "False", "the hook's payload check imported json"


def test_encode_record_is_one_line_and_round_trips() -> None:
    """A record is one line whose payload is the JSON with raw newlines made spaces."""
    payload = b'{\n "a": "x\\ny",\r\n "b": 2\n}\n'
    record = fast.encode_record(payload, 123, 45)
    assert record.count(b"\n") == 1
    assert record.endswith(b"\n")
    parsed = parse_record_line(record[:-1])
    assert not isinstance(parsed, str)
    receive_ns, pid, body = parsed
    assert (receive_ns, pid) == (123, 45)
    import json

    assert json.loads(body) == json.loads(payload), "the payload changed in the spool"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OMNICLAUDE_SPOOL_DIR": "/s", "OMNICLAUDE_DATA_DIR": "/d"}, "/s"),
        ({"OMNICLAUDE_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}, "/d/spool"),
        ({"XDG_DATA_HOME": "/x"}, "/x/omniclaude/spool"),
    ],
)
def test_resolve_spool_dir_follows_the_settings_rules(env: dict[str, str], expected: str) -> None:
    """The hook finds the spool where Settings.effective_spool_dir says it is."""
    assert fast.resolve_spool_dir(env) == expected


def test_resolve_spool_dir_defaults_to_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any variable the spool is ~/.local/share/omniclaude/spool."""
    monkeypatch.setenv("HOME", "/home/u")
    assert fast.resolve_spool_dir({}) == "/home/u/.local/share/omniclaude/spool"


def test_main_spools_a_payload_privately(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid payload is appended to the spool, mode 0600 in a 0700 directory, exit 0."""
    assert run_main(monkeypatch, b'{"session_id": "s", "hook_event_name": "Stop"}') == 0
    path = spool / fast.SPOOL_FILE
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1, "the payload was not spooled exactly once"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty stdin"), (b"oops", "not JSON"), (b'{"a": {', "truncated JSON object")],
)
def test_main_logs_bad_input_and_exits_zero(
    spool: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, reason: str
) -> None:
    """Bad input exits 0, spools nothing and writes the reason to hook.log."""
    assert run_main(monkeypatch, data) == 0
    assert not (spool / fast.SPOOL_FILE).exists(), "bad input reached the spool"
    log = (spool / fast.LOG_FILE).read_text()
    assert f"payload dropped: {reason}" in log


def test_main_on_a_terminal_does_not_wait(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run by hand in a terminal, the hook does not wait for input: logged, exit 0."""

    class _Tty:
        @staticmethod
        def isatty() -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", _Tty())
    assert fast.main([]) == 0
    assert "empty stdin" in (spool / fast.LOG_FILE).read_text()


def test_main_exits_zero_when_the_spool_is_unwritable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unwritable spool still exits 0; the reason goes to stderr as a last resort."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("OMNICLAUDE_SPOOL_DIR", str(blocker / "spool"))
    monkeypatch.setenv(fast.AUTOSTART_ENV, "0")
    assert run_main(monkeypatch, b'{"a": 1}') == 0
    assert "payload lost" in capsys.readouterr().err


def test_main_drops_oversized_payloads(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A payload over the size cap is logged, never half-spooled."""
    monkeypatch.setattr(fast, "MAX_PAYLOAD_BYTES", 10)
    assert run_main(monkeypatch, b'{"a": "0123456789"}') == 0
    assert not (spool / fast.SPOOL_FILE).exists()
    assert "larger than 10 bytes" in (spool / fast.LOG_FILE).read_text()


def test_main_starts_the_emitter_once(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With autostart on and no emitter, the hook spawns one; a burst spawns only one."""
    spawned: list[Any] = []
    monkeypatch.setenv(fast.AUTOSTART_ENV, "1")
    monkeypatch.setattr(fast, "_spawn_emitter", lambda d, _env: spawned.append(d) or 4242)
    for _ in range(3):
        assert run_main(monkeypatch, b'{"a": 1}') == 0
    assert spawned == [str(spool)], "a burst of hooks must start exactly one emitter"
    assert "started it (pid 4242)" in (spool / fast.LOG_FILE).read_text()


def test_main_does_not_start_an_emitter_that_runs(
    spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the emitter lock is held, the hook starts nothing."""
    import fcntl

    spool.mkdir(mode=0o700)
    fd = os.open(spool / fast.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        monkeypatch.setenv(fast.AUTOSTART_ENV, "1")
        monkeypatch.setattr(fast, "_spawn_emitter", lambda *_: pytest.fail("spawned a second"))
        assert run_main(monkeypatch, b'{"a": 1}') == 0
    finally:
        os.close(fd)


def test_spawn_failure_is_logged(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing spawn is reported in the log; the hook still exits 0 with the record kept."""

    def boom(*_: Any) -> int:
        raise OSError("no fork for you")

    monkeypatch.setenv(fast.AUTOSTART_ENV, "1")
    monkeypatch.setattr(fast, "_spawn_emitter", boom)
    assert run_main(monkeypatch, b'{"a": 1}') == 0
    assert (spool / fast.SPOOL_FILE).exists()
    assert (
        "could not start the emitter: OSError: no fork for you"
        in (spool / fast.LOG_FILE).read_text()
    )


def test_a_full_spool_refuses_logs_and_counts_never_silently(
    spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past OMNICLAUDE_SPOOL_MAX_BYTES a payload is refused whole, logged, counted by status,
    and the hook still starts the emitter (which drains the spool)."""
    from omniclaude.hooks.status import spool_status

    spawned: list[str] = []
    monkeypatch.setenv(fast.MAX_SPOOL_ENV, "200")
    monkeypatch.setenv(fast.AUTOSTART_ENV, "1")
    monkeypatch.setattr(fast, "_spawn_emitter", lambda d, _env: spawned.append(d) or 4242)
    assert run_main(monkeypatch, b'{"n": "' + b"a" * 100 + b'"}') == 0
    held = (spool / fast.SPOOL_FILE).read_bytes()
    assert run_main(monkeypatch, b'{"n": "' + b"b" * 100 + b'"}') == 0
    assert (spool / fast.SPOOL_FILE).read_bytes() == held, "a refused payload was written"
    log = (spool / fast.LOG_FILE).read_text()
    assert "payload refused: the spool is full" in log
    assert fast.MAX_SPOOL_ENV in log
    assert spool_status(spool)["hook_refused"] == 1
    assert spawned == [str(spool)], "a full spool did not start the emitter"


def test_an_invalid_spool_cap_is_logged_and_the_default_used(
    spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cap that is not a positive integer is reported; the payload is still spooled."""
    monkeypatch.setenv(fast.MAX_SPOOL_ENV, "-5")
    assert run_main(monkeypatch, b'{"a": 1}') == 0
    assert (spool / fast.SPOOL_FILE).exists()
    assert f"{fast.MAX_SPOOL_ENV} must be a positive number" in (spool / fast.LOG_FILE).read_text()


def test_help_prints_the_usage_and_reads_nothing(
    spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`omniclaude hook --help` says what the hook does and spools nothing."""
    assert fast.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage: omniclaude hook")
    assert not spool.exists()
