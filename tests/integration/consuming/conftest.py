"""Helpers for the ingestion integration tests: a cuttable TCP proxy in front of PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from omniclaude.stack.ports import unused_port


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to a target; :meth:`cut` makes the target unreachable.

    Cutting closes every open connection and stops listening (new connections are refused),
    which is what a client sees when a database host goes away; :meth:`restore` listens again
    on the same port.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = unused_port("127.0.0.1")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        """Accept connections (again)."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        """Cut and wait for the forwarding tasks."""
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(dst)
            dst.transport.abort()


def proxied_url(url: str, port: int) -> str:
    """Return ``url`` pointing at ``127.0.0.1:port`` instead of its host."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
async def database_proxy(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of this test's database, and the URL that goes through it."""
    parts = urlsplit(database_url)
    assert parts.hostname, f"the database URL has no TCP host: {database_url}"
    assert parts.port, f"the database URL has no TCP port: {database_url}"
    proxy = TcpProxy(parts.hostname, parts.port)
    await proxy.restore()
    try:
        yield proxy, proxied_url(database_url, proxy.port)
    finally:
        with contextlib.suppress(Exception):
            await proxy.close()
