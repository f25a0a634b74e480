"""Chaos fixtures: a broker and a PostgreSQL server of the test's own, to kill and restart.

The session's services (``kafka_service``, ``postgres_service``) are shared by every other
test, so nothing here ever kills them. The embedded PostgreSQL lives in
:func:`tests.fixtures.postgres.embedded_data_dir` (not ``tmp_path``: as root the server runs
as another user, and pytest makes its temporary root private).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from omniclaude.stack.postgres import EmbeddedPostgres
from tests.fixtures.postgres import embedded_data_dir


@dataclass
class OwnPostgres:
    """A PostgreSQL server of this test, with one migrated database."""

    server: EmbeddedPostgres
    url: str


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    """An embedded PostgreSQL of this test alone with a migrated ``chaos`` database.

    Started and restarted from worker threads, so no parent-death signal: the fixture stops
    it whatever happens.
    """
    from omniclaude.storage.migrations import upgrade

    with embedded_data_dir() as data_dir:
        server = EmbeddedPostgres(data_dir, fast=True)
        try:
            await asyncio.to_thread(server.start, 60)
            conn = await asyncpg.connect(server.url)
            try:
                await conn.execute("CREATE DATABASE chaos")
            finally:
                await conn.close()
            url = server.url_for("chaos")
            await asyncio.to_thread(upgrade, url)
            yield OwnPostgres(server, url)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the chaos figures of this run to ``test-output/chaos.json``."""
    from tests.load.report import CHAOS_FIGURES, write_report

    if CHAOS_FIGURES:
        write_report(dict(sorted(CHAOS_FIGURES.items())), "chaos.json")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the chaos figures of this run."""
    from tests.load.report import CHAOS_FIGURES

    if CHAOS_FIGURES:
        terminalreporter.write_sep("-", "chaos figures (test-output/chaos.json)")
        for name, figures in sorted(CHAOS_FIGURES.items()):
            terminalreporter.write_line(f"{name}: {figures}")
