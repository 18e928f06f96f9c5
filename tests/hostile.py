"""A hostile target for the tool's own tests: a raw asyncio HTTP server that misbehaves in every way a broken endpoint can.

Not a test module. One server serves every behaviour, picked by a base-URL prefix: `/hostile/<mode>` misbehaves on
every request but `GET /v1/models` (so a run gets past discovery and reaches the checks); `/hostile/<mode>+all`
misbehaves on that too; `/hostile/<mode>+kept` answers `GET /v1/models` on a connection kept alive, so that the next
request goes on a reused connection. `seen` counts the requests each mode received. `echo` answers well-formed
Anthropic-shaped errors that repeat the request's headers (the key among them) in the body and in a header. A second
server on another loopback address (127.0.0.2) records whatever reaches it: `redirect` points every request there,
and a client that follows would deliver its key to it.

Relayed modes (RELAYED) put one misbehaviour in front of a correct target (`HostileServer(upstream=URL)`, e.g. the
reference server), so the rest of the suite is judged as usual: `close-after-error` relays every request but keeps a
connection alive after an error answer (4xx or 5xx, without `connection: close`) and drops it, unanswered, when the
next request arrives on it: what a client sees when a target (fakellm after a 500) closes an idle kept-alive
connection as the next request crosses the close; it drops them alternately with a reset and a plain close.
`rate-limit-N` relays at most N requests a second (fixed one-second windows) and answers the others 429 with
`retry-after` and `anthropic-ratelimit-*` headers; `rate-limit-0` answers everything 429.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

MODES = ("silent", "drip", "endless", "huge", "bad-utf8", "non-json-data", "html", "reset", "close-before-headers",
         "redirect", "gzip-bomb", "long-line", "reset-in-head")
RELAYED = ("close-after-error", "rate-limit-N")  # need an upstream; N: requests a second, 0 for none at all
WINDOW = 1.0  # seconds of one rate-limit window
MODELS = json.dumps({"data": [{"type": "model", "id": "hostile-model", "display_name": "Hostile",
                               "created_at": "2025-01-01T00:00:00Z"}],
                     "has_more": False, "first_id": "hostile-model", "last_id": "hostile-model"}).encode()
HUGE_BYTES = 200 * 1024 * 1024
LONG_LINE_BYTES = 10 * 1024 * 1024
BOMB_BYTES = 512 * 1024 * 1024  # inflated size of the gzip bomb; about 0.5 MB on the wire


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What reached the other host."""

    requests: list[Request] = field(default_factory=list)


def _sse(*events: tuple[str, object]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


START = ("message_start", {"type": "message_start", "message": {
    "id": "msg_hostile", "type": "message", "role": "assistant", "model": "hostile-model", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}})
BLOCK = ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
END = (("content_block_stop", {"type": "content_block_stop", "index": 0}),
       ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": 3}}),
       ("message_stop", {"type": "message_stop"}))


def _head(status: str, content_type: str, extra: str = "", length: int | None = None, keep: bool = False) -> bytes:
    """A response head; a hostile answer ends its connection, and says so, unless `keep`."""
    framing = f"content-length: {length}\r\n" if length is not None else "transfer-encoding: chunked\r\n"
    closing = "" if keep else "connection: close\r\n"
    return (f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{framing}request-id: req_hostile\r\n{extra}"
            f"{closing}\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class HostileServer:
    """`with HostileServer() as server:` server.base_url(mode), server.recorder (requests that reached 127.0.0.2)."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream  # base URL the relayed modes forward to
        self.windows: dict[str, tuple[float, int]] = {}  # rate-limit-N: start and count of the current window
        self.dropped = 0  # connections close-after-error dropped
        self._relay_client = None
        self.recorder = Recorder()
        self.seen: Counter[str] = Counter()  # requests received, by mode (with its +scope)
        self.port = 0
        self.other_port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._bomb = b""

    def base_url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/hostile/{mode}"

    def __enter__(self) -> HostileServer:
        self._bomb = _bomb()
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        main = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        other = await asyncio.start_server(self._record, "127.0.0.2", 0)
        self._servers = [main, other]
        self.port = main.sockets[0].getsockname()[1]
        self.other_port = other.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        if self._relay_client is not None:
            await self._relay_client.aclose()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    async def _record(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                self.recorder.requests.append(request)
                writer.write(_head("404 Not Found", "text/plain", length=0))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection: dict = {}  # what a relayed mode remembers of this connection
        try:
            while (request := await _read_request(reader)) is not None:
                if not await self._answer(request, writer, connection):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the client gave up, or the server is stopping
        finally:
            writer.close()

    async def _answer(self, request: Request, writer: asyncio.StreamWriter, connection: dict) -> bool:
        """Answer one request; False when the connection is done with."""
        _, _, rest = request.path.partition("/hostile/")
        spec, _, path = rest.partition("/")
        mode, _, scope = spec.partition("+")
        stream = b'"stream": true' in request.body or b'"stream":true' in request.body
        self.seen[spec] += 1
        if mode == "close-after-error":
            if connection.get("doomed"):
                self.dropped += 1
                if self.dropped % 2:  # a reset: "Connection reset by peer"
                    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                               struct.pack("ii", 1, 0))
                writer.transport.abort()  # else a plain close: "Server disconnected without sending a response"
                return False
            connection["doomed"] = await self._relay(request, path, writer) >= 400
            return True
        if mode.startswith("rate-limit-"):
            if self._over_limit(spec, int(mode.rpartition("-")[2]), writer, head_only=request.method == "HEAD"):
                await writer.drain()
                return True
            await self._relay(request, path, writer)
            return True
        if path.startswith("v1/models") and scope != "all":
            writer.write(_head("200 OK", "application/json", length=len(MODELS), keep=scope == "kept") + MODELS)
            await writer.drain()
            return True
        handler = getattr(self, "_" + mode.replace("-", "_"), None)
        if mode == "echo":
            return await self._echo(request, writer)
        if mode == "brotli":  # an encoding nobody asked for, on a connection kept alive
            body = b"\x0b\x02\x80{}\x03"
            writer.write(_head("200 OK", "application/json", "content-encoding: br\r\n", len(body), keep=True) + body)
            await writer.drain()
            return True
        if handler is None:
            writer.write(_head("404 Not Found", "text/plain", length=0))
            return True
        await handler(writer, stream)
        return False

    async def _relay(self, request: Request, path: str, writer: asyncio.StreamWriter) -> int:
        """Forward the request to the upstream and its answer back as it comes (the body as it was sent, re-framed),
        on a connection kept alive. Returns the answer's status."""
        import httpx

        if self._relay_client is None:  # one client (one SSL context, a pool of connections) for every relay
            self._relay_client = httpx.AsyncClient(timeout=60, verify=False)
        skip = {"host", "connection", "content-length", "keep-alive", "transfer-encoding"}
        headers = {k: v for k, v in request.headers.items() if k not in skip}
        url = f"{self.upstream.rstrip('/')}/{path}"
        async with self._relay_client.stream(request.method, url, headers=headers, content=request.body) as answer:
            length = answer.headers.get("content-length")
            kept = [f"{k}: {v}" for k, v in answer.headers.multi_items() if k.lower() not in skip]
            framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
            head = "\r\n".join([f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}", *kept, framing])
            writer.write((head + "\r\n\r\n").encode("latin-1"))
            async for data in answer.aiter_raw():
                writer.write(data if length is not None else _chunk(data))
                await writer.drain()
            if length is None:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
            return answer.status_code

    def _over_limit(self, spec: str, limit: int, writer: asyncio.StreamWriter, head_only: bool = False) -> bool:
        """Count the request in its window; past `limit`, answer 429 as the real API does (no body to a HEAD)."""
        now = time.monotonic()
        start, count = self.windows.get(spec, (now, 0))
        if now - start >= WINDOW:
            start, count = now, 0
        self.windows[spec] = (start, count + 1)
        if count < limit:
            return False
        wait = max(1, math.ceil(start + WINDOW - now))
        reset = datetime.fromtimestamp(time.time() + start + WINDOW - now, UTC).isoformat().replace("+00:00", "Z")
        body = json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": (
            f"Number of requests has exceeded your rate limit of {limit} a second.")}}).encode()
        extra = (f"retry-after: {wait}\r\nanthropic-ratelimit-requests-limit: {limit}\r\n"
                 f"anthropic-ratelimit-requests-remaining: 0\r\nanthropic-ratelimit-requests-reset: {reset}\r\n"
                 "x-should-retry: true\r\n")
        writer.write(_head("429 Too Many Requests", "application/json", extra, len(body), keep=True)
                     + (b"" if head_only else body))
        return True

    async def _echo(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """An Anthropic-shaped 400 that repeats every request header, the key included, in its body and a header."""
        echoed = "; ".join(f"{k}={v}" for k, v in request.headers.items())
        body = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                      "message": f"you sent {echoed}"}}).encode()
        extra = f"x-echo: {echoed}\r\n"
        writer.write(_head("400 Bad Request", "application/json", extra, len(body)) + body)
        await writer.drain()
        return True

    async def _silent(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        await asyncio.sleep(3600)

    async def _drip(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        body = b'{"type": "message", "role": "assistant", "content": []}' * 100
        for byte in _head("200 OK", "application/json", length=len(body)) + body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1.0)

    async def _endless(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.write(_head("200 OK", "text/event-stream") + _chunk(_sse(START, BLOCK)))
        ping = _chunk(_sse(("ping", {"type": "ping"})) * 20)
        while True:
            writer.write(ping)
            await writer.drain()
            await asyncio.sleep(0.005)

    async def _huge(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.write(_head("200 OK", "application/json", length=HUGE_BYTES))
        block = b" " * (1024 * 1024)
        for _ in range(HUGE_BYTES // len(block)):
            writer.write(block)
            await writer.drain()

    async def _bad_utf8(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        delta = b'{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "\xff\xfe\xc3("}}'
        if stream:
            body = _sse(START, BLOCK) + b"event: content_block_delta\ndata: " + delta + b"\n\n" + _sse(*END)
            writer.write(_head("200 OK", "text/event-stream; charset=utf-8", length=len(body)) + body)
        else:
            body = (b'{"id": "msg_\xff\xfe", "type": "message", "role": "assistant", '
                    b'"content": [{"type": "text", "text": "\xc3("}]}')
            writer.write(_head("200 OK", "application/json", length=len(body)) + body)
        await writer.drain()

    async def _non_json_data(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        if stream:
            body = _sse(START) + b"event: content_block_start\ndata: this is not json {\n\n" + _sse(*END)
            writer.write(_head("200 OK", "text/event-stream", length=len(body)) + body)
        else:
            body = b"OK, here is your answer: not json at all"
            writer.write(_head("200 OK", "application/json", length=len(body)) + body)
        await writer.drain()

    async def _html(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        body = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>nginx</body></html>"
        writer.write(_head("502 Bad Gateway", "text/html", length=len(body)) + body)
        await writer.drain()

    async def _reset(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.write(_head("200 OK", "text/event-stream") + _chunk(_sse(START, BLOCK)))
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        writer.transport.abort()

    async def _reset_in_head(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: appl")  # the first bytes of a response head, then a reset
        await writer.drain()
        await asyncio.sleep(0.2)  # read by the client before the reset (a reset discards what was not yet read)
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _close_before_headers(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.transport.abort()

    async def _redirect(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        extra = f"location: http://127.0.0.2:{self.other_port}/v1/messages\r\n"
        writer.write(_head("307 Temporary Redirect", "text/plain", extra, length=0))
        await writer.drain()

    async def _gzip_bomb(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        writer.write(_head("200 OK", "application/json", "content-encoding: gzip\r\n", len(self._bomb)) + self._bomb)
        await writer.drain()

    async def _long_line(self, writer: asyncio.StreamWriter, stream: bool) -> None:
        text = "a" * LONG_LINE_BYTES
        delta = ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": text}})
        if stream:
            body = _sse(START, BLOCK, delta, *END)
            writer.write(_head("200 OK", "text/event-stream", length=len(body)) + body)
        else:
            body = json.dumps({"id": "msg_long", "type": "message", "role": "assistant", "model": "hostile-model",
                               "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                               "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}).encode()
            writer.write(_head("200 OK", "application/json", length=len(body)) + body)
        await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return Request(method, path, headers, body)


def _bomb() -> bytes:
    """BOMB_BYTES of zeros, gzip-compressed (about a thousandth of that on the wire)."""
    compressor = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    return compressor * (BOMB_BYTES // (64 * 1024 * 1024))  # gzip members concatenated: one valid gzip body
