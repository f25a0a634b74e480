"""Errors shown to read keys never carry an absolute server path (issue 12, item 10)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import omniclaude
from tests.fixtures.stack import FullStack

REPO = Path(__file__).resolve().parents[2]
SOURCE_TREE = Path(omniclaude.__file__).resolve().parents[1]


async def _everything_a_reader_sees(stack: FullStack, cid: str) -> str:
    view = await stack.execution(cid)
    trace = await stack.client.get(f"/traces/{cid}", headers=stack.headers("read"))
    assert trace.status_code == 200, trace.text
    return json.dumps(view) + json.dumps(trace.json())


async def test_errors_never_show_server_paths(full_stack: FullStack) -> None:
    """A missing file (an OSError naming the path) and an agent's own error, with their
    tracebacks: the execution view and the trace name workspace-relative paths and package
    paths only, never the workspace root, the source tree, the interpreter or the venv."""
    server_paths = {
        str(full_stack.workspace),
        str(REPO),
        str(SOURCE_TREE),
        sys.prefix,
        sys.base_prefix,
    }
    runs = {
        "missing file": {
            "user_prompt": "read it",
            "agent": "file-reader",
            "context": {"files": ["nope/missing.py"]},
            "max_attempts": 1,
        },
        "agent error": {"user_prompt": "explode", "agent": "broken-agent"},
    }
    for label, body in runs.items():
        cid = (await full_stack.submit_request(body))["correlation_id"]
        ended = await full_stack.wait_for_completion(cid, timeout=60)
        assert ended["status"] == "failed", f"{label}: {ended}"
        seen = await _everything_a_reader_sees(full_stack, cid)
        assert "Traceback" in seen, f"{label}: no traceback shown (the check could not fail)"
        assert "omniclaude/runtime/" in seen, f"{label}: package paths were lost, not hidden"
        leaked = sorted(p for p in server_paths if p in seen)
        assert not leaked, f"{label}: a reader sees server paths {leaked}"
        if label == "missing file":
            assert "'nope/missing.py'" in ended["error"]["message"], ended["error"]
