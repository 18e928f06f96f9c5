"""The whole suite against hostile targets (tests/hostile.py): bounded time and memory, a report, honest verdicts, no key."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import MODES, HostileServer

from conformance.report import validate_report

CANARY = "sk-ant-canary-" + "h0st1le" * 5
LIMITS = ("--timeout", "2", "--read-timeout", "1", "--connect-timeout", "2", "--check-timeout", "20")
WALL = 150  # seconds a whole run may take against any of them; the harness's own limits are far below
MAX_RSS_MB = 500  # the harness process at its peak; a 200 MB body or a 512 MB gzip bomb must not get near it

# What a run against each mode must say, in some check's reason or message (case-insensitive).
SAYS = {
    "silent": "timed out",
    "drip": "total time limit",
    "endless": "total time limit",
    "huge": "exceeded",
    "bad-utf8": "utf-8",
    "non-json-data": "json",
    "html": "text/html",
    "reset": "connection reset",
    "close-before-headers": "disconnected",
    "redirect": "307",
    "gzip-bomb": "exceeded",
    "long-line": "text",
    "reset-in-head": "connection reset",
}


@dataclass
class Outcome:
    mode: str
    code: int
    seconds: float
    max_rss_mb: float
    stdout: str
    stderr: str
    report: dict | None
    junit: str


def run_against(url: str, folder: Path, *extra: str, key: str = CANARY, model: str = "hostile-model") -> Outcome:
    """`anthropic-conformance run` in a child process, timed, with its peak memory (getrusage of that child)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    out, err = folder / "stdout", folder / "stderr"
    args = [sys.executable, "-m", "conformance", "run", "--base-url", url, "--api-key", key, "--model",
            model, *LIMITS, "--report", str(folder / "r.json"), "--junit", str(folder / "j.xml"), *extra]
    started = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env)
        killer = threading.Timer(WALL, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    report_path = folder / "r.json"
    junit_path = folder / "j.xml"
    return Outcome(folder.name, proc.returncode, time.monotonic() - started, usage.ru_maxrss / 1024,
                   out.read_text(errors="replace"), err.read_text(errors="replace"),
                   json.loads(report_path.read_text()) if report_path.exists() else None,
                   junit_path.read_text(errors="replace") if junit_path.exists() else "")


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def outcomes(hostile, tmp_path_factory) -> dict[str, Outcome]:
    """One run per mode, four at a time (most of a run is waiting on a limit)."""
    folder = tmp_path_factory.mktemp("hostile")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = {mode: pool.submit(run_against, hostile.base_url(mode), folder / mode) for mode in MODES}
        return {mode: future.result() for mode, future in futures.items()}


def _said(outcome: Outcome) -> str:
    report = outcome.report or {}
    return " ".join(r["reason"] + " " + r["message"] for r in report.get("results", [])).lower()


@pytest.mark.parametrize("mode", MODES)
def test_a_run_against_a_hostile_target_ends_in_bounded_time_with_a_report(outcomes, mode):
    outcome = outcomes[mode]
    assert outcome.seconds < WALL, f"{mode}: the run was killed after {WALL} s"
    assert outcome.code == 1, f"{mode}: exit {outcome.code}\n{outcome.stdout[-2000:]}\n{outcome.stderr[-2000:]}"
    assert outcome.report is not None and validate_report(outcome.report) == []
    assert outcome.junit.startswith("<?xml")
    summary = outcome.report["summary"]
    assert summary["fail"] + summary["error"] > 0
    assert summary["total"] == len(outcome.report["results"]) >= 150


@pytest.mark.parametrize("mode", MODES)
def test_every_verdict_says_what_the_hostile_target_did(outcomes, mode):
    outcome = outcomes[mode]
    assert SAYS[mode] in _said(outcome), f"{mode}: no check says {SAYS[mode]!r}"
    harness_bugs = [r["id"] + ": " + r["reason"] for r in outcome.report["results"] if "harness error" in r["reason"]]
    assert not harness_bugs, f"{mode}: the harness itself broke:\n" + "\n".join(harness_bugs[:10])
    written = json.dumps(outcome.report)
    assert sys.base_prefix not in written and sys.prefix not in written  # no folder of this machine in a report


@pytest.mark.parametrize("mode", MODES)
def test_memory_stays_bounded_against_a_hostile_target(outcomes, mode):
    assert outcomes[mode].max_rss_mb < MAX_RSS_MB, f"{mode}: peak RSS {outcomes[mode].max_rss_mb:.0f} MB"


@pytest.mark.parametrize("mode", MODES)
def test_the_key_appears_in_no_output_of_a_run_against_a_hostile_target(outcomes, mode):
    outcome = outcomes[mode]
    for text in (outcome.stdout, outcome.stderr, json.dumps(outcome.report), outcome.junit):
        assert CANARY not in text


def test_a_target_that_stops_answering_costs_a_few_timeouts_not_one_per_check(outcomes):
    report = outcomes["silent"].report
    reasons = [r["reason"] for r in report["results"] if r["verdict"] == "error"]
    waited = [reason for reason in reasons if "stopped sending" not in reason]
    assert 1 <= sum("timed out" in reason for reason in waited) <= 6  # the checks whose requests really timed out
    assert len(waited) < len(reasons) / 4  # every other check was not sent
    assert "stopped sending" in outcomes["silent"].stdout


def test_a_redirect_never_takes_the_key_to_another_host(outcomes, hostile):
    assert outcomes["redirect"].report is not None
    assert hostile.recorder.requests == [], "a request (and its key) reached the host the target redirected to"


@pytest.mark.parametrize("mode", ["silent", "close-before-headers", "drip"])
def test_a_target_that_never_answers_at_all_stops_the_run_early_with_exit_3_and_a_report(hostile, tmp_path, mode):
    outcome = run_against(hostile.base_url(mode + "+all"), tmp_path / mode)
    assert outcome.code == 3, outcome.stderr
    assert outcome.seconds < 30
    assert "cannot be reached" in outcome.stderr and outcome.stderr.count("\n") <= 2
    assert outcome.report is not None and validate_report(outcome.report) == []
    assert outcome.report["stopped"]["exit_code"] == 3
    assert CANARY not in outcome.stderr + outcome.stdout + json.dumps(outcome.report)


# -- relayed: one misbehaviour in front of the reference server, so everything else is judged as usual -----------

# run name -> (mode, extra options). Each rate-limited run has a limit of its own (its own windows in the relay).
RELAYED_RUNS = {
    "close-after-error": ("close-after-error", ()),
    "rate-limited": ("rate-limit-15", ()),
    "rate-limited-paced": ("rate-limit-16", ("--max-rps", "12")),
    "always-busy": ("rate-limit-0", ("--max-backoff", "3")),
}


@pytest.fixture(scope="module")
def relay(reference_server):
    with HostileServer(upstream=reference_server.base_url) as server:
        yield server


@pytest.fixture(scope="module")
def relayed(relay, reference_server, tmp_path_factory) -> dict[str, Outcome]:
    """One whole run per relayed case, all at once (the rate-limited ones are mostly waiting)."""
    folder = tmp_path_factory.mktemp("relayed")
    key = reference_server.api_key.reveal()
    with concurrent.futures.ThreadPoolExecutor(len(RELAYED_RUNS)) as pool:
        futures = {name: pool.submit(run_against, relay.base_url(mode), folder / name, *extra, key=key,
                                     model="reference-model")
                   for name, (mode, extra) in RELAYED_RUNS.items()}
        return {name: future.result() for name, future in futures.items()}


def _errors(outcome: Outcome) -> list[str]:
    return [f"{r['id']}: {r['reason']}" for r in outcome.report["results"] if r["verdict"] == "error"]


def test_a_target_that_drops_kept_alive_connections_after_errors_costs_reconnects_not_errors(relayed, relay):
    outcome = relayed["close-after-error"]
    assert outcome.report is not None and validate_report(outcome.report) == []
    assert _errors(outcome) == [] and outcome.code == 0, outcome.stdout[-2000:]
    reconnects = outcome.report["waited"]["reconnects"]
    assert 0 < reconnects <= relay.dropped  # the target dropped connections under requests; each was sent again
    assert f"sent {reconnects} requests again after the target dropped a kept-alive connection" in outcome.stdout


@pytest.mark.parametrize("name", ["rate-limited", "rate-limited-paced"])
def test_a_rate_limited_target_completes_with_no_error_and_the_report_says_how_long_it_waited(relayed, name):
    outcome = relayed[name]
    assert outcome.report is not None and validate_report(outcome.report) == []
    assert _errors(outcome) == [] and outcome.code == 0, "\n".join(_errors(outcome)[:10]) + outcome.stdout[-1500:]
    waited = outcome.report["waited"]
    assert waited["seconds"] > 0
    assert f"waited {waited['seconds']:.1f} s for the target's rate limit" in outcome.stdout
    if name == "rate-limited":  # unpaced: it ran into the limit, and waited for it
        assert waited["rate_limited"] > 0 and waited["backoff_seconds"] > 0
    else:  # paced under the limit: it never ran into it
        assert outcome.report["limits"]["max_rps"] == 12 and waited["rate_limited"] == 0


def test_a_target_that_always_answers_429_ends_in_bounded_time_with_errors_saying_so(relayed):
    outcome = relayed["always-busy"]
    assert outcome.code == 1 and outcome.seconds < 60
    assert outcome.report is not None and validate_report(outcome.report) == []
    summary, waited = outcome.report["summary"], outcome.report["waited"]
    assert summary["fail"] == 0 and summary["error"] > 100  # never judged, the SDK checks included
    assert waited["rate_limited"] > 0 and waited["backoff_seconds"] <= 3 + 1
    reasons = _errors(outcome)
    other = [r for r in reasons if not ("answered HTTP 429" in r or "no bad-request probe" in r)]
    assert not other, other
    assert any("back-off budget of 3 s" in reason for reason in reasons)
    assert any(reason.startswith("sdk/") and "HTTP 429" in reason for reason in reasons)


def test_the_pacing_is_shared_by_the_pytest_xdist_workers_of_a_plain_pytest_run(relay, reference_server, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")},
           "ANTHROPIC_CONFORMANCE_API_KEY": reference_server.api_key.reveal()}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", "--pyargs", "conformance.suites",
         "--conformance-base-url", relay.base_url("rate-limit-10+xdist"), "--conformance-model", "reference-model",
         "--conformance-max-rps", "8", "--conformance-report", str(tmp_path / "r.json"), "-k", "auth or models"],
        capture_output=True, text=True, timeout=WALL, cwd=tmp_path, env=env)
    report = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == 0, proc.stdout[-2000:]
    # two workers at 8 a second each would pass 10 a second; sharing 8 between them, no request met the limit
    assert report["limits"]["max_rps"] == 8 and report["summary"]["error"] == 0
    assert report["waited"]["rate_limited"] == 0 and report["waited"]["seconds"] > 0


def test_a_targets_file_paces_its_target_with_max_rps(relay, reference_server, tmp_path):
    (tmp_path / "targets.toml").write_text(
        f'[targets.limited]\nbase_url = "{relay.base_url("rate-limit-6+compare")}"\napi_key_env = "K"\n'
        'model = "reference-model"\nmax_rps = 5\n')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")},
           "K": reference_server.api_key.reveal()}
    proc = subprocess.run([sys.executable, "-m", "conformance", "compare", "targets.toml", "-k", "auth"],
                          capture_output=True, text=True, timeout=WALL, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "conformance-reports" / "limited.json").read_text())
    assert report["limits"]["max_rps"] == 5 and report["summary"]["error"] == 0
    assert report["waited"]["rate_limited"] == 0 and report["waited"]["seconds"] > 0
