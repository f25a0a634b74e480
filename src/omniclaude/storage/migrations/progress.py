"""Progress of long migrations (converting a large database in place), shown by the caller.

A migration reports what it is doing with :func:`task`; who shows it is chosen by the caller
of :func:`omniclaude.storage.migrations.upgrade`: ``omniclaude db upgrade`` draws Rich
progress bars, anything else gets a log line at the start and end of each task.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["Advance", "ProgressReporter", "reporting", "task"]

log = logging.getLogger(__name__)

Advance = Callable[[int], None]
"""Adds this many done units (rows) to the task."""


class ProgressReporter(Protocol):
    """Shows the progress of migration tasks."""

    def task(self, description: str, total: int) -> AbstractContextManager[Advance]:
        """Show a task of ``total`` units while the block runs; yield its advance function."""
        ...


_reporter: ProgressReporter | None = None


@contextlib.contextmanager
def reporting(reporter: ProgressReporter | None) -> Iterator[None]:
    """Route the tasks of migrations run inside the block to ``reporter``."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


@contextlib.contextmanager
def task(description: str, total: int) -> Iterator[Advance]:
    """Report a task of ``total`` units (rows) to the current reporter, or to the log."""
    if _reporter is not None:
        with _reporter.task(description, total) as reported:
            yield reported
        return
    done = 0

    def count(amount: int) -> None:
        nonlocal done
        done += amount

    started = time.monotonic()
    log.info("%s: %d rows", description, total)
    yield count
    log.info("%s: %d rows done in %.1fs", description, done, time.monotonic() - started)
