"""Run the reference server on a socket bound first, announcing its base URL on the first stdout line."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any, TextIO

import uvicorn

from .app import create_app


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
    host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, stream: TextIO | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; the first line written to `stream` (stdout) is the base URL."""
    stream = stream if stream is not None else sys.stdout
    sock = bind(host, port)
    print(base_url(sock), file=stream, flush=True)
    config = uvicorn.Config(
        create_app(api_key),
        loop="auto",
        http="auto",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    previous = _exit_quietly_after_shutdown()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


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
