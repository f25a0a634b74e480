"""A Claude Code transcript (JSONL) written for this project from the documented format."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any


def write_transcript(path: Path, session_id: str | None = None) -> dict[str, Any]:
    """Write a two-prompt transcript with a tool call, a failed call and noise lines.

    Returns:
        What an import must find: session id, prompts, tool_use_ids and the failed one.
    """
    sid = session_id or str(uuid.uuid4())
    common = {"sessionId": sid, "cwd": "/home/dev/shop", "version": "2.1.0", "gitBranch": "main"}
    uids = [str(uuid.uuid4()) for _ in range(8)]
    read_id, bash_id = f"toolu_r{uuid.uuid4().hex[:10]}", f"toolu_b{uuid.uuid4().hex[:10]}"
    lines: list[Any] = [
        {"type": "summary", "summary": "Refund work", "leafUuid": uids[0]},
        {**common, "type": "user", "uuid": uids[0], "parentUuid": None,
         "timestamp": "2026-11-20T10:00:00.000Z", "userType": "external",
         "message": {"role": "user",
                     "content": "Where are refunds computed? mail me at ed@example.com"}},
        {**common, "type": "assistant", "uuid": uids[1], "parentUuid": uids[0],
         "timestamp": "2026-11-20T10:00:02.000Z",
         "message": {"role": "assistant", "model": "claude-sonnet-4-5", "content": [
             {"type": "text", "text": "Let me look."},
             {"type": "tool_use", "id": read_id, "name": "Read",
              "input": {"file_path": "/src/refund.py"}}]}},
        {**common, "type": "user", "uuid": uids[2], "parentUuid": uids[1],
         "timestamp": "2026-11-20T10:00:02.250Z",
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": read_id, "content": "def refund(): ..."}]},
         "toolUseResult": {"type": "text", "file": {"filePath": "/src/refund.py", "numLines": 1}}},
        {**common, "type": "assistant", "uuid": uids[3], "parentUuid": uids[2],
         "timestamp": "2026-11-20T10:00:04.000Z",
         "message": {"role": "assistant", "content": [{"type": "text", "text": "In refund.py."}]}},
        "this line is not JSON",
        {**common, "type": "user", "uuid": uids[4], "parentUuid": uids[3],
         "timestamp": "2026-11-20T10:01:00.000Z", "userType": "external",
         "message": {"role": "user", "content": [{"type": "text", "text": "Run the tests"}]}},
        {**common, "type": "assistant", "uuid": uids[5], "parentUuid": uids[4],
         "timestamp": "2026-11-20T10:01:01.000Z",
         "message": {"role": "assistant", "content": [
             {"type": "tool_use", "id": bash_id, "name": "Bash", "input": {"command": "pytest"}}]}},
        {**common, "type": "user", "uuid": uids[6], "parentUuid": uids[5],
         "timestamp": "2026-11-20T10:01:03.500Z",
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": bash_id, "is_error": True,
              "content": [{"type": "text", "text": "1 failed"}]}]}},
        {**common, "type": "assistant", "uuid": uids[7], "parentUuid": uids[6],
         "timestamp": "2026-11-20T10:01:05.000Z",
         "message": {"role": "assistant",
                     "content": [{"type": "text", "text": "One test fails."}]}},
        {"type": "file-history-snapshot", "messageId": uids[7], "snapshot": {}},
    ]  # fmt: skip
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return {"session_id": sid, "prompts": 2, "tool_use_ids": [read_id, bash_id], "failed": bash_id}
