"""Run the reference server on a socket bound first, announcing its base URL on the first stdout line."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

import uvicorn

from .app import ReferenceApp, create_app
from .rules import RuleBook

GRACE_SECONDS = 5.0  # after SIGTERM, requests still running this long are cancelled (a backstop: streams drain at once)


def base_url(sock: socket.socket) -> str:
    """The http:// base URL of a bound socket (a wildcard address is reached over loopback)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    stream: TextIO | None = None,
    ready: Callable[[str], None] | None = None,
    rules: RuleBook | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then drain and exit; the first line written to `stream` (stdout) is the base URL,
    which `ready` (a start-up banner, say) is then called with.

    On the signal the server stops accepting connections, streams in flight send their remaining events at once
    (ending with message_stop), and whatever still runs after GRACE_SECONDS is cancelled.
    """
    stream = stream if stream is not None else sys.stdout
    sock = bind(host, port)
    print(base_url(sock), file=stream, flush=True)
    if ready is not None:
        ready(base_url(sock))
    app = create_app(api_key, rules)
    previous = _exit_quietly_after_shutdown()
    try:
        DrainingServer(uvicorn_config(app), app).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def uvicorn_config(app: ReferenceApp) -> uvicorn.Config:
    """uvicorn's settings for the app: HTTP/1.1 only (an Upgrade: websocket request is a plain request)."""
    return uvicorn.Config(
        app,
        loop="auto",
        http="auto",
        ws="none",
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # a local fake: no X-Forwarded-* rewriting on every request
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


class InThread:
    """The reference app (behind an ASGI wrapper that records or directs, if given) served from a daemon thread on a
    socket bound first: the in-process fake and gateway mode's recording upstream."""

    def __init__(self, reference: ReferenceApp, served: Any = None, *, what: str = "reference server",
                 startup_timeout: float = 10.0) -> None:
        self.reference, self.served, self.what = reference, served or reference, what
        self.startup_timeout = startup_timeout
        self.base_url, self.port = "", 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> InThread:
        """Bind (OSError when the port is taken) and serve; returns once it accepts connections."""
        import time

        sock = bind(host, port)
        self.base_url, self.port = base_url(sock), sock.getsockname()[1]
        config = uvicorn_config(self.reference)
        config.app = self.served
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(server, sock), name=self.what, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.what} did not start")
            time.sleep(0.01)
        return self

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop serving (streams in flight finish at once) and wait for the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.reference.drain()
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None


class DrainingServer(uvicorn.Server):
    """uvicorn's server that, on SIGINT/SIGTERM, also makes the app drain before uvicorn's graceful shutdown."""

    def __init__(self, config: uvicorn.Config, app: ReferenceApp) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.app.drain()
        super().handle_exit(sig, frame)


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _exit_quietly_after_shutdown() -> dict[signal.Signals, Any]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make that an exit 0."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, _exit_quietly)
    return previous
