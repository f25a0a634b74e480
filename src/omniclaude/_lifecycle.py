"""The ``async with`` protocol for objects with ``start()`` and ``stop()`` (private).

:class:`AsyncStartStop` turns ``async with thing:`` into ``await thing.start()`` on entry
and ``await thing.stop()`` on exit (whatever the exit), returning the object itself.
Nothing here does I/O at import time.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncStartStop"]


class AsyncStartStop:
    """Mixin: ``async with`` starts the object and stops it again on the way out.

    Subclasses implement ``async def start(self) -> None`` and ``async def stop(self) -> None``.
    """

    async def start(self) -> None:
        """Acquire the object's resources (implemented by subclasses)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Release the object's resources (implemented by subclasses)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        """Start the object (see ``start``) and return it."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the object (see ``stop``), whether the body raised or not."""
        await self.stop()
