"""The correlation context: accepted id forms, scopes, inheritance by tasks, clear errors."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from omniclaude.errors import EventValidationError
from omniclaude.publishing.context import (
    NoCorrelationIdError,
    coerce_correlation_id,
    correlation_scope,
    current_correlation_id,
    reset_correlation_id,
    resolve_correlation_id,
    set_correlation_id,
)


def test_uuid_and_its_string_forms_are_accepted() -> None:
    """A UUID, its canonical string and its hex form give the same id."""
    cid = uuid.uuid4()
    assert coerce_correlation_id(cid) is cid
    assert coerce_correlation_id(str(cid)) == cid
    assert coerce_correlation_id(cid.hex) == cid


@pytest.mark.parametrize("bad", ["correlation-123", "", 42, None])
def test_a_non_uuid_is_refused_naming_the_field(bad: object) -> None:
    """Anything else raises EventValidationError naming correlation_id."""
    with pytest.raises(EventValidationError, match="correlation_id") as info:
        coerce_correlation_id(bad)  # type: ignore[arg-type]
    assert info.value.field == "correlation_id"


def test_resolve_without_a_scope_names_correlation_id() -> None:
    """None outside any scope is a clear error, not a random id."""
    assert current_correlation_id() is None
    with pytest.raises(NoCorrelationIdError, match="correlation_id") as info:
        resolve_correlation_id(None)
    assert info.value.field == "correlation_id"


def test_scope_sets_and_restores() -> None:
    """A scope makes its id current and restores the outer one on exit, nested too."""
    outer, inner = uuid.uuid4(), uuid.uuid4()
    with correlation_scope(outer) as got:
        assert got == outer == current_correlation_id() == resolve_correlation_id(None)
        with correlation_scope(str(inner)):
            assert current_correlation_id() == inner
        assert current_correlation_id() == outer
    assert current_correlation_id() is None


def test_scope_without_id_starts_a_new_trace() -> None:
    """correlation_scope() creates a fresh id."""
    with correlation_scope() as cid:
        assert isinstance(cid, uuid.UUID)
        assert current_correlation_id() == cid


async def test_async_scope_is_inherited_by_tasks() -> None:
    """Tasks created inside a scope see its id; the scope ends cleanly after them."""
    async with correlation_scope() as cid:
        seen = await asyncio.gather(*(asyncio.create_task(_read()) for _ in range(3)))
    assert seen == [cid, cid, cid]
    assert current_correlation_id() is None


async def _read() -> uuid.UUID | None:
    await asyncio.sleep(0)
    return current_correlation_id()


def test_set_and_reset() -> None:
    """The low-level token API restores the previous value."""
    token = set_correlation_id(uuid.uuid4())
    assert current_correlation_id() is not None
    reset_correlation_id(token)
    assert current_correlation_id() is None
