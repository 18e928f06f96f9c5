"""The servers measured: the reference server, the bare ASGI ceiling, and third-party fakes in throwaway venvs."""

# The fakes are installed and started with the code of examples/compare_backends.py (its backend table, installer
# and start-up), loaded by path, so that both stay one definition.

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.common import KEY_ENV, REPO, SANITIZE, clean_env, compare_backends, dummy_key, last_lines, say, stop_process

FAKES = ("llmock", "localstack-claude", "mock-ai-api", "fakellm")  # the fakes of the issue, as compare_backends names them
# What each fake's source (the pinned version) says about its speed, so the table is read right.
FAKE_NOTES = {
    "llmock": "streams with no chunk delay (LLMOCK_STREAM_CHUNK_DELAY_MS, default 0)",
    "localstack-claude": "a Werkzeug WSGI server (werkzeug.serving.run_simple), not ASGI; it answers a stream over "
                         "HTTP/1.0 with Connection: close, so each stream costs a new connection and wrk counts each "
                         "close as a socket error",
    "mock-ai-api": "paces its streams on purpose: 40 ms between events (app/common.py DEFAULT_STREAM_DELAY_MS, not "
                   "configurable), so its streams/s measure that pause, not its speed",
    "fakellm": "paces its streams on purpose: 10 ms between words (fakellm/streaming.py, not configurable), so its "
               "streams/s measure that pause, not its speed",
}
START_TIMEOUT = 30.0
INSTALL_TIMEOUT = 900.0


@dataclass
class Server:
    """A server under load: how to reach it, how it was started, or why it was skipped."""

    name: str
    kind: str  # reference | ceiling | third-party
    base_url: str = ""
    key: str = ""
    model: str = "claude-sonnet-4-5"
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    status: str = "pending"  # running | stopped | skipped
    reason: str = ""
    proc: subprocess.Popen | None = None
    note: str = ""
    state: Any = None  # compare_backends.State of a third-party fake

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason
        say(f"SKIP {self.name}: {reason}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        if self.status == "running":
            self.status = "stopped"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "command": self.command, "versions": self.versions,
                "model": self.model, "status": "measured" if self.status in ("running", "stopped") else self.status,
                "reason": self.reason, "note": self.note}


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> int:
    """The status of a GET (0 when nothing answered)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def start_announcing(server: Server, argv: list[str], env: dict[str, str], log: Path) -> None:
    """Start a server that prints its base URL on the first stdout line; wait until it answers HTTP."""
    with open(log, "a", encoding="utf-8") as errors:
        server.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=env,
                                       text=True, start_new_session=True, cwd=log.parent)
    lines: list[str] = []
    stdout = server.proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not lines or not lines[0].startswith("http://"):
        server.stop()
        server.skip(f"did not print its base URL: {last_lines(log.read_text(encoding='utf-8', errors='replace'))}")
        return
    server.base_url = lines[0].strip()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if http_get(server.base_url + "/v1/models", {"x-api-key": server.key, "anthropic-version": "2023-06-01"}):
            server.status = "running"
            say(f"{server.name} answers at {server.base_url}")
            return
        time.sleep(0.05)
    server.stop()
    server.skip("did not answer HTTP in time")


def stack_versions(names: tuple[str, ...] = ("uvicorn", "httptools", "uvloop", "starlette")) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def reference_server(work: Path) -> Server:
    server = Server("reference", "reference", key=dummy_key("reference"), model="claude-sonnet-4-5",
                    command="python -m reference_server --host 127.0.0.1 --port 0",
                    versions={"anthropic-conformance": importlib.metadata.version("anthropic-conformance"),
                              **stack_versions()})
    env = clean_env(**{KEY_ENV: server.key})
    start_announcing(server, [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", "0"], env,
                     work / "reference.log")
    return server


def bare_server(work: Path, json_body: bytes, sse_body: bytes) -> Server:
    """The ceiling, answering the reference server's own recorded answers (same bytes, same events)."""
    (work / "bare.json").write_bytes(json_body)
    (work / "bare.sse").write_bytes(sse_body)
    server = Server("bare-asgi", "ceiling", key="any", model="claude-sonnet-4-5",
                    command="python -m bench.bare_app --json FILE --sse FILE",
                    versions=stack_versions(("uvicorn", "httptools", "uvloop")),
                    note="a raw ASGI callable: reads and json-parses the request, answers the reference server's "
                         "recorded JSON body, or its recorded SSE body one event per chunk")
    env = clean_env(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])))
    start_announcing(server, [sys.executable, "-m", "bench.bare_app", "--json", str(work / "bare.json"),
                              "--sse", str(work / "bare.sse")], env, work / "bare.log")
    return server



class Fakes:
    """The third-party fakes: installed once (in parallel, before anything is timed), started one at a time."""

    def __init__(self, work: Path, names: tuple[str, ...] = FAKES) -> None:
        self.work = work
        self.servers: list[Server] = []
        self.cb: ModuleType | None = None
        self.env: dict[str, str] = {}
        try:
            self.cb = compare_backends()
        except Exception as exc:  # noqa: BLE001 - without the table there is nothing to install, not a crash
            self.servers = [Server(n, "third-party") for n in names]
            for server in self.servers:
                server.skip(f"examples/compare_backends.py could not be loaded: {exc}")
            return
        known = {b.name: b for b in self.cb.BACKENDS}
        for name in names:
            server = Server(name, "third-party", key=dummy_key(name))
            if name not in known:
                server.skip("not in examples/compare_backends.py's backend table")
            else:
                backend = known[name]
                server.command = backend.command_doc
                server.state = self.cb.State(backend)
                server.state.key = server.key
            self.servers.append(server)

    def install(self) -> None:
        cb = self.cb
        if cb is None:
            return
        cb.SANITIZE.extend([(str(self.work), "<tmp>"), (str(REPO), "<repo>"), (str(Path.home()), "~")])
        SANITIZE.append((str(self.work), "<tmp>"))
        self.env = dict(clean_env(), UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(self.work / "uv-cache"),
                        PIP_DISABLE_PIP_VERSION_CHECK="1")
        (self.work / "logs").mkdir(exist_ok=True)
        pending = [s for s in self.servers if s.state is not None]
        if not pending:
            return
        say(f"installing {', '.join(s.name for s in pending)} into throwaway venvs (examples/compare_backends.py)")
        with contextlib.redirect_stdout(sys.stderr):
            installer = cb.Installer(self.work, self.env)
            installer.bootstrap()
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                jobs = {pool.submit(cb.install_one, installer, s.state, self.work): s for s in pending}
                for job, server in jobs.items():
                    try:
                        job.result(timeout=INSTALL_TIMEOUT)
                    except Exception as exc:  # noqa: BLE001 - one fake's failure never stops the others
                        server.state.skip(f"install: {exc!r}")
        for server in pending:
            if server.state.status != "installed":
                server.skip(server.state.reason or "the install did not finish")
            else:
                server.versions = dict(server.state.versions)
                server.note = f"Python {server.state.python}, installed with {server.state.installer}" + (
                    f"; {FAKE_NOTES[server.name]}" if server.name in FAKE_NOTES else "")

    def start(self, server: Server) -> None:
        cb = self.cb
        assert cb is not None and server.state is not None
        with contextlib.redirect_stdout(sys.stderr):
            cb.start(server.state, self.env, None)
            if server.state.status == "starting":
                cb.wait_ready([server.state])
            if server.state.status != "running":
                server.skip(server.state.reason or "did not start")
                return
            cb.pick_model(server.state)
        server.proc = server.state.proc
        server.base_url = server.state.base_url
        server.model = server.state.model
        server.status = "running"
