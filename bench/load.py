"""Throughput of a server from a separate load-generator process on loopback: wrk, else bench.loadgen."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO, median, say
from bench.servers import Server
from conformance.sse import validate_stream

MAX_TOKENS = 32
PROMPT = "Hello"
CONCURRENCY = (1, 32)
MODES = ("json", "stream")
LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"connect\\":%d,\\"read\\":%d," ..
    "\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50_us\\":%.0f,\\"p99_us\\":%.0f,\\"mean_us\\":%.1f," ..
    "\\"max_us\\":%.0f}}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


@dataclass(frozen=True)
class Settings:
    warmup: float  # seconds of load before the timed windows, not recorded
    duration: float  # seconds of each timed window
    repetitions: int  # timed windows per (server, mode, concurrency); the medians are reported
    timeout: float = 5.0  # seconds a response may take before it counts as a timeout


def request_body(model: str, stream: bool) -> dict[str, Any]:
    """A request the real API accepts: a model, a small max_tokens, one user message."""
    body: dict[str, Any] = {"model": model, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    return body


def request_headers(key: str) -> dict[str, str]:
    """The headers an SDK 1.x client sends (x-api-key, the 2023-06-01 version, JSON)."""
    return {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def messages_url(server: Server) -> str:
    return server.base_url.rstrip("/") + "/v1/messages"


def tool() -> str:
    """`wrk` when installed (Debian's package `wrk`), else the Python fallback."""
    return "wrk" if shutil.which("wrk") else "bench.loadgen"


def tool_version() -> str:
    if not shutil.which("wrk"):
        return f"bench.loadgen (Python {sys.version.split()[0]})"
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()


def fetch(server: Server, stream: bool) -> httpx.Response:
    """One request outside the timed windows."""
    return httpx.post(messages_url(server), json=request_body(server.model, stream),
                      headers=request_headers(server.key), timeout=30.0)


def verify(server: Server) -> dict[str, Any]:
    """Check once, untimed, that the server answers the benchmark request: a 200 JSON Message, and a 200
    text/event-stream that the harness's decoder and state machine accept, ending with message_stop."""
    out: dict[str, Any] = {}
    try:
        answer = fetch(server, stream=False)
        kind = answer.headers.get("content-type", "")
        try:
            data = answer.json()
        except ValueError:
            data = None
        is_message = isinstance(data, dict) and data.get("type") == "message" and isinstance(data.get("content"), list)
        out["json"] = {"status": answer.status_code, "content_type": kind, "bytes": len(answer.content),
                       "ok": answer.status_code == 200 and kind.startswith("application/json") and is_message}
        if not out["json"]["ok"]:
            out["json"]["problem"] = answer.text[:200]
    except httpx.HTTPError as exc:
        out["json"] = {"ok": False, "problem": f"{type(exc).__name__}: {exc}"}
    try:
        answer = fetch(server, stream=True)
        kind = answer.headers.get("content-type", "")
        decoder, validator = validate_stream(answer.content)
        names = [data.get("type") for _, data in validator.events if isinstance(data, dict)]
        last = next((name for name in reversed(names) if name != "ping"), None)
        complete = answer.status_code == 200 and kind.startswith("text/event-stream") and last == "message_stop"
        out["stream"] = {"status": answer.status_code, "content_type": kind, "bytes": len(answer.content),
                         "events": len(validator.events), "last_event": last,
                         "violations": [str(v) for v in validator.violations[:5]],
                         "violation_count": len(validator.violations), "ok": complete}
        if not complete:
            out["stream"]["problem"] = (f"HTTP {answer.status_code} {kind or 'no content-type'}, last event "
                                        f"{last}: {answer.text[:160]!r}")
    except httpx.HTTPError as exc:
        out["stream"] = {"ok": False, "problem": f"{type(exc).__name__}: {exc}"}
    return out


def _parse(output: str) -> dict[str, float] | None:
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return None


def one_window(server: Server, stream: bool, connections: int, seconds: float, settings: Settings,
               work: Path) -> dict[str, Any]:
    """One load window; the generator's own figures plus rates of complete 2xx responses."""
    body = json.dumps(request_body(server.model, stream), separators=(",", ":"))
    headers = request_headers(server.key)
    if tool() == "wrk":
        script = work / f"wrk-{server.name}-{'stream' if stream else 'json'}.lua"
        lines = "\n".join(f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in headers.items())
        script.write_text(LUA.format(body=body, headers=lines), encoding="utf-8")
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={settings.timeout:.0f}s",
                "-s", str(script), messages_url(server)]
    else:
        body_file = work / "loadgen-body.json"
        body_file.write_text(body, encoding="utf-8")
        argv = [sys.executable, "-m", "bench.loadgen", "--url", messages_url(server), "--body-file", str(body_file),
                "-c", str(connections), "-d", str(seconds), "--timeout", str(settings.timeout)]
        argv += [item for name, value in headers.items() for item in ("--header", f"{name}: {value}")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + settings.timeout + 60, cwd=REPO)
    raw = _parse(out.stdout)
    if raw is None:
        return {"error": f"the load generator printed no result (exit {out.returncode}): {out.stderr.strip()[:300]}"}
    seconds_run = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status"]
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {"rate": ok / seconds_run if seconds_run else 0.0, "responses": raw["requests"], "ok": ok,
            "non_2xx": raw["status"], "socket_errors": socket_errors, "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "mean_ms": raw["mean_us"] / 1000, "seconds": seconds_run,
            "mb_per_s": raw["bytes"] / 1e6 / seconds_run if seconds_run else 0.0}


def summarise(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of a server's windows for one mode and concurrency, their error totals, and every window."""
    good = [w for w in windows if "error" not in w]
    if not good:
        return {"error": windows[0]["error"] if windows else "no window ran", "windows": windows}
    result: dict[str, Any] = {key: median([w[key] for w in good]) for key in ("rate", "p50_ms", "p99_ms", "mb_per_s")}
    result.update(non_2xx=sum(w["non_2xx"] for w in good), socket_errors=sum(w["socket_errors"] for w in good),
                  responses=sum(w["responses"] for w in good), windows=windows)
    return result


def _log(server: Server, mode: str, connections: int, window: dict[str, Any], label: str) -> None:
    if "error" in window:
        say(f"  {server.name} {mode} c={connections} {label}: {window['error']}")
    else:
        say(f"  {server.name:18} {mode:6} c={connections:<2} {label}: {window['rate']:9,.0f}/s  p50 "
            f"{window['p50_ms']:7.2f} ms  p99 {window['p99_ms']:7.2f} ms  non-2xx {window['non_2xx']}  socket "
            f"errors {window['socket_errors']}")


def measure_all(servers: list[Server], settings: Settings, work: Path) -> dict[str, dict[str, Any]]:
    """Every mode at every concurrency; the servers take turns window by window (the order rotates each
    repetition), so that a change in the machine's background load falls on all of them alike."""
    results: dict[str, dict[str, Any]] = {s.name: {mode: {} for mode in MODES} for s in servers}
    for mode in MODES:
        for connections in CONCURRENCY:
            windows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
            if settings.warmup > 0:
                for server in servers:
                    one_window(server, mode == "stream", connections, settings.warmup, settings, work)
            for repetition in range(settings.repetitions):
                turn = repetition % len(servers)
                for server in servers[turn:] + servers[:turn]:
                    window = one_window(server, mode == "stream", connections, settings.duration, settings, work)
                    windows[server.name].append(window)
                    _log(server, mode, connections, window, f"#{repetition + 1}")
            for server in servers:
                results[server.name][mode][str(connections)] = summarise(windows[server.name])
    return results


def section(settings: Settings, work: Path, fakes: Any) -> dict[str, Any]:
    """Start the reference server, the bare ceiling (answering the reference server's own recorded bytes) and each
    fake; check each answer once; load them in turns; stop them all."""
    from bench.servers import bare_server, reference_server

    servers: list[Server] = []
    try:
        reference = reference_server(work)
        servers.append(reference)
        if reference.status == "running":
            recorded = fetch(reference, stream=False).content, fetch(reference, stream=True).content
            servers.append(bare_server(work, *recorded))
        for fake in fakes.servers if fakes is not None else []:
            if fake.status != "skipped":
                fakes.start(fake)
            servers.append(fake)
        running = [s for s in servers if s.status == "running"]
        checks = {}
        for server in running:
            checks[server.name] = verify(server)
            say(f"{server.name}: JSON answer {'ok' if checks[server.name]['json'].get('ok') else 'NOT ok'}, stream "
                f"{'ok' if checks[server.name]['stream'].get('ok') else 'NOT ok'}")
        measured = measure_all(running, settings, work) if running else {}
        entries = [{**s.summary(), **({"verify": checks[s.name], "results": measured[s.name]}
                                      if s.name in measured else {})} for s in servers]
    finally:
        for server in servers:
            server.stop()
    return {"tool": tool_version(), "warmup_s": settings.warmup, "duration_s": settings.duration,
            "repetitions": settings.repetitions, "concurrency": list(CONCURRENCY),
            "request": {"body": request_body("MODEL", False), "stream_body": request_body("MODEL", True),
                        "headers": {**request_headers("KEY"), "x-api-key": "<a dummy key>"}},
            "servers": entries}
