"""What every query module shares: the reader protocol and record → model conversion."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Reader", "Row", "column_list", "one_connection", "rows_as"]


class Reader(Protocol):
    """The subset of an asyncpg connection or pool the queries use."""

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Run ``query`` and return its rows."""
        ...

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """Run ``query`` and return its first row (or None)."""
        ...

    async def fetchval(self, query: str, *args: Any) -> Any:
        """Run ``query`` and return the first column of its first row."""
        ...


class Row(BaseModel):
    """Base of every typed result row: immutable, its fields are the columns read."""

    model_config = ConfigDict(frozen=True)


M = TypeVar("M", bound=BaseModel)


def column_list(model: type[BaseModel], *, prefix: str = "") -> str:
    """The ``SELECT`` list of ``model``'s fields (names come from code, never from values)."""
    return ", ".join(f"{prefix}{name}" for name in model.model_fields)


def rows_as(model: type[M], records: Iterable[Any]) -> list[M]:
    """Validate asyncpg records into ``model`` instances."""
    return [model.model_validate(dict(record)) for record in records]


@asynccontextmanager
async def one_connection(db: Reader) -> AsyncIterator[Reader]:
    """``db`` as one connection for a read of several statements.

    A pool's ``fetch`` takes a connection and gives it back for every statement, and giving
    it back runs asyncpg's reset (``RESET ALL``, ``UNLISTEN``, ... : one more round trip): a
    trace read of eight statements paid eight. A pool yields one of its connections for the
    whole block; a connection is yielded as it is.
    """
    acquire = getattr(db, "acquire", None)
    if acquire is None:
        yield db
        return
    async with acquire() as conn:
        yield conn
