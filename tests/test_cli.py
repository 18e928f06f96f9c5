"""The command line in a subprocess: the embedded demo run, a faulty target, exit codes, the report schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conformance.report import validate_report

CANARY = "sk-ant-canary-" + "c4n4ry" * 6


def run_cli(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    proc = run_cli("run", "--report", str(folder / "r.json"), "--junit", str(folder / "j.xml"))
    return proc, json.loads((folder / "r.json").read_text()), (folder / "j.xml").read_text()


def test_the_embedded_run_exits_0_with_every_check_passing(embedded_run):
    proc, report, _ = embedded_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert report["summary"]["fail"] == 0 and report["summary"]["error"] == 0
    distinct = {r["id"].split("[")[0] for r in report["results"]}
    assert len(distinct) >= 25
    assert report["target"]["embedded"] is True


def test_the_report_validates_against_its_published_schema(embedded_run):
    assert validate_report(embedded_run[1]) == []


def test_the_summary_is_printed(embedded_run):
    assert "pass" in embedded_run[0].stdout and "checks" in embedded_run[0].stdout


def test_a_target_that_rejects_x_api_key_exits_1_and_says_why(reference_server, tmp_path):
    report_path = tmp_path / "r.json"
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth",
                   "--model", "reference-model", "--report", str(report_path),
                   "-k", "auth or errors", env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 1
    report = json.loads(report_path.read_text())
    verdicts = {r["id"]: r["verdict"] for r in report["results"]}
    assert verdicts["auth/x-api-key"] == "fail" and verdicts["auth/bearer"] == "pass"
    assert verdicts["errors/envelope[auth-missing]"] == "fail"
    assert "AUTH-X-API-KEY" in proc.stdout


def test_an_unreachable_target_exits_3_with_one_sentence():
    proc = run_cli("run", "--base-url", "http://127.0.0.1:9", "--api-key", "k", timeout=60)
    assert proc.returncode == 3
    assert "cannot be reached" in proc.stderr


def test_a_selection_that_matches_nothing_exits_4():
    proc = run_cli("run", "-k", "no-such-check-anywhere")
    assert proc.returncode == 4


def test_a_real_target_without_a_key_is_a_usage_error():
    proc = run_cli("run", "--base-url", "http://127.0.0.1:9")
    assert proc.returncode == 2 and "API key" in proc.stderr


def test_the_key_never_appears_in_any_output(reference_server, tmp_path):
    # The server takes any key under auth-not-enforced, so the canary travels on every request; the OpenAI-shaped
    # errors make checks fail and echo their requests and responses.
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/auth-not-enforced+openai-error-shape",
                   "--api-key", CANARY,
                   "--model", "reference-model", "--report", str(tmp_path / "r.json"),
                   "--junit", str(tmp_path / "j.xml"), "-k", "auth or errors or message")
    assert proc.returncode == 1
    for text in (proc.stdout, proc.stderr, (tmp_path / "r.json").read_text(), (tmp_path / "j.xml").read_text()):
        assert CANARY not in text


def test_checks_lists_every_check_with_rule_and_tier():
    proc = run_cli("checks")
    assert proc.returncode == 0
    assert "streaming/message-stop-last" in proc.stdout and "STREAM-STOP-LAST" in proc.stdout


def test_serve_prints_its_base_url_first_and_answers_on_loopback():
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        body = {"model": "reference-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(url + "/v1/messages", headers={"x-api-key": "any", "anthropic-version": "2023-06-01"},
                              json=body)
        assert response.status_code == 200 and response.json()["type"] == "message"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_declared_missing_features_are_unsupported_not_failed(reference_server, tmp_path):
    report_path = tmp_path / "r.json"
    proc = run_cli("run", "--base-url", reference_server.base_url, "--model", "reference-model", "--expensive",
                   "--without", "thinking,images", "--report", str(report_path), "-k", "thinking/ or image-base64",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 0, proc.stdout[-2000:]
    results = json.loads(report_path.read_text())["results"]
    assert results and all(r["verdict"] == "unsupported" and r["reason"].startswith("unsupported: ") for r in results)


def test_an_unknown_feature_is_a_usage_error():
    proc = run_cli("run", "--without", "teleportation")
    assert proc.returncode == 2 and "teleportation" in proc.stderr


@pytest.mark.parametrize(("level", "code"), [("strict", 1), ("compat", 0)])
def test_the_level_picks_which_verdicts_set_the_exit_code(reference_server, tmp_path, level, code):
    report_path = tmp_path / "r.json"
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/message-id-chatcmpl",
                   "--model", "reference-model", "--level", level, "--report", str(report_path), "-k", "message/id",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == code
    (result,) = json.loads(report_path.read_text())["results"]
    assert (result["verdict"], result["compat_verdict"]) == ("fail", "warn")


def test_profiles_are_printed_first_and_stored_in_the_report(embedded_run):
    proc, report, _ = embedded_run
    assert set(report["profiles"]) == {"claude-code", "anthropic-python-2", "anthropic-python-1",
                                       "anthropic-typescript-1"}
    assert all(p["status"] == "ready" for p in report["profiles"].values())
    summary = proc.stdout[proc.stdout.index("anthropic-conformance "):]
    assert summary.index("claude-code") < summary.index("strict ")


def test_a_failing_required_check_makes_its_profile_not_ready(reference_server, tmp_path):
    report_path = tmp_path / "r.json"
    run_cli("run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth", "--model", "reference-model",
            "--report", str(report_path), env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    profiles = json.loads(report_path.read_text())["profiles"]
    assert profiles["claude-code"]["status"] == "not-ready" and "auth/x-api-key" in profiles["claude-code"]["failing"]
    assert profiles["anthropic-python-2"]["status"] == "ready"


def test_a_key_rejected_on_every_request_stops_the_run_early_with_one_sentence(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url, "--api-key", "sk-ant-not-the-key", timeout=60)
    assert proc.returncode == 5
    assert "rejected the API key on every request" in proc.stderr and "No check was run" in proc.stderr
    assert proc.stdout == ""


def test_a_target_that_lists_no_model_without_model_is_a_usage_error(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/models-missing",
                   "--api-key", reference_server.api_key.reveal(), timeout=60)
    assert proc.returncode == 2
    assert "no model to test" in proc.stderr and "--model" in proc.stderr


def test_saved_transcripts_are_normalised_and_hold_no_key(reference_server, tmp_path):
    folder = tmp_path / "transcripts"
    proc = run_cli("run", "--base-url", reference_server.base_url, "--model", "reference-model",
                   "--save-transcripts", str(folder), "-k", "message/schema or streaming/named-events",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 0
    files = {p.name: p.read_text() for p in folder.glob("*.json")}
    assert {"text.json", "text-stream.json"} <= set(files)
    text = json.loads(files["text.json"])
    assert text["response"]["body"]["id"] == "<id:msg_>" and text["response"]["body"]["type"] == "message"
    assert all(reference_server.api_key.reveal() not in content for content in files.values())
