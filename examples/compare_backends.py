#!/usr/bin/env python3
"""Compare real third-party Anthropic-compatible servers with anthropic-conformance.

    python examples/compare_backends.py --out docs/backends

Installs each backend by name from PyPI into its own throwaway virtualenv under a temp dir, starts it on a free
loopback port, writes a targets file (the embedded reference server plus every backend that came up, keys in
environment variables holding dummy values), runs `anthropic-conformance compare` on it and writes into --out:

    matrix.md, matrix.html   the matrix rendered by `anthropic-conformance compare`
    reports/<target>.json    the per-target JSON reports (checked to hold no key)
    backends.md, .json       what was installed (versions), how each was started, what was skipped and why

Every step has a timeout. A backend that fails to install or to start is skipped, with its reason printed and
written into backends.md; it never fails the whole run. Every server started is stopped on every exit path.

This is an example, not a test: it needs the package registries and is no part of the test suite or CI.
Only the standard library is used; run it with the Python that has anthropic-conformance installed (the
`anthropic-conformance` command next to that Python is used, else the one on PATH, else --conformance).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATE_FORMAT = "%Y-%m-%d"

# How long each step may take, in seconds.
BOOTSTRAP_TIMEOUT = 180  # creating the tools venv and installing uv into it
VENV_TIMEOUT = 60
INSTALL_TIMEOUT = 300  # one backend's install (all run in parallel)
START_TIMEOUT = 90  # until a started server answers HTTP
COMPARE_TIMEOUT = 420  # the whole `anthropic-conformance compare` run
STOP_WAIT = 5  # after SIGTERM, then again after SIGKILL
REQUEST_TIMEOUT = 30  # per request of the harness against a backend (the targets file's `timeout`)

# A backend's own outbound calls (a tokenizer download, a cost map, telemetry) go to a dead loopback proxy: they fail
# here as they would offline, and never leave the machine. Loopback (the upstream llmock) is exempt.
OFFLINE = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                                                    "https_proxy", "all_proxy")}
OFFLINE.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")

UPSTREAM_MODEL = "gpt-4o-mini"  # the OpenAI model the proxies ask llmock's OpenAI endpoint for


# --------------------------------------------------------------------------------------------------------------
# The backends
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Ctx:
    """What a backend's command is built from."""

    venv: Path
    port: int
    home: Path  # a throwaway HOME (and working directory) for the process
    key: str  # the dummy key of this target
    upstream: str | None  # llmock's OpenAI base URL (http://127.0.0.1:PORT/v1) for the proxies

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@dataclass
class Backend:
    name: str  # the target's name in the matrix
    requirements: list[str]  # what is installed, by name from PyPI (pinned to the versions this was written with)
    packages: list[str]  # the distributions whose installed versions are recorded
    command: Callable[[Ctx], list[str]]
    command_doc: str  # the command line, as written into backends.md
    base_path: str  # the Anthropic base URL is http://127.0.0.1:PORT + base_path
    how_found: str  # where its command line and base URL come from
    python: tuple[int, int] = (3, 11)  # the oldest Python it installs on
    overrides: list[str] = field(default_factory=list)  # dependency pins (uv --override) that the install needs
    needs_upstream: bool = False  # an Anthropic-to-OpenAI proxy in front of llmock's OpenAI endpoint
    default_model: str = "claude-sonnet-4-5"  # when GET /v1/models lists nothing
    prepare: Callable[[Ctx], dict[str, str]] | None = None  # writes config files; returns extra environment
    note: str = ""


def _litellm_prepare(ctx: Ctx) -> dict[str, str]:
    (ctx.home / "litellm.yaml").write_text(textwrap.dedent(f"""\
        model_list:
          - model_name: claude-sonnet-4-5
            litellm_params:
              model: openai/{UPSTREAM_MODEL}
              api_base: {ctx.upstream}
              api_key: dummy-upstream-key
        general_settings:
          master_key: {ctx.key}
        """), encoding="utf-8")
    # no network look-ups at start (model cost map), no telemetry
    return {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True"}


def _oa2a_prepare(ctx: Ctx) -> dict[str, str]:
    # local-openai2anthropic reads only ~/.oa2a/config.toml: HOME is the throwaway home
    config = ctx.home / ".oa2a"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(textwrap.dedent(f"""\
        openai_api_key = "dummy-upstream-key"
        openai_base_url = "{ctx.upstream}"
        host = "127.0.0.1"
        port = {ctx.port}
        api_key = "{ctx.key}"
        log_level = "WARNING"
        log_dir = "{ctx.home / 'logs'}"
        """), encoding="utf-8")
    return {}


def _padwan_prepare(ctx: Ctx) -> dict[str, str]:
    return {"PADWAN_API_KEY": "dummy-upstream-key"}


def _fakellm_prepare(ctx: Ctx) -> dict[str, str]:
    # fakellm refuses to start without ./fakellm.yaml; this is `fakellm init`'s file without its demo rules
    (ctx.home / "fakellm.yaml").write_text("version: 1\ndefaults:\n  fallback: deterministic_echo\nrules: []\n",
                                           encoding="utf-8")
    return {}


def _localstack_prepare(ctx: Ctx) -> dict[str, str]:
    # claude-local takes its bind address from the environment only (default 0.0.0.0: override it)
    return {"CLAUDE_HOST": "127.0.0.1", "CLAUDE_PORT": str(ctx.port)}


BACKENDS: list[Backend] = [
    Backend(
        name="llmock", requirements=["llmock==0.2.2"], packages=["llmock"],
        command=lambda c: [c.bin("llmock"), "serve", "-h", "127.0.0.1", "-p", str(c.port), "--log-level", "warning"],
        command_doc="llmock serve -h 127.0.0.1 -p PORT --log-level warning",
        base_path="/anthropic",
        how_found="`llmock serve --help`; its Anthropic router is mounted under the prefix `/anthropic` "
                  "(llmock/routers/anthropic.py)",
        default_model="claude-opus-4-6",
    ),
    Backend(
        name="litellm", requirements=["litellm[proxy]==1.109.1"], packages=["litellm"],
        overrides=["certifi>=2026.1", "litellm-proxy-extras==0.4.110"],
        command=lambda c: [c.bin("litellm"), "--config", str(c.home / "litellm.yaml"), "--host", "127.0.0.1",
                           "--port", str(c.port), "--telemetry", "False"],
        command_doc="litellm --config litellm.yaml --host 127.0.0.1 --port PORT --telemetry False "
                    "(model_list: claude-sonnet-4-5 -> openai/gpt-4o-mini at llmock's /v1; master_key = the dummy key)",
        base_path="",
        how_found="litellm proxy docs (`/v1/messages` at the proxy root); `litellm --help`",
        needs_upstream=True, prepare=_litellm_prepare,
        note="1.109.1 declares certifi>=2026.10.19 and litellm-proxy-extras==0.4.113, which this registry does not "
             "serve; installed with the overrides certifi>=2026.1 and litellm-proxy-extras==0.4.110",
    ),
    Backend(
        name="padwan-proxy", requirements=["padwan-proxy==0.1.0"], packages=["padwan-proxy", "padwan-ai"],
        python=(3, 13),
        command=lambda c: [c.bin("padwan-proxy"), "-m", UPSTREAM_MODEL, "--backend-url", c.upstream or "",
                           "--host", "127.0.0.1", "-p", str(c.port)],
        command_doc="padwan-proxy -m gpt-4o-mini --backend-url http://127.0.0.1:UPSTREAM/v1 --host 127.0.0.1 -p PORT",
        base_path="",
        how_found="`padwan-proxy --help`; routes `/v1/messages` and `/v1/messages/count_tokens` (padwan_proxy/proxy.py)",
        needs_upstream=True, prepare=_padwan_prepare,
    ),
    Backend(
        name="localstack-claude", requirements=["localstack-claude==0.1.0"], packages=["localstack-claude"],
        command=lambda c: [c.bin("claude-local")],
        command_doc="CLAUDE_HOST=127.0.0.1 CLAUDE_PORT=PORT claude-local",
        base_path="",
        how_found="entry point `claude-local` (claude_local/server.py: host and port from CLAUDE_HOST / CLAUDE_PORT, "
                  "default 0.0.0.0:5002); routes `/v1/messages`, `/v1/models` (claude_local/routes.py)",
        prepare=_localstack_prepare,
    ),
    Backend(
        name="mock-ai-api", requirements=["mock-ai-api==0.1.1"], packages=["mock-ai-api"],
        command=lambda c: [c.bin("python"), "-m", "uvicorn", "app.anthropic_app:app", "--host", "127.0.0.1",
                           "--port", str(c.port), "--log-level", "warning"],
        command_doc="python -m uvicorn app.anthropic_app:app --host 127.0.0.1 --port PORT",
        base_path="",
        how_found="its `mock-ai-api` command (server.py) runs exactly this uvicorn command for its Anthropic app, "
                  "plus a second one for OpenAI, in new sessions that it does not stop on SIGTERM; the Anthropic half "
                  "is run directly so that it can be stopped",
    ),
    Backend(
        name="llm-mock-api", requirements=["llm-mock-api==0.1.2"], packages=["llm-mock-api"],
        command=lambda c: [c.bin("llm-mock-api"), "start", "-H", "127.0.0.1", "-p", str(c.port),
                           "--log-level", "warning"],
        command_doc="llm-mock-api start -H 127.0.0.1 -p PORT (no rules file: the fallback reply)",
        base_path="",
        how_found="`llm-mock-api --help`; formats/anthropic registers `/v1/messages`",
    ),
    Backend(
        name="fakellm", requirements=["fakellm==0.3.5"], packages=["fakellm"],
        command=lambda c: [c.bin("fakellm"), "serve", "--host", "127.0.0.1", "--port", str(c.port)],
        command_doc="fakellm serve --host 127.0.0.1 --port PORT (fakellm.yaml: no rules, fallback deterministic_echo)",
        base_path="",
        how_found="`fakellm serve --help`; it exits without ./fakellm.yaml, so the one `fakellm init` writes is used, "
                  "without its demo rules; fakellm/server.py serves `/v1/messages` and `/v1/chat/completions`",
        prepare=_fakellm_prepare,
    ),
    Backend(
        name="local-openai2anthropic", requirements=["local-openai2anthropic==0.7.3", "jinja2"],
        packages=["local-openai2anthropic"], python=(3, 12),
        command=lambda c: [c.bin("oa2a")],
        command_doc="oa2a (foreground), with ~/.oa2a/config.toml: openai_base_url = llmock's /v1, host 127.0.0.1, "
                    "port PORT, api_key = the dummy key",
        base_path="",
        how_found="`oa2a --help`; local_openai2anthropic/config.py reads only ~/.oa2a/config.toml; router.py serves "
                  "`/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`",
        needs_upstream=True, prepare=_oa2a_prepare,
        note="needs Python >= 3.12; imports jinja2 without declaring it, so jinja2 is installed with it",
    ),
    Backend(
        name="ant2oai", requirements=["ant2oai==0.1.6"], packages=["ant2oai"],
        command=lambda c: [c.bin("ant2oai"), "--upstream", f"{c.upstream}/chat/completions", "--model", UPSTREAM_MODEL,
                           "--host", "127.0.0.1", "--port", str(c.port)],
        command_doc="ant2oai --upstream http://127.0.0.1:UPSTREAM/v1/chat/completions --model gpt-4o-mini "
                    "--host 127.0.0.1 --port PORT",
        base_path="",
        how_found="`ant2oai --help`; a2o/server.py serves `/v1/messages`",
        needs_upstream=True,
    ),
]


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------

class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.start:6.1f}s"


CLOCK = Timer()
SANITIZE: list[tuple[str, str]] = []  # (machine path, placeholder): never written into an output file


def say(message: str) -> None:
    print(f"[{CLOCK}] {message}", flush=True)


def sanitize(text: str) -> str:
    for path, placeholder in SANITIZE:
        text = text.replace(path, placeholder)
    return re.sub(r"file://\S+", "file://<local>", text)


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colour codes
    kept = [line for line in text.strip().splitlines()
            if not line.startswith(("--- start:", "WARNING: Location"))]  # our marker; pip's notes on local indexes
    return "\n".join(kept[-lines:])


def run(argv: list[str], timeout: float, env: dict[str, str] | None = None, log: Path | None = None,
        cwd: Path | None = None) -> tuple[bool, str]:
    """Run a command to completion within `timeout`; (ok, why-not). Its whole process group is killed on timeout."""
    out = open(log, "a", encoding="utf-8") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, start_new_session=True)
    except OSError as exc:
        return False, f"cannot run {Path(argv[0]).name}: {exc}"
    finally:
        if log:
            out.close()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        shown = " ".join(Path(a).name if os.sep in a else a for a in argv[:4])
        return False, f"`{shown} ...` timed out after {timeout:.0f}s"
    if code != 0:
        return False, f"exit {code}: {tail(log) if log else ''}".strip()
    return True, ""


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, wait, then SIGKILL it, wait: bounded."""
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                proc.wait(timeout=STOP_WAIT)
                break
            except subprocess.TimeoutExpired:
                continue
    # children that outlived the group leader (the group is the process's own session)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body); status 0 when nothing answered."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(100_000) if exc.fp else b""
    except (urllib.error.URLError, OSError, ValueError):
        return 0, b""


def python_version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([executable, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> str | None:
    """An interpreter >= minimum: this one, python3.X on PATH, then pyenv's installs (shims that are not active fail
    their version probe and are passed over)."""
    if sys.version_info[:2] >= minimum:
        return sys.executable
    candidates = [shutil.which(f"python3.{minor}") for minor in range(15, minimum[1] - 1, -1)]
    if shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            root = ""
        if root:
            for minor in range(15, minimum[1] - 1, -1):
                candidates += sorted(glob.glob(os.path.join(root, "versions", f"3.{minor}.*", "bin", f"python3.{minor}")),
                                     reverse=True)
    for candidate in candidates:
        if candidate and (version := python_version(candidate)) and version >= minimum:
            return candidate
    return None


# --------------------------------------------------------------------------------------------------------------
# Install, start, stop
# --------------------------------------------------------------------------------------------------------------

@dataclass
class State:
    backend: Backend
    status: str = "pending"  # installed, running, skipped
    reason: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    python: str = ""
    installer: str = ""
    venv: Path | None = None
    home: Path | None = None
    log: Path | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    key_env: str = ""
    key: str = ""
    model: str = ""
    model_source: str = ""

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", sanitize(reason)
        say(f"SKIP {self.backend.name}: {self.reason}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.backend.base_path}"


class Installer:
    """uv (installed from PyPI into a tools venv) when it can be had: fast, and it can apply the dependency
    overrides some backends need; pip otherwise."""

    def __init__(self, work: Path, env: dict[str, str]):
        self.work, self.env, self.uv = work, env, None

    def bootstrap(self) -> None:
        tools = self.work / "tools"
        log = self.work / "tools.log"
        ok, why = run([sys.executable, "-m", "venv", str(tools)], VENV_TIMEOUT, self.env, log)
        if ok:
            ok, why = run([str(tools / "bin" / "python"), "-m", "pip", "install", "-q", "uv"], BOOTSTRAP_TIMEOUT,
                          self.env, log)
        if ok and (tools / "bin" / "uv").exists():
            self.uv = str(tools / "bin" / "uv")
            say("installer: uv (from PyPI, in the temp dir)")
        else:
            say(f"installer: pip (uv could not be installed: {sanitize(why)})")

    def install(self, state: State, python: str) -> tuple[bool, str]:
        venv, log, backend = state.venv, state.log, state.backend
        assert venv and log
        if self.uv:
            ok, why = run([self.uv, "venv", "-q", "-p", python, str(venv)], VENV_TIMEOUT, self.env, log)
            if ok:
                argv = [self.uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
                if backend.overrides:
                    overrides = venv.parent / f"{backend.name}-overrides.txt"
                    overrides.write_text("\n".join(backend.overrides) + "\n", encoding="utf-8")
                    argv += ["--override", str(overrides)]
                ok, why = run(argv + backend.requirements, INSTALL_TIMEOUT, self.env, log)
                if ok:
                    state.installer = "uv" + (f" (overrides: {', '.join(backend.overrides)})" if backend.overrides else "")
                    return True, ""
            say(f"{backend.name}: uv failed ({sanitize(why)[:200]}); trying pip")
            shutil.rmtree(venv, ignore_errors=True)
        ok, why = run([python, "-m", "venv", str(venv)], VENV_TIMEOUT, self.env, log)
        if ok:
            ok, why = run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *backend.requirements],
                          INSTALL_TIMEOUT, self.env, log)
        if ok:
            state.installer = "pip"
            return True, ""
        return False, f"install failed: {why}"


def install_one(installer: Installer, state: State, work: Path) -> None:
    backend = state.backend
    python = find_python(backend.python)
    if python is None:
        state.skip(f"needs Python >= {backend.python[0]}.{backend.python[1]}, and none was found "
                   "(PATH, pyenv)")
        return
    state.venv = work / "venvs" / backend.name
    state.home = work / "homes" / backend.name
    state.home.mkdir(parents=True, exist_ok=True)
    state.log = work / "logs" / f"{backend.name}.log"
    say(f"installing {backend.name}: {' '.join(backend.requirements)}")
    ok, why = installer.install(state, python)
    if not ok:
        state.skip(why)
        return
    for package in backend.packages:
        out = subprocess.run([str(state.venv / "bin" / "python"), "-c",
                              f"import importlib.metadata as m; print(m.version({package!r}))"],
                             capture_output=True, text=True, timeout=30)
        state.versions[package] = out.stdout.strip() if out.returncode == 0 else "?"
    state.python = ".".join(map(str, python_version(str(state.venv / "bin" / "python")) or ()))
    state.status = "installed"
    say(f"installed {backend.name} {' '.join(f'{k}=={v}' for k, v in state.versions.items())} "
        f"(Python {state.python}, {state.installer})")


def start(state: State, env: dict[str, str], upstream: str | None) -> None:
    backend = state.backend
    assert state.venv and state.home and state.log
    state.port = free_port()
    ctx = Ctx(venv=state.venv, port=state.port, home=state.home, key=state.key, upstream=upstream)
    proc_env = dict(env, HOME=str(state.home), PYTHONUNBUFFERED="1", NO_COLOR="1", **OFFLINE)
    proc_env.pop("VIRTUAL_ENV", None)
    proc_env["PATH"] = str(state.venv / "bin") + os.pathsep + proc_env.get("PATH", "")
    try:
        if backend.prepare:
            proc_env.update(backend.prepare(ctx))
        argv = backend.command(ctx)
        with open(state.log, "a", encoding="utf-8") as log:
            log.write(f"\n--- start: {' '.join(argv)}\n")
            log.flush()
            state.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=proc_env, cwd=state.home, start_new_session=True)
    except OSError as exc:
        state.skip(f"cannot start: {exc}")
        return
    state.status = "starting"
    say(f"started {backend.name} on 127.0.0.1:{state.port}")


def wait_ready(states: list[State]) -> None:
    """Poll every starting server until it answers HTTP (any status), exits, or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    pending = [s for s in states if s.status == "starting"]
    while pending and time.monotonic() < deadline:
        for state in list(pending):
            assert state.proc
            if state.proc.poll() is not None:
                pending.remove(state)
                state.skip(f"exited with {state.proc.returncode} before answering: {tail(state.log) if state.log else ''}")
                continue
            status, _ = http_get(f"http://127.0.0.1:{state.port}/", timeout=2)
            if status:
                pending.remove(state)
                state.status = "running"
                say(f"{state.backend.name} answers (HTTP {status} at /)")
        if pending:
            time.sleep(0.5)
    for state in pending:
        state.skip(f"did not answer HTTP within {START_TIMEOUT}s: {tail(state.log) if state.log else ''}")
        if state.proc:
            stop_process(state.proc)


def pick_model(state: State) -> None:
    """The first id GET /v1/models lists; else the backend's documented default."""
    status, body = http_get(f"{state.base_url}/v1/models",
                            headers={"x-api-key": state.key, "anthropic-version": "2023-06-01"}, timeout=15)
    ids = []
    if status == 200:
        try:
            ids = [m["id"] for m in json.loads(body).get("data", []) if isinstance(m, dict) and m.get("id")]
        except (ValueError, AttributeError, TypeError):
            ids = []
    if ids:
        state.model, state.model_source = ids[0], "first id of GET /v1/models"
    else:
        state.model = state.backend.default_model
        state.model_source = f"GET /v1/models gave HTTP {status or 'nothing'}{' (no ids)' if status == 200 else ''}; " \
                             "a Claude model name (the backend maps every model to its upstream)" \
            if state.backend.needs_upstream else f"GET /v1/models gave HTTP {status or 'nothing'}; its default"
    say(f"{state.backend.name}: model {state.model} ({state.model_source})")


# --------------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------------

def conformance_command(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "anthropic-conformance"
    if beside.exists():
        return str(beside)
    return shutil.which("anthropic-conformance")


def conformance_version(command: str) -> str:
    python = Path(command).parent / "python"
    if python.exists():
        code = "import importlib.metadata as m; print(m.version('anthropic-conformance'))"
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=30)
        if out.returncode == 0:
            return out.stdout.strip()
    return "?"


def write_targets(path: Path, running: list[State]) -> None:
    lines = ["# written by examples/compare_backends.py: keys are in the environment variables named here",
             "[targets.reference]  # no base_url: the embedded reference server", ""]
    for state in running:
        lines += [f"[targets.{state.backend.name}]",
                  f'base_url = "{state.base_url}"',
                  f'api_key_env = "{state.key_env}"',
                  f'model = "{state.model}"',
                  f"timeout = {REQUEST_TIMEOUT}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def profile_line(report: dict) -> str:
    profiles = ", ".join(f"{name} {p['status']}" for name, p in report.get("profiles", {}).items())
    s = report.get("summary", {})
    counts = " ".join(f"{s.get(v, 0)} {v}" for v in ("pass", "fail", "warn", "unsupported", "skipped", "error"))
    return f"{profiles}; strict: {counts} of {s.get('total', 0)}"


def write_outputs(out: Path, states: list[State], upstream_state: State | None, meta: dict, summaries: dict[str, str],
                  copied: list[str]) -> None:
    entries = []
    for state in ([upstream_state] if upstream_state else []) + states:
        b = state.backend
        entries.append({
            "name": b.name if state is not upstream_state else "llmock (upstream of the proxies)",
            "requirements": b.requirements, "overrides": b.overrides, "versions": state.versions,
            "python": state.python, "installer": state.installer, "status": state.status, "reason": state.reason,
            "command": b.command_doc, "base_url": f"http://127.0.0.1:PORT{b.base_path}",
            "how_found": b.how_found, "model": state.model, "model_source": state.model_source,
            "upstream": "llmock's OpenAI endpoint (http://127.0.0.1:UPSTREAM/v1)" if b.needs_upstream else "",
            "note": b.note, "summary": summaries.get(b.name, "") if state is not upstream_state else "",
        })
    (out / "backends.json").write_text(json.dumps({**meta, "backends": entries}, indent=2) + "\n", encoding="utf-8")

    md = [f"# Backends compared ({meta['date']})", "",
          "Generated by `python examples/compare_backends.py --out docs/backends`; the matrix is "
          "[matrix.md](matrix.md) ([matrix.html](matrix.html)), the per-target reports are in [reports/](reports/).", "",
          f"- anthropic-conformance {meta['anthropic_conformance']}; the run took {meta['seconds']:.0f} s "
          f"(compare: {meta['compare_seconds']:.0f} s, exit {meta['compare_exit']}).",
          f"- `{meta['compare_command']}`", "",
          "| target | installed | Python | command | Anthropic base URL | model | status |",
          "|---|---|---|---|---|---|---|"]
    for e in entries:
        versions = ", ".join(f"{k} {v}" for k, v in e["versions"].items()) or " ".join(e["requirements"])
        status = e["status"] + (f": {e['reason']}" if e["reason"] else "")
        md.append(f"| {e['name']} | {versions} | {e['python']} | `{e['command']}` | {e['base_url']} | "
                  f"{e['model']} | {status.replace('|', '/').replace(chr(10), ' ')} |")
    md += ["", "## One line per backend", ""]
    for state in states:
        md.append(f"- **{state.backend.name}**: " + (summaries.get(state.backend.name)
                                                      or f"skipped: {state.reason}".replace("\n", " ")))
    md += ["", "## Where each command line and base URL come from", ""]
    for e in entries:
        upstream = f" Upstream: {e['upstream']}." if e["upstream"] else ""
        note = f" Note: {e['note']}." if e["note"] else ""
        model = f" Model: {e['model_source']}." if e["model_source"] else ""
        md.append(f"- **{e['name']}**: {e['how_found']}.{upstream}{note}{model}")
    md += ["", f"Reports copied: {', '.join(copied) or 'none'}.", ""]
    (out / "backends.md").write_text("\n".join(md), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "backends"),
                        help="where the matrix, reports and backends.md go (default: docs/backends)")
    parser.add_argument("--only", default="", help="comma-separated backend names (default: all)")
    parser.add_argument("--no-expensive", action="store_true",
                        help="leave out the expensive checks (run by default: these backends are local fakes, no "
                             "tokens are paid for)")
    parser.add_argument("--conformance", default=None, help="the anthropic-conformance command to run")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (venvs, logs) for inspection")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    conformance = conformance_command(args.conformance)
    if not conformance:
        print("error: no anthropic-conformance command (install the project, or pass --conformance)", file=sys.stderr)
        return 2
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - {b.name for b in BACKENDS}
    if unknown:
        print(f"error: unknown backends {sorted(unknown)}; known: {[b.name for b in BACKENDS]}", file=sys.stderr)
        return 2
    backends = [b for b in BACKENDS if not wanted or b.name in wanted]

    # SIGTERM / SIGHUP unwind like Ctrl-C, so the finally below stops every server
    def _raise(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise)

    work = Path(tempfile.mkdtemp(prefix="compare-backends-"))
    SANITIZE.extend([(str(work), "<tmp>"), (str(out), "<out>"), (str(HERE.parent), "<repo>"),
                     (str(Path.home()), "~")])
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(work / "uv-cache"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY",
                 "ANTHROPIC_CONFORMANCE_API_KEY"):
        env.pop(name, None)  # no real key reaches a backend or the harness
    (work / "logs").mkdir()
    say(f"temp dir {work}; output {out}; anthropic-conformance: {conformance}")

    states = [State(b) for b in backends]
    for state in states:
        ident = re.sub(r"[^A-Z0-9]", "_", state.backend.name.upper())
        state.key_env = f"COMPARE_BACKENDS_KEY_{ident}"
        state.key = f"sk-dummy-{state.backend.name}-not-a-secret"  # sk-: litellm wants master keys to start so
    upstream_state: State | None = None
    if any(b.needs_upstream for b in backends):
        upstream_state = State(BACKENDS[0])  # llmock's OpenAI endpoint: a separate instance from the llmock target
        upstream_state.key = "dummy-upstream-key"
    summaries: dict[str, str] = {}
    copied: list[str] = []
    compare_exit, compare_seconds = None, 0.0
    compare_command = ""
    try:
        installer = Installer(work, env)
        installer.bootstrap()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            jobs = []
            if upstream_state:
                upstream_backend = upstream_state.backend
                upstream_state.backend = Backend(**{**upstream_backend.__dict__, "name": "llmock-upstream"})
                jobs.append(pool.submit(install_one, installer, upstream_state, work))
            jobs += [pool.submit(install_one, installer, s, work) for s in states]
            for job in jobs:
                try:
                    job.result(timeout=INSTALL_TIMEOUT * 2 + VENV_TIMEOUT * 2 + 60)
                except Exception as exc:  # noqa: BLE001 - one backend's failure never stops the others
                    say(f"install job failed: {exc!r}")
        for state in states + ([upstream_state] if upstream_state else []):
            if state.status == "pending":
                state.skip("the install did not finish")

        upstream = None
        if upstream_state and upstream_state.status == "installed":
            start(upstream_state, env, None)
            wait_ready([upstream_state])
            if upstream_state.status == "running":
                upstream = f"http://127.0.0.1:{upstream_state.port}/v1"
        for state in states:
            if state.status != "installed":
                continue
            if state.backend.needs_upstream and not upstream:
                state.skip("needs llmock's OpenAI endpoint as its upstream, and that did not come up"
                           + (f" ({upstream_state.reason})" if upstream_state and upstream_state.reason else ""))
                continue
            start(state, env, upstream)
        wait_ready(states)
        running = [s for s in states if s.status == "running"]
        for state in running:
            pick_model(state)

        targets = work / "targets.toml"
        write_targets(targets, running)
        reports = work / "reports"
        out.mkdir(parents=True, exist_ok=True)
        compare_env = dict(env, **{s.key_env: s.key for s in running})
        # --no-gate: compare exits 1 whenever a target fails a check at --level, which every backend here does; that
        # is the finding, not a failure of the comparison. With --no-gate a non-zero exit means the comparison itself
        # went wrong (a usage error, a crash), and only that is reported as a failed compare.
        argv = [conformance, "compare", str(targets), "--markdown", str(out / "matrix.md"),
                "--html", str(out / "matrix.html"), "--reports", str(reports), "--no-gate"]
        if not args.no_expensive:
            # the backends are local fakes, so the expensive checks cost nothing; -n 0 keeps the run in one process,
            # so nine fakes and their proxies are not also competing with pytest-xdist workers for two cores
            argv += ["--expensive", "-n", "0"]
        compare_command = "anthropic-conformance compare targets.toml --markdown docs/backends/matrix.md " \
                          "--html docs/backends/matrix.html --reports <temp>/reports --no-gate" + \
                          ("" if args.no_expensive else " --expensive -n 0")
        say(f"running anthropic-conformance compare on {1 + len(running)} targets "
            f"(reference, {', '.join(s.backend.name for s in running) or 'no backend'})")
        started = time.monotonic()
        log = work / "logs" / "compare.log"
        ok, why = run(argv, COMPARE_TIMEOUT, compare_env, log, cwd=work)
        compare_seconds = time.monotonic() - started
        compare_exit = 0 if ok else why.split(":")[0].removeprefix("exit ")
        print(tail(log, 60))
        if not ok:
            say(f"compare: {sanitize(why)[:300]}")

        # the reports: copied only when they hold no key and no machine path
        (out / "reports").mkdir(exist_ok=True)
        secrets = [s.key for s in states if s.key] + ([upstream_state.key] if upstream_state else [])
        for report in sorted(reports.glob("*.json")) if reports.exists() else []:
            text = report.read_text(encoding="utf-8")
            leaked = [k for k in secrets if k in text]
            if leaked:
                say(f"NOT copying {report.name}: it holds a key")
                continue
            text = sanitize(text)
            (out / "reports" / report.name).write_text(text, encoding="utf-8")
            copied.append(report.name)
        for rendered in (out / "matrix.md", out / "matrix.html"):
            if rendered.exists():
                text = rendered.read_text(encoding="utf-8")
                if any(k in text for k in secrets):
                    rendered.unlink()
                    say(f"removed {rendered.name}: it held a key")
                else:
                    rendered.write_text(sanitize(text), encoding="utf-8")

        by_target = {}
        for name in copied:
            by_target[name[:-5]] = json.loads((out / "reports" / name).read_text(encoding="utf-8"))
        print()
        for state in states:
            name = state.backend.name
            versions = " ".join(f"{k} {v}" for k, v in state.versions.items())
            if state.status == "running" and name in by_target:
                summaries[name] = f"{versions}: {profile_line(by_target[name])}"
            elif state.status == "running":
                summaries[name] = f"{versions}: started, but no report (the compare run: {compare_exit})"
            else:
                summaries[name] = f"skipped: {state.reason}".replace("\n", " ")
            print(f"{name:24} {summaries[name]}")
        if "reference" in by_target:
            print(f"{'reference':24} {profile_line(by_target['reference'])}")
    finally:
        for state in states + ([upstream_state] if upstream_state else []):
            if state.proc:
                stop_process(state.proc)
        still = [s.backend.name for s in states + ([upstream_state] if upstream_state else [])
                 if s.proc and s.proc.poll() is None]
        say("stopped every server" + (f" except {still}" if still else ""))
        if out.exists():
            meta = {"date": time.strftime(DATE_FORMAT), "anthropic_conformance": conformance_version(conformance),
                    "seconds": time.monotonic() - CLOCK.start, "compare_seconds": compare_seconds,
                    "compare_exit": compare_exit, "compare_command": compare_command}
            write_outputs(out, states, upstream_state, meta, summaries, copied)
        if args.keep_temp:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(f"done: {len(copied)} reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
