"""Helpers of the reference server's fuzz and load tests: server processes, raw HTTP on sockets, load rounds.

Not a test module: the tests import it as `from loadgen import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from conformance.sse import validate_stream
from reference_server import create_app
from reference_server.server import base_url, bind, uvicorn_config

REPO = Path(__file__).resolve().parent.parent
KEY_VARIABLE = "ANTHROPIC_CONFORMANCE_SERVER_KEY"
TIMEOUT = 10.0  # seconds: a request not answered by then is a hang
MESSAGE_STOP = b'{"type":"message_stop"}'


# ----- the server in a separate process -----------------------------------------------------------------------


class ServerProcess:
    """`python -m reference_server` (or `code` run by `python -c`) on a free loopback port, with a fixed key."""

    def __init__(self, key: str, code: str | None = None) -> None:
        self.key = key
        command = ["-c", code] if code else ["-m", "reference_server"]
        self.stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on it
        self.process = subprocess.Popen(
            [sys.executable, *command, "--host", "127.0.0.1", "--port", "0"],
            cwd=REPO,
            env={**os.environ, KEY_VARIABLE: key},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        try:
            self.base_url = self._first_line()
            self.address = address(self.base_url)
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def _first_line(self) -> str:
        line: list[str] = []
        assert self.process.stdout is not None
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        if not line or not line[0].startswith("http://"):
            raise AssertionError(f"the reference server printed no base URL: {line!r} {self.error_output()}")
        return line[0].strip()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.base_url + "/v1/models", headers=self.headers, timeout=2, trust_env=False)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the reference server did not answer"
                time.sleep(0.05)

    def status(self, field_name: str) -> int:
        """A kB field of /proc/<pid>/status, e.g. VmRSS (resident memory) or VmHWM (its peak)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise KeyError(field_name)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def error_output(self) -> str:
        """What the server wrote to stderr so far."""
        if self.stderr.closed:
            return ""
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 10 s; safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.stderr.close()


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def thread_server(api_key: str) -> tuple[str, Callable[[], None]]:
    """The app on a loopback port with the settings `python -m reference_server` uses, run in a daemon thread.

    Returns the base URL and a function that stops the server.
    """
    sock = bind()
    server = uvicorn.Server(uvicorn_config(create_app(api_key)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the thread server did not start"
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()

    return base_url(sock), stop


# ----- raw HTTP/1.1 on a socket -------------------------------------------------------------------------------


@dataclass
class RawResponse:
    """The first response read from a socket; status None when the server closed without answering."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    closed: bool = False  # the server closed the connection (EOF or reset)


def request_bytes(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    """An HTTP/1.1 request with Host, Content-Length (for a body) and Connection: close added."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"host: 127.0.0.1", b"connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"content-length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _complete(data: bytes) -> RawResponse | None:
    """The response in `data` if it is complete, else None."""
    head, found, rest = data.partition(b"\r\n\r\n")
    if not found:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0].startswith("HTTP/1.") and len(parts) >= 2, lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(rest)
        return None if body is None else RawResponse(int(parts[1]), headers, body)
    length = int(headers.get("content-length", "0"))
    return RawResponse(int(parts[1]), headers, rest[:length]) if len(rest) >= length else None


def _dechunk(data: bytes) -> bytes | None:
    body = b""
    while True:
        size_line, found, data = data.partition(b"\r\n")
        if not found:
            return None
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        if len(data) < size + 2:
            return None
        body, data = body + data[:size], data[size + 2 :]


def read_response(sock: socket.socket, timeout: float = TIMEOUT) -> RawResponse:
    """Read until one whole response has come or the server closes; a silence of `timeout` seconds is a hang."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        if (response := _complete(data)) is not None:
            return response
        left = deadline - time.monotonic()
        assert left > 0, f"the server hung: no complete response within {timeout} s, got {data[:200]!r}"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except TimeoutError:
            continue
        if not chunk:
            response = _complete(data)
            if response is None:
                assert not data or data.startswith(b"HTTP/1."), data[:200]
                return RawResponse(None, closed=True)
            response.closed = True
            return response
        data += chunk


def exchange(addr: tuple[str, int], data: bytes, *, half_close: bool = True, timeout: float = TIMEOUT) -> RawResponse:
    """Send raw bytes on a new connection (then end the sending side) and read the answer, bounded in time."""
    with socket.create_connection(addr, timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        return read_response(sock, timeout)


def is_refused(addr: tuple[str, int]) -> bool:
    """True when a TCP connection to `addr` is refused (nothing listens)."""
    try:
        with socket.create_connection(addr, timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# ----- load -------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a load round saw: requests sent, streams, errors (with a few examples), most streams open at once."""

    requests: int = 0
    streams: int = 0
    abandoned: int = 0  # streams the client hung up on after their first chunk
    errors: int = 0
    examples: list[str] = field(default_factory=list)
    open_streams: int = 0
    peak_open_streams: int = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.examples) < 5:
            self.examples.append(what)


def stream_problems(raw: bytes) -> list[str]:
    """Why a recorded stream is not a complete, valid Messages stream ([] when it is)."""
    decoder, validator = validate_stream(raw)
    problems = [str(violation) for violation in validator.violations] + list(decoder.errors)
    if not raw.rstrip().endswith(MESSAGE_STOP):
        problems.append("the stream does not end with message_stop")
    return problems


async def one_stream(client: httpx.AsyncClient, path: str, payload: dict[str, Any], tally: Tally) -> bytes:
    """One streamed request, read to its end; a stream counts as open from its headers to its last byte."""
    tally.requests += 1
    tally.streams += 1
    raw = b""
    try:
        async with client.stream("POST", path, json=payload) as response:
            tally.open_streams += 1
            tally.peak_open_streams = max(tally.peak_open_streams, tally.open_streams)
            try:
                async for chunk in response.aiter_raw():
                    raw += chunk
            finally:
                tally.open_streams -= 1
            if response.status_code != 200:
                tally.error(f"stream status {response.status_code}: {raw[:200]!r}")
            elif problems := stream_problems(raw):
                tally.error(f"invalid stream: {problems[:3]}")
    except httpx.HTTPError as problem:
        tally.error(f"stream transport error: {problem!r}")
    return raw


async def abandoned_stream(client: httpx.AsyncClient, path: str, payload: dict[str, Any], tally: Tally) -> None:
    """One streamed request that the client hangs up on after the first chunk (the server must not mind)."""
    tally.requests += 1
    tally.abandoned += 1
    try:
        async with client.stream("POST", path, json=payload) as response:
            if response.status_code != 200:
                tally.error(f"abandoned stream status {response.status_code}")
            async for _ in response.aiter_raw():
                break
    except httpx.HTTPError as problem:
        tally.error(f"abandoned stream transport error: {problem!r}")


async def one_request(client: httpx.AsyncClient, method: str, path: str, payload: Any, check: Callable[[Any], bool],
                      tally: Tally) -> None:
    """One non-streamed request; an error unless it is a 200 whose JSON passes `check`."""
    tally.requests += 1
    try:
        response = await client.request(method, path, json=payload)
        if response.status_code != 200 or not check(response.json()):
            tally.error(f"{method} {path}: {response.status_code} {response.text[:200]}")
    except (httpx.HTTPError, ValueError) as problem:
        tally.error(f"{method} {path}: {problem!r}")


async def workers(
    make_client: Callable[[], httpx.AsyncClient], count: int, jobs: list[Callable[[httpx.AsyncClient], Awaitable[Any]]]
) -> None:
    """Run the jobs on `count` workers at once, each with a client of its own that it reuses.

    One small client per worker, not one big pool: httpcore assigns requests to connections in O(connections),
    so a shared pool of a hundred connections spends more time than the server it measures.
    """
    queue = iter(jobs)

    async def worker() -> None:
        async with make_client() as http:
            for job in queue:  # shared: each worker takes the next job
                await job(http)

    await asyncio.gather(*(worker() for _ in range(count)))
