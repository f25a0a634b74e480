"""Nothing raw at rest: shipped spool records are deleted within the bound, none is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.hooks import fast
from omniclaude.hooks.spool import Spool
from omniclaude.hooks.status import spool_status
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import HookRig, count
from tests.unit.hooks.builders import Session

pytestmark = pytest.mark.covers("feature:claude-code-hooks", "table:agent_actions")

ROTATE_AFTER_S = 1.0
TOOL_CALLS = (
    "SELECT count(*) FROM agent_actions WHERE session_id = $1 AND action_type = 'tool_call'"
)
BOUND_S = ROTATE_AFTER_S + 10.0
"""Rotation age, plus the emitter's once-a-second compaction and commit, plus a loaded machine."""


def files_holding(root: Path, needle: bytes) -> list[str]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


async def test_shipped_spool_records_are_gone(hook_rig: HookRig) -> None:
    """Once shipped, a prompt's raw text (unredacted e-mail included) is on no file under the
    spool directory within the rotation bound, and the segments are deleted."""
    hook_rig.env["OMNICLAUDE_HOOKS__SPOOL_ROTATE_AFTER_S"] = str(ROTATE_AFTER_S)
    await hook_rig.start_emitter()
    marker = uuid.uuid4().hex
    raw = f"dev-{marker}@example.com".encode()
    s = Session()
    await hook_rig.hooks(
        [s.start(), s.prompt(f"mail the refund report to dev-{marker}@example.com")]
    )
    assert files_holding(hook_rig.spool, raw) == [fast.SPOOL_FILE], "the hook did not spool it"

    async def gone() -> bool:
        status = spool_status(hook_rig.spool)
        return status["spool_records"] == 0 and not files_holding(hook_rig.spool, raw)

    try:
        await wait_for(gone, what="the shipped raw prompt to leave the disk", timeout_s=BOUND_S)
    except AssertionError:
        raise AssertionError(
            f"raw prompt still in {files_holding(hook_rig.spool, raw)} after {BOUND_S}s"
        ) from None
    assert Spool(hook_rig.spool).sealed() == [], "a shipped segment was not deleted"


async def test_concurrent_hooks_during_rotation_lose_nothing(
    hook_rig: HookRig, ingest_service: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """Forty parallel tool calls while the emitter seals a segment at every commit: every
    call reaches the database once, and no sealed segment is left behind."""
    hook_rig.env.update(
        OMNICLAUDE_HOOKS__SPOOL_ROTATE_BYTES="1",  # seal after every commit
        OMNICLAUDE_HOOKS__SPOOL_ROTATE_AFTER_S="0.01",
        OMNICLAUDE_LOG_LEVEL="DEBUG",
    )
    await hook_rig.start_emitter()
    s = Session()
    calls = [(s.tool_id(), f"/src/f{i}.py") for i in range(40)]
    await hook_rig.hooks([s.start(), s.prompt("read every file")])
    await hook_rig.hooks([s.pre("Read", {"file_path": p}, t) for t, p in calls], parallel=True)
    await hook_rig.hooks(
        [s.post("Read", {"file_path": p}, "x" * 20_000, t, 3) for t, p in calls], parallel=True
    )
    await hook_rig.hooks([s.stop(), s.end()])

    async def all_calls() -> bool:
        return await count(postgres_connection, TOOL_CALLS, s.session_id) >= len(calls)

    await wait_for(all_calls, what="the forty tool calls in the database", timeout_s=90)
    await asyncio.sleep(1.0)  # let a duplicate, if any, arrive too
    n = await count(postgres_connection, TOOL_CALLS, s.session_id)
    assert n == len(calls), f"{n} tool calls stored for {len(calls)} made"
    # How many seals fall inside the bursts depends on timing; the reader-side race is
    # exercised nonstop by test_parallel_hooks_while_the_spool_is_sealed_nonstop_lose_nothing.
    seals = (hook_rig.root / "emitter.log").read_text().count("sealed spool segment")
    assert seals >= 1, "the test did not exercise sealing"

    async def drained() -> bool:
        return not Spool(hook_rig.spool).sealed()

    await wait_for(drained, what="every sealed segment deleted", timeout_s=BOUND_S)
