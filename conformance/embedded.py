"""The embedded reference server: started once in a subprocess on a free loopback port, always stopped."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time

import httpx

from conformance.settings import DEFAULT_ANTHROPIC_VERSION
from conformance.target import Secret

KEY_ENV = "ANTHROPIC_CONFORMANCE_SERVER_KEY"
REFERENCE_MODEL = "reference-model"  # the model the reference server answers as its own


class EmbeddedServer:
    """`with EmbeddedServer() as server:` gives server.base_url and server.api_key (a Secret)."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.startup_timeout = startup_timeout
        self.api_key = Secret("sk-ant-embedded-" + secrets.token_urlsafe(24))
        self.base_url = ""
        self._process: subprocess.Popen | None = None

    def target(self, prefix: str = "", **fields):
        """The Target of this server (under a path prefix, e.g. /faults/<name>): deterministic, everything may run."""
        from conformance.target import Target

        fields.setdefault("model", REFERENCE_MODEL)
        fields.setdefault("embedded", True)
        return Target(base_url=self.base_url + prefix, api_key=self.api_key, **fields)

    def start(self) -> EmbeddedServer:
        """Launch the process (unless `launch()` already did) and wait until it answers."""
        if self._process is None:
            self.launch()
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].startswith("http://"):
            self.stop()
            raise RuntimeError("the embedded reference server did not start (no base URL printed)")
        self.base_url = line[0].strip()
        self._wait_until_answering()
        return self

    def launch(self) -> EmbeddedServer:
        """Start the process without waiting for it, so that it boots while the caller starts pytest."""
        env = dict(os.environ)
        env[KEY_ENV] = self.api_key.reveal()  # by environment, never on the command line
        self._process = subprocess.Popen(
            [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, text=True,
        )
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base_url + "/v1/models", timeout=2.0,
                          headers={"x-api-key": self.api_key.reveal(), "anthropic-version": DEFAULT_ANTHROPIC_VERSION})
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the embedded reference server did not answer in time")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
