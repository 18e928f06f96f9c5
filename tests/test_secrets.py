"""A canary key through every front end (run, compare, report, diff, plain pytest with debug logs, serve), against targets
that echo it back in their bodies and headers and checks that fail and quote their requests: it appears nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hostile import HostileServer

CANARY = "sk-ant-canary-" + "s3cr3t" * 6
HEADER_CANARY = "gw-canary-" + "t0k3n" * 6  # a gateway credential passed as an extra header
SERVER_CANARY = "sk-ant-server-canary-" + "x9" * 12
WRONG_CANARY = "sk-ant-wrong-canary-" + "y8" * 12


def cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 240):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=cwd)


def assert_nowhere(texts: dict[str, str], *secrets: str) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a credential leaked into {where}"


def files_under(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def echo():
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def targets(echo, reference_server):
    """Targets that take the canary and say it back: every header repeated in the body and a header (echo), and the
    reference server taking any key while answering in OpenAI's error shape, so checks fail and quote requests."""
    return {"echo": echo.base_url("echo"),
            "leaky": reference_server.base_url + "/faults/auth-not-enforced+openai-error-shape"}


@pytest.mark.parametrize("which", ["echo", "leaky"])
def test_run_writes_the_key_into_no_output(targets, tmp_path, which):
    out = tmp_path / "out"
    out.mkdir()
    proc = cli("run", "--base-url", targets[which], "--api-key", CANARY, "--model", "reference-model",
               "--header", f"x-gateway-key: {HEADER_CANARY}", "-v",
               "--report", str(out / "r.json"), "--junit", str(out / "j.xml"), "--markdown", str(out / "r.md"),
               "--html", str(out / "r.html"), "--save-transcripts", str(out / "transcripts"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    written = files_under(out)
    assert {"r.json", "j.xml", "r.md", "r.html"} <= set(written) and any(k.startswith("transcripts") for k in written)
    assert "FAIL" in proc.stdout  # failing checks printed their evidence
    assert_nowhere({"stdout": proc.stdout, "stderr": proc.stderr, **written}, CANARY, HEADER_CANARY)


def test_the_echoing_target_really_sends_the_key_back(echo):
    answer = httpx.post(echo.base_url("echo") + "/v1/messages", headers={"x-api-key": CANARY}, json={})
    assert CANARY in answer.text and CANARY in answer.headers["x-echo"]  # so the tests above do test redaction


def test_compare_report_and_diff_write_the_key_into_no_output(targets, tmp_path):
    (tmp_path / "targets.toml").write_text(
        f'[targets.echo]\nbase_url = "{targets["echo"]}"\napi_key_env = "CANARY_KEY"\nmodel = "reference-model"\n'
        f'headers = {{ "x-gateway-key" = "{HEADER_CANARY}" }}\n\n'
        f'[targets.leaky]\nbase_url = "{targets["leaky"]}"\napi_key_env = "CANARY_KEY"\nmodel = "reference-model"\n',
        encoding="utf-8")
    proc = cli("compare", "targets.toml", "--markdown", "m.md", "--html", "m.html", "--reports", "reports", "-n", "0",
               env={"CANARY_KEY": CANARY}, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]  # both targets fail checks: compare's gate
    rendered = cli("report", "reports/echo.json", "reports/leaky.json", "--markdown", "again.md", cwd=tmp_path)
    diffed = cli("diff", "reports/leaky.json", "reports/echo.json", cwd=tmp_path)
    assert rendered.returncode == 0 and diffed.returncode == 1
    written = {k: v for k, v in files_under(tmp_path).items() if k != "targets.toml"}
    assert {"m.md", "m.html", "again.md", "reports/echo.json", "reports/leaky.json"} <= set(written)
    outputs = {"compare": proc.stdout + proc.stderr, "report": rendered.stdout + rendered.stderr,
               "diff": diffed.stdout + diffed.stderr}
    assert_nowhere({**outputs, **written}, CANARY, HEADER_CANARY)


def test_plain_pytest_with_debug_logs_and_locals_writes_the_key_into_no_output(targets, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["ANTHROPIC_LOG"] = "debug"  # the SDK's own request logging, at its most talkative
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suites", "-p", "no:cacheprovider",
         "--conformance-base-url", targets["echo"], "--conformance-api-key", CANARY, "--conformance-model",
         "reference-model", "--conformance-header", f"x-gateway-key: {HEADER_CANARY}",
         "--conformance-report", str(tmp_path / "r.json"), "--junitxml", str(tmp_path / "j.xml"),
         "-k", "sdk or auth or errors/envelope or message/schema", "-l", "--tb=long", "-rA",
         "-o", "log_cli=true", "--log-cli-level=DEBUG", "--log-level=DEBUG",
         "--log-file", str(tmp_path / "debug.log"), "--log-file-level=DEBUG"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    written = files_under(tmp_path)
    assert "HTTP Request" in written["debug.log"]  # the clients' debug logs really were captured
    assert_nowhere({"stdout": proc.stdout, "stderr": proc.stderr, **written}, CANARY, HEADER_CANARY)


def test_the_reference_server_logs_no_key_it_is_given_or_refuses(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["ANTHROPIC_CONFORMANCE_SERVER_KEY"] = SERVER_CANARY
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = proc.stdout.readline().strip()
        body = {"model": "reference-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        good = {"x-api-key": SERVER_CANARY, "anthropic-version": "2023-06-01"}
        answers = [httpx.post(base + "/v1/messages", headers=good, json=body),
                   httpx.post(base + "/v1/messages", headers={**good, "x-api-key": WRONG_CANARY}, json=body),
                   httpx.post(base + "/v1/messages", headers={"authorization": f"Bearer {WRONG_CANARY}",
                                                              "anthropic-version": "2023-06-01"}, json=body),
                   httpx.post(base + "/v1/messages", headers=good, content=b"{not json " + WRONG_CANARY.encode())]
        assert [a.status_code for a in answers] == [200, 401, 401, 400]
        for answer in answers:
            assert_nowhere({"body": answer.text, "headers": json.dumps(dict(answer.headers))}, SERVER_CANARY,
                           WRONG_CANARY)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert_nowhere({"stdout": out, "stderr": err}, SERVER_CANARY, WRONG_CANARY)


def test_a_targets_file_that_holds_a_key_is_refused(tmp_path):
    (tmp_path / "t.toml").write_text(f'[targets.x]\nbase_url = "http://127.0.0.1:9"\napi_key = "{CANARY}"\n')
    proc = cli("compare", str(tmp_path / "t.toml"))
    assert proc.returncode == 2 and "api_key_env" in proc.stderr
    assert CANARY not in proc.stdout + proc.stderr
