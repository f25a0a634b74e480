"""No credential reaches a log (issue 12, item 6).

A key sent in a query string is refused (401), but uvicorn's access log used to write the
request line, key and all. This test runs the real stack (``omniclaude up --detach``: uvicorn,
the consumer, PostgreSQL, Tansu), sends a key in every place a client might put one, stops
the stack and reads every log file it wrote and everything the commands printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from omniclaude.stack.keys import read_viewer_key
from tests.system.test_up_down import PORT_OPTIONS, omniclaude, private_data_dir


def _log_files(data_dir: Path) -> list[Path]:
    """Every file of the data directory that is a log (not the key file the viewer reads)."""
    return [p for p in data_dir.rglob("*") if p.is_file() and ".log" in p.name]


def test_no_credential_reaches_a_log() -> None:
    """Keys in query strings (api_key, key, token), in a path, and in Authorization and
    X-API-Key headers appear in no log file and no command output; the access log still
    records the requests, with the values replaced (only ``up``'s own banner shows the viewer
    key, to the terminal that started the stack)."""
    with private_data_dir() as data_dir:
        up = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
        # up prints the viewer key once, on purpose, to the terminal that asked (that is how
        # the user opens the viewer); its stderr and everything else must not hold it.
        outputs = [up.stderr]
        try:
            assert up.returncode == 0, up.stdout + up.stderr
            status = json.loads(omniclaude("status", "--json", "--data-dir", str(data_dir)).stdout)
            key = read_viewer_key(data_dir)
            assert key is not None, "up did not save a viewer key"
            secret = key.rsplit("_", 1)[-1]
            with httpx.Client(base_url=status["api_url"], timeout=30) as http:
                refused = http.get("/executions", params={"api_key": key})
                assert refused.status_code == 401, "a key in the query string was accepted"
                http.get("/executions", params={"limit": 5, "token": key, "key": key})
                http.get(f"/executions/{key}", headers={"Authorization": f"Bearer {key}"})
                http.get("/executions", headers={"X-API-Key": key})
                http.get("/executions", headers={"Authorization": f"Bearer {key}x"})
                http.get("/traces", params={"access_token": key})
        finally:
            down = omniclaude("down", "--data-dir", str(data_dir))
            outputs += [down.stdout, down.stderr]
        logs = {p: p.read_text(errors="replace") for p in _log_files(data_dir)}
        assert any(p.name == "api.log" for p in logs), f"no API log among {sorted(logs)}"
        api_log = next(text for p, text in logs.items() if p.name == "api.log")
        assert "/executions?api_key=***" in api_log, (
            "the access log no longer records the request (the check could not fail)"
        )
        for path, text in logs.items():
            assert secret not in text, f"{path} holds the API key: ...{text[-400:]}"
        for text in outputs:
            assert secret not in text, f"a command printed the API key: {text[-400:]}"
