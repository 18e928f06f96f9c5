#!/usr/bin/env python3
"""Run real gateways between anthropic-conformance and its recording upstream (`anthropic-conformance gateway`).

    python examples/gateway_backends.py --out docs/backends/gateway-reports [--only litellm-translate,ant2oai] [--all]

For each gateway: install it by name from PyPI into its own throwaway virtualenv (as compare_backends.py does, whose
backend definitions and helpers this reuses), pick a free port for the upstream, start the gateway configured with
the upstream's base URL http://127.0.0.1:UPSTREAM (the gateway command prints it and starts the upstream there), run

    anthropic-conformance gateway --gateway-url GATEWAY --upstream-port UPSTREAM -k gateway --report OUT/NAME.json

and stop the gateway. `--all` runs the whole suite through the gateway, not only the gateway/* area. Every step is
bounded in time (RUN_TIMEOUT per gateway run); a gateway that fails to install or start is skipped with its reason.

LiteLLM is run once and tested on three routes: its Anthropic pass-through `/anthropic` (forwards to
ANTHROPIC_API_BASE), its `/v1/messages` with an `anthropic/` model (LiteLLM's Anthropic provider), and its
`/v1/messages` with an `openai/` model (translated to Chat Completions).

This is an example, not a test: it needs the package registries. Only the standard library is used; run it with the
Python that has anthropic-conformance installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_backends import (  # noqa: E402  (a sibling example)
    BACKENDS,
    OFFLINE,
    Installer,
    State,
    conformance_command,
    find_python,
    free_port,
    http_get,
    say,
    stop_process,
)

RUN_TIMEOUT = 600  # one `anthropic-conformance gateway` run, including its --wait
START_TIMEOUT = 90  # until a started gateway answers HTTP
KEY = "sk-dummy-gateway-not-a-secret"  # the key the client sends (LiteLLM's master key); opens nothing
UPSTREAM_KEY = "dummy-upstream-key"


def litellm_config(upstream: str, chat_completions: bool = True) -> str:
    """LiteLLM proxy config: a translating model and two Anthropic-provider models, all to the harness's upstream.
    LiteLLM sends /v1/messages for an openai/ model to the OpenAI Responses API (/v1/responses) unless
    use_chat_completions_url_for_anthropic_messages is set (litellm/llms/anthropic/messages/native/handler.py)."""
    settings = "litellm_settings:\n  use_chat_completions_url_for_anthropic_messages: true\n" if chat_completions else ""
    return settings + textwrap.dedent(f"""\
        model_list:
          - model_name: gpt-translated
            litellm_params:
              model: openai/gpt-4o-mini
              api_base: {upstream}/v1
              api_key: {UPSTREAM_KEY}
          - model_name: claude-sonnet-4-5
            litellm_params:
              model: anthropic/claude-sonnet-4-5
              api_base: {upstream}
              api_key: {UPSTREAM_KEY}
          - model_name: claude-opus-4-8
            litellm_params:
              model: anthropic/claude-opus-4-8
              api_base: {upstream}
              api_key: {UPSTREAM_KEY}
        general_settings:
          master_key: {KEY}
        """)


@dataclass
class Route:
    name: str  # the row in the doc
    backend: str  # compare_backends' Backend name (what is installed)
    path: str  # the gateway URL is http://127.0.0.1:PORT + path
    model: str  # --model
    command: Callable[[Path, int, str], list[str]]  # (venv, port, upstream base URL) -> argv
    prepare: Callable[[Path, int, str], dict[str, str]] | None = None  # (home, port, upstream) -> environment


def _litellm(venv: Path, port: int, upstream: str) -> list[str]:
    return [str(venv / "bin" / "litellm"), "--config", "litellm.yaml", "--host", "127.0.0.1", "--port", str(port),
            "--telemetry", "False"]


def _litellm_prepare(home: Path, port: int, upstream: str, chat_completions: bool = True) -> dict[str, str]:
    (home / "litellm.yaml").write_text(litellm_config(upstream, chat_completions), encoding="utf-8")
    return {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True",
            "ANTHROPIC_API_BASE": upstream, "ANTHROPIC_API_KEY": UPSTREAM_KEY}


def _oa2a_prepare(home: Path, port: int, upstream: str) -> dict[str, str]:
    (home / ".oa2a").mkdir(parents=True, exist_ok=True)
    (home / ".oa2a" / "config.toml").write_text(textwrap.dedent(f"""\
        openai_api_key = "{UPSTREAM_KEY}"
        openai_base_url = "{upstream}/v1"
        host = "127.0.0.1"
        port = {port}
        api_key = "{KEY}"
        log_level = "WARNING"
        log_dir = "{home / 'logs'}"
        """), encoding="utf-8")
    return {}


ROUTES = [
    Route("litellm-passthrough", "litellm", "/anthropic", "claude-sonnet-4-5", _litellm, _litellm_prepare),
    Route("litellm-anthropic", "litellm", "", "claude-sonnet-4-5", _litellm, _litellm_prepare),
    # Opus 4.8 answers signature-only thinking blocks by default (BerriAI/litellm#41361 reports them dropped)
    Route("litellm-anthropic-opus", "litellm", "", "claude-opus-4-8", _litellm, _litellm_prepare),
    Route("litellm-translate", "litellm", "", "gpt-translated", _litellm, _litellm_prepare),
    Route("litellm-responses", "litellm", "", "gpt-translated", _litellm,
          lambda h, p, u: _litellm_prepare(h, p, u, chat_completions=False)),
    Route("ant2oai", "ant2oai", "", "claude-sonnet-4-5",
          lambda v, p, u: [str(v / "bin" / "ant2oai"), "--upstream", f"{u}/v1/chat/completions", "--model",
                           "gpt-4o-mini", "--host", "127.0.0.1", "--port", str(p)]),
    Route("padwan-proxy", "padwan-proxy", "", "claude-sonnet-4-5",
          lambda v, p, u: [str(v / "bin" / "padwan-proxy"), "-m", "gpt-4o-mini", "--backend-url", f"{u}/v1",
                           "--host", "127.0.0.1", "-p", str(p)],
          lambda h, p, u: {"PADWAN_API_KEY": UPSTREAM_KEY}),
    Route("local-openai2anthropic", "local-openai2anthropic", "", "claude-sonnet-4-5",
          lambda v, p, u: [str(v / "bin" / "oa2a")], _oa2a_prepare),
]


def start_gateway(route: Route, venv: Path, home: Path, log: Path, upstream: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, HOME=str(home), PYTHONUNBUFFERED="1", NO_COLOR="1", **OFFLINE)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    if route.prepare:
        env.update(route.prepare(home, port, upstream))
    argv = route.command(venv, port, upstream)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n--- start: {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=home, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if http_get(f"http://127.0.0.1:{port}/", timeout=2)[0]:
            return proc, port
        time.sleep(0.5)
    stop_process(proc)
    raise RuntimeError(f"{route.backend} did not answer HTTP within {START_TIMEOUT}s (exit {proc.poll()})")


def run_route(route: Route, state: State, command: str, out: Path, everything: bool) -> dict:
    assert state.venv and state.home and state.log
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    row = {"route": route.name, "backend": route.backend, "versions": state.versions, "path": route.path or "/",
           "model": route.model}
    try:
        proc, port = start_gateway(route, state.venv, state.home, state.log, upstream)
    except (OSError, RuntimeError) as exc:
        return {**row, "skipped": str(exc)}
    report = out / f"{route.name}.json"
    argv = [command, "gateway", "--gateway-url", f"http://127.0.0.1:{port}{route.path}", "--upstream-port",
            str(upstream_port), "--api-key", KEY, "--model", route.model, "--wait", "60", "--report", str(report),
            "--timeout", "60", "--check-timeout", "120"]
    if not everything:
        argv += ["-k", "gateway"]
    say(f"{route.name}: {' '.join(argv[1:])}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        code, said = done.returncode, (done.stderr or "").strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        code, said = None, [f"timed out after {RUN_TIMEOUT}s"]
    finally:
        stop_process(proc)
    row.update(exit=code, said=said)
    if report.exists():
        results = json.loads(report.read_text(encoding="utf-8"))["results"]
        row["verdicts"] = {r["id"]: r["verdict"] for r in results if r["id"].startswith("gateway/")}
    say(f"{route.name}: exit {code}; " + ", ".join(f"{v} {n}" for v, n in count(row.get("verdicts", {})).items()))
    return row


def count(verdicts: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for verdict in verdicts.values():
        out[verdict] = out.get(verdict, 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the reports and summary.json")
    parser.add_argument("--only", help="comma-separated route names (default: all)")
    parser.add_argument("--all", action="store_true", help="run the whole suite through each gateway, not only -k gateway")
    parser.add_argument("--venvs", type=Path, help="keep the virtualenvs here (reused when present)")
    args = parser.parse_args(argv)
    command = conformance_command(None)
    if not command:
        print("anthropic-conformance is not installed next to this Python nor on PATH", file=sys.stderr)
        return 2
    routes = [r for r in ROUTES if not args.only or r.name in args.only.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gateway-backends-"))
    venvs = args.venvs or work / "venvs"
    installer = Installer(work, dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    states: dict[str, State] = {}
    rows = []
    for route in routes:
        if route.backend not in states:
            backend = next(b for b in BACKENDS if b.name == route.backend)
            state = states[route.backend] = State(backend)
            state.venv, state.home = venvs / backend.name, work / "homes" / backend.name
            state.log = work / "logs" / f"{backend.name}.log"
            state.home.mkdir(parents=True, exist_ok=True)
            state.log.parent.mkdir(parents=True, exist_ok=True)
            if not (state.venv / "bin" / "python").exists():
                if installer.uv is None:
                    installer.bootstrap()
                python = find_python(backend.python)
                ok, why = installer.install(state, python) if python else (False, "no suitable Python")
                if not ok:
                    state.skip(why)
            for package in backend.packages:
                got = subprocess.run([str(state.venv / "bin" / "python"), "-c",
                                      f"import importlib.metadata as m; print(m.version({package!r}))"],
                                     capture_output=True, text=True, timeout=30)
                state.versions[package] = got.stdout.strip() if got.returncode == 0 else "?"
        state = states[route.backend]
        if state.status == "skipped":
            rows.append({"route": route.name, "backend": route.backend, "skipped": state.reason})
            continue
        rows.append(run_route(route, state, command, args.out, args.all))
    (args.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
