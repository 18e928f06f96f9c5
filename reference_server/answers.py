"""Responses as bare ASGI messages: a whole body in two sends, or a precomputed stream; no framework on the hot path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

DRAIN_POLL_SECONDS = 0.05  # how often a pausing stream looks whether the server is draining


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class Answer:
    """A complete response: status, headers (a content-length added) and body."""

    __slots__ = ("status_code", "headers", "body")

    def __init__(self, body: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.status_code = status_code
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = _raw(self.headers)
        raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        prefix = "websocket." if scope["type"] == "websocket" else ""  # a denial response to a WebSocket handshake
        await send({"type": prefix + "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": prefix + "http.response.body", "body": self.body})


class StreamAnswer:
    """A precomputed event stream, chunked transfer: its chunks as they are, with an optional pause after the first
    (cut short once `draining()` turns true: a server shutting down finishes its streams at once)."""

    __slots__ = ("chunks", "headers", "pause", "draining")

    def __init__(self, chunks: list[bytes], headers: dict[str, str], pause: float = 0.0,
                 draining: Callable[[], bool] = lambda: False) -> None:
        self.chunks = chunks
        self.headers = headers
        self.pause = pause
        self.draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _raw(self.headers)})
        for index, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if self.pause and index == 0:
                await _pause(self.pause, self.draining)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pause(seconds: float, draining: Callable[[], bool]) -> None:
    """Sleep `seconds`, cut short as soon as `draining()` turns true (checked every DRAIN_POLL_SECONDS)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not draining() and (left := end - loop.time()) > 0:
        await asyncio.sleep(min(left, DRAIN_POLL_SECONDS))
