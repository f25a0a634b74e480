"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for the load generator.

httpx costs a few milliseconds of CPU per request; with 100 clients on 2 cores the generator
then measures itself, not the server. This client does the least HTTP needs — one
connection, ``Content-Length`` bodies (uvicorn sends them for every JSON response; chunked
bodies are read too), reconnect when the server closed — so the figures are the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = ["RawHttpClient", "RawHttpError", "RawResponse"]

_MAX_HEADER_LINES = 100


class RawHttpError(OSError):
    """The connection failed or the answer was not HTTP."""


class RawResponse:
    """Status, headers and body of one answer."""

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content)


class RawHttpClient:
    """One keep-alive connection to ``base_url`` with fixed ``headers`` on every request."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.headers = {"Host": f"{self.host}:{self.port}", **headers}
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def __aenter__(self) -> RawHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> RawResponse:
        """Send one request and read its answer (reconnecting once if the server had closed).

        Raises:
            RawHttpError: the connection failed, timed out, or the answer was malformed.
        """
        body = b"" if json is None else _dumps(json)
        target = path + ("?" + urlencode(params) if params else "")
        head = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in self.headers.items())]
        if json is not None:
            head += ["Content-Type: application/json"]
        head += [f"Content-Length: {len(body)}", "", ""]
        data = "\r\n".join(head).encode() + body
        for attempt in (1, 2):
            fresh = self._writer is None
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._exchange(data)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                await self.close()
                if attempt == 2 or fresh or isinstance(exc, TimeoutError):
                    raise RawHttpError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _exchange(self, data: bytes) -> RawResponse:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(data)
        await self._writer.drain()
        status_line = await self._reader.readuntil(b"\r\n")
        if not status_line:
            raise ValueError("connection closed")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADER_LINES):
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return RawResponse(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
