"""The reference server run in this process for the matrix, logging every request's method, path and status, so that
what a client sent (a request rejected, then resent without what was rejected) can be read back for one run.

Each row of the matrix has its own prefix (`/faults/<name>`, or `/family/<model>` for the clean server with one model
family: the server answers under any base-URL prefix) and runs its columns one after another, so the
entries under a prefix between the start and the end of one client run are that run's exchanges.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from conformance.target import Secret

# the path prefixes that keep rows apart: a fault's, and a model row's (any base-URL prefix reaches the same server)
ROW_PREFIXES = ("/faults/", "/family/")


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int


class RecordingApp:
    """ASGI wrapper: records (method, path, status) of every HTTP response start."""

    def __init__(self, app) -> None:
        self.app = app
        self.log: list[Exchange] = []
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def recording_send(message) -> None:
            if message.get("type") == "http.response.start":
                with self._lock:
                    self.log.append(Exchange(scope.get("method", ""), scope.get("path", ""), message.get("status", 0)))
            await send(message)

        await self.app(scope, receive, recording_send)

    def mark(self) -> int:
        with self._lock:
            return len(self.log)

    def since(self, mark: int, prefix: str) -> list[Exchange]:
        """The exchanges logged after `mark` whose path is under `prefix` (and not under a longer fault prefix)."""
        with self._lock:
            entries = self.log[mark:]
        if prefix:
            return [e for e in entries if e.path.startswith(prefix + "/")]
        return [e for e in entries if not e.path.startswith(ROW_PREFIXES)]


class RecordingServer:
    """`with RecordingServer() as server:` gives base_url, api_key (a Secret) and app (the RecordingApp)."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.api_key = Secret("sk-ant-matrix-" + secrets.token_urlsafe(24))
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.app: RecordingApp | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RecordingServer:
        import uvicorn

        from reference_server import create_app
        from reference_server.server import base_url, bind, uvicorn_config

        self.app = RecordingApp(create_app(self.api_key.reveal()))
        sock = bind("127.0.0.1", 0)
        self.base_url = base_url(sock)
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._server.install_signal_handlers = lambda: None  # older uvicorn; newer ones skip it off the main thread
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the reference server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
