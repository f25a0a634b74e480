"""The sync facade keeps the async methods' parameters (ParamSpec): a wrong argument is a
type error for a synchronous caller too.

Two checks: the ``# type: ignore[arg-type]`` lines below must each silence a real error
(``mypy tests/typing`` runs in the types stage with ``warn_unused_ignores``, so an ignore that
silences nothing fails it), and :func:`test_mypy_refuses_a_wrong_argument` runs mypy on a
snippet and reads the errors it must report. pytest runs the calls too: each is refused at
run time with the field named.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from mypy import api

from omniclaude.errors import EventValidationError
from omniclaude.publishing.sync import SyncClient
from omniclaude.testing import InMemorySink

ROOT = Path(__file__).resolve().parents[2]


def test_wrong_arguments_are_type_errors_and_refused_at_run_time() -> None:
    """Each wrong call below is a mypy error (the ignore is used) and an EventValidationError."""
    cid = uuid.uuid4()
    with SyncClient(InMemorySink()) as client:
        log = client.action_logger(agent_name="typed")
        with pytest.raises(EventValidationError, match="tool_name"):
            log.log_tool_call(cid, 42)  # type: ignore[arg-type]
        with pytest.raises(EventValidationError, match="duration_ms"):
            log.log_tool_call(cid, "Bash", {}, None, "slow")  # type: ignore[arg-type]
        with pytest.raises(EventValidationError, match="decision"):
            log.log_decision(cid, ["not", "text"])  # type: ignore[arg-type]
        execution = client.execution_logger()
        with pytest.raises(EventValidationError, match="agent_name"):
            execution.start(7)  # type: ignore[arg-type]
        action = log.log_tool_call(cid, "Bash", {"cmd": "ls"}, duration_ms=1.5)
        assert action.action_name == "Bash"


SNIPPET = """\
    import uuid
    from omniclaude.publishing.sync import SyncClient
    from omniclaude.testing import InMemorySink

    client = SyncClient(InMemorySink())
    log = client.action_logger()
    log.log_tool_call(uuid.uuid4(), 42)
    log.log_tool_call(uuid.uuid4(), "Bash", params=["ls"])
    client.execution_logger().start("agent", prompt_id=3)
    client.publisher().routing_decision(None, user_request="x", selected_agent="a",
                                        confidence_score="high", routing_strategy="fuzzy",
                                        routing_time_ms=1.0)
    log.log_decision(uuid.uuid4(), "fine")
"""


def test_mypy_refuses_a_wrong_argument(tmp_path: Path) -> None:
    """mypy --strict on a synchronous caller's snippet reports each wrong argument, on its
    line, naming what was expected; the right call on the last line passes."""
    snippet = tmp_path / "sync_caller.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    out, err, status = api.run(
        [
            "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache"),
            "--no-error-summary", "--hide-error-context", "--show-column-numbers",
            str(snippet),
        ]
    )  # fmt: skip
    assert status == 1, out + err
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [7, 8, 9, 11], out
    assert all("[arg-type]" in line for line in errors), out
    assert '"int"; expected "str"' in errors[0], out
    assert 'expected "Mapping[str, Any] | None"' in out, out
