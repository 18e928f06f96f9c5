"""The command line in a subprocess: the embedded demo run, a faulty target, exit codes, the report schema."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conformance.cli import DEV_KEY
from conformance.report import validate_report

CANARY = "sk-ant-canary-" + "c4n4ry" * 6
README = Path(__file__).resolve().parent.parent / "README.md"


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


@contextlib.contextmanager
def served(*args: str, env: dict | None = None):
    """`anthropic-conformance serve --port 0 ARGS` in a subprocess: yields (base URL, output), where output["stderr"]
    is filled in once the server has stopped."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    output: dict[str, str] = {}
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
        yield url, output
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        output.update(stdout=out, stderr=err)


def status_with_key(url: str, key: str) -> int:
    body = {"model": "reference-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/messages", headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                      json=body).status_code


def test_serve_prints_its_base_url_first_and_its_development_key_and_refuses_any_other():
    with served() as (url, output):
        assert status_with_key(url, DEV_KEY) == 200
        assert status_with_key(url, "any") == 401
    assert f"key: {DEV_KEY} (pass it as --api-key, or set ANTHROPIC_API_KEY)" in output["stderr"]
    assert f"run --base-url {url} --api-key {DEV_KEY}" in output["stderr"]


def test_serve_takes_its_key_from_api_key_and_never_prints_it():
    with served("--api-key", CANARY) as (url, output):
        assert status_with_key(url, CANARY) == 200
        assert status_with_key(url, DEV_KEY) == 401
    assert "given with --api-key (not printed)" in output["stderr"]
    assert CANARY not in output["stdout"] + output["stderr"] and DEV_KEY not in output["stderr"]


def test_serve_with_any_key_accepts_any_key_and_warns_that_the_auth_checks_fail():
    with served("--any-key") as (url, output):
        assert status_with_key(url, "whatever") == 200
    assert "warning: any non-empty key is accepted (--any-key)" in output["stderr"]
    assert "auth/wrong-key" in output["stderr"] and DEV_KEY not in output["stderr"]


def test_serve_refuses_a_key_and_any_key_at_once():
    proc = run_cli("serve", "--api-key", "k", "--any-key", timeout=30)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def readme_serve_and_run() -> tuple[list[str], list[str]]:
    """The README's commands for trying the fake: `serve` and the `run` against it, as argument lists."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        lines = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
        serve = [argv for argv in lines if argv[:2] == ["anthropic-conformance", "serve"]]
        run = [argv for argv in lines if argv[:2] == ["anthropic-conformance", "run"] and "--base-url" in argv]
        if serve and run:
            return serve[0], run[0]
    raise AssertionError("the README shows no block that serves the fake and runs against it")


def test_the_readme_way_to_try_the_fake_passes_with_every_profile_ready():
    serve, run = readme_serve_and_run()
    port = serve[serve.index("--port") + 1]
    documented_url = run[run.index("--base-url") + 1]
    assert documented_url == f"http://127.0.0.1:{port}" and DEV_KEY in run  # the key serve prints by default
    serve_args = serve[2:]
    serve_args[serve_args.index("--port") + 1] = "0"  # a free port instead of the documented one
    with served(*serve_args) as (url, _):
        proc = run_cli(*[url if arg == documented_url else arg for arg in run[1:]])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = proc.stdout[proc.stdout.index("anthropic-conformance 0"):]
    for profile in ("claude-code", "anthropic-python-2", "anthropic-python-1", "anthropic-typescript-1"):
        assert re.search(rf"^  {profile} +ready$", summary, re.M), summary
    assert re.search(r"^  strict +\d+ pass, 0 fail, 0 warn, 0 unsupported, \d+ skipped, 0 error", summary, re.M)


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
    assert "pass the key its start-up banner printed" in proc.stderr and proc.stderr.count("\n") == 1
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


def test_an_unknown_model_stops_the_run_early_with_exit_6_and_one_sentence(reference_server, tmp_path):
    proc = run_cli("run", "--base-url", reference_server.base_url, "--model", "claud-sonnet-typo",
                   "--report", str(tmp_path / "r.json"), env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()},
                   timeout=60)
    assert proc.returncode == 6, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert 'does not know the model "claud-sonnet-typo"' in proc.stderr
    assert "HTTP 404 not_found_error: model: claud-sonnet-typo" in proc.stderr
    assert "--model (GET /v1/models lists reference-model," in proc.stderr and "No check was run." in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert validate_report(report) == [] and report["results"] == []
    assert report["stopped"]["exit_code"] == 6 and "claud-sonnet-typo" in report["stopped"]["reason"]


def test_a_400_that_names_the_model_as_invalid_stops_the_run_too(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/unknown-model-400", "--model", "nope-1",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()}, timeout=60)
    assert proc.returncode == 6 and "HTTP 400 invalid_request_error: Invalid model name passed in model=nope-1" in (
        proc.stderr)


def test_a_target_that_answers_the_model_probe_with_another_error_still_runs(reference_server, tmp_path):
    # only-version-2026 answers the probe (anthropic-version 2023-06-01) with a 400 that is not about the model
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/only-version-2026",
                   "--model", "reference-model", "-k", "message/schema or headers", "--report", str(tmp_path / "r.json"),
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert "stopped" not in report and report["summary"]["total"] >= 5 and report["summary"]["fail"] >= 1


@pytest.fixture(scope="module")
def bearer_only_run(reference_server, tmp_path_factory):
    """A run against a layer that reads only Authorization (the seed bug): auth/x-api-key fails strict and compat."""
    folder = tmp_path_factory.mktemp("bearer-only")
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth+message-id-chatcmpl",
                   "--model", "reference-model", "--report", str(folder / "r.json"), "-k", "auth or errors or message/id",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    return proc, json.loads((folder / "r.json").read_text())


def closing_summary(stdout: str) -> list[str]:
    return stdout[stdout.rindex("\nanthropic-conformance "):].strip().splitlines()


def test_the_closing_summary_lists_every_fail_and_error_once_with_expected_and_got(bearer_only_run):
    proc, report = bearer_only_run
    assert proc.returncode == 1
    bad = [r for r in report["results"] if {"fail", "error"} & {r["verdict"], r["compat_verdict"]}]
    assert any(r["id"] == "auth/x-api-key" for r in bad) and len(bad) >= 3
    lines = closing_summary(proc.stdout)
    for result in bad:  # on its own line, or on the one line of its check's cases that say the same
        label = "ERROR" if "error" in (result["verdict"], result["compat_verdict"]) else "FAIL"
        own = re.escape(result["id"]) + "|" + re.escape(result["id"].split("[")[0]) + r"\[\d+ cases\]"
        mine = [line for line in lines if re.match(rf"  {label} +({own})[ (]", line)]
        assert len(mine) == 1, (result["id"], lines)
        assert label == "ERROR" or ("expected " in mine[0] and "  got " in mine[0])
    failing = [line for line in lines if line.startswith(("  FAIL ", "  ERROR "))]
    cases = sum(int(n) - 1 for line in failing for n in re.findall(r"\[(\d+) cases\]", line))
    assert len(failing) + cases == len(bad)
    assert lines.index(failing[-1]) < next(i for i, line in enumerate(lines) if "claude-code" in line)


def test_the_run_prints_one_set_of_counts_and_none_of_pytests_summary(bearer_only_run):
    stdout = bearer_only_run[0].stdout
    assert len(re.findall(r"^  strict .* of \d+ checks", stdout, re.M)) == 1
    assert "short test summary info" not in stdout and "FAILED" not in stdout
    assert not re.search(r"\d+ (passed|failed)", stdout)
    assert "(compat: " in stdout  # message/id only warns at compat: its counts in brackets, on the same line


def test_values_print_as_json_and_long_ones_are_cut_at_a_word_boundary(bearer_only_run):
    proc, report = bearer_only_run
    lines = closing_summary(proc.stdout)
    (message_id,) = [line for line in lines if " message/id " in line]
    assert 'got "chatcmpl-' in message_id and "'chatcmpl-" not in message_id
    cut = 0
    for result in report["results"]:
        line = next((line for line in lines if re.match(rf"  FAIL +{re.escape(result['id'])}[ (]", line)), "")
        shown = re.search(r"  expected (.*?)  got ", line)
        if not shown or not shown.group(1).endswith("…"):
            continue
        finding = next(f for f in result["findings"] if f["verdict"] == result["verdict"])
        full = (f"{finding['where']}: " if finding["where"] else "") + finding["expected"]
        prefix = shown.group(1)[:-1]
        assert full.startswith(prefix) and len(prefix) < len(full)
        assert not (prefix[-1].isalnum() and full[len(prefix)].isalnum()), (prefix, full)  # never inside a word
        cut += 1
    assert cut >= 1  # the long expected side of the count_tokens auth check is cut


def test_the_default_output_is_the_harnesss_own_a_plain_line_per_area_in_a_pipe(bearer_only_run):
    proc, report = bearer_only_run
    out = proc.stdout + proc.stderr
    assert not re.search(r"\[ *\d+%\]|^[.sFExw]{5,}", out, re.M)  # no pytest progress
    for leak in ("test_check[", "site-packages", ".py::", ".py:", "SKIPPED [", "warnings summary", "docs.pytest.org"):
        assert leak not in out, leak
    assert "\x1b" not in out and "\r" not in out  # plain: no ANSI escapes, no carriage returns
    progress = out[:out.index("\n\n")].strip().splitlines()  # then the failure blocks, then the summary
    areas = sorted({r["area"] for r in report["results"]})
    assert [line.split()[0] for line in progress] == areas  # one final line per area, in the order areas ran
    auth = next(line for line in progress if line.split()[0] == "auth")
    total = sum(r["area"] == "auth" for r in report["results"])
    fails = sum(r["area"] == "auth" and r["verdict"] == "fail" for r in report["results"])
    assert auth.split()[1] == f"{total}/{total}" and f"{fails} fail" in auth


def test_repeated_identical_findings_are_one_line(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/openai-error-shape", "--model",
                   "reference-model", "-k", "errors/envelope", env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 1
    lines = closing_summary(proc.stdout)
    (grouped,) = [line for line in lines if line.startswith("  FAIL ")]
    assert re.match(r"  FAIL  errors/envelope\[\d\d cases\]  expected \$: .* got \"type\" is a required property$",
                    grouped), grouped


def test_what_a_run_without_expensive_did_not_test_is_said(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url, "--model", "reference-model",
                   "-k", "thinking or acceptance/image or acceptance/claude-code-request or auth/x-api-key",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = closing_summary(proc.stdout)
    assert re.search(r"^  NOT TESTED  (images and thinking|thinking and images) \(\d+ expensive checks\) were not tested: "
                     r"add --expensive$", proc.stdout, re.M), lines
    (claude_code,) = [line for line in lines if line.split()[0] == "claude-code"]
    # no profile derived from the clients x faults matrix requires an expensive check today (tests/test_summary.py
    # covers the "need --expensive" wording): what was not selected is named instead
    assert re.search(r"not-covered: \d+ required checks were not selected \(-k\)", claude_code), claude_code


def test_pytests_own_report_is_one_flag_away(reference_server):
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth", "--model",
                   "reference-model", "-k", "auth/x-api-key", "--pytest-output",
                   env={"ANTHROPIC_API_KEY": reference_server.api_key.reveal()})
    assert proc.returncode == 1
    assert "short test summary info" in proc.stdout and "1 failed" in proc.stdout
    assert "  FAIL  auth/x-api-key" in proc.stdout  # and the harness's summary after it


def test_every_reproduce_line_carries_the_runs_settings_and_reproduces_the_failure(reference_server, tmp_path):
    key = reference_server.api_key.reveal()
    proc = run_cli("run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth", "--model",
                   "reference-model", "--header", f"x-team: {CANARY}", "--anthropic-version", "2026-10-21",
                   "--without", "images,thinking", "--expensive", "--level", "compat", "-k", "auth/x-api-key",
                   "--report", str(tmp_path / "r.json"), env={"ANTHROPIC_API_KEY": key})
    assert proc.returncode == 1
    (reproduce,) = [line for line in proc.stdout.splitlines() if line.startswith("  reproduce ")]
    argv = shlex.split(reproduce.removeprefix("  reproduce "))
    assert argv == ["anthropic-conformance", "run", "--base-url", reference_server.base_url + "/faults/bearer-only-auth",
                    "--model", "reference-model", "--header", "x-team:<value>", "--anthropic-version", "2026-10-21",
                    "--without", "images,thinking", "--expensive", "--level", "compat", "-k", "auth/x-api-key"]
    assert CANARY not in proc.stdout + proc.stderr + (tmp_path / "r.json").read_text() and key not in proc.stdout
    again = run_cli(*argv[1:], "--report", str(tmp_path / "again.json"), env={"ANTHROPIC_API_KEY": key})
    assert again.returncode == 1
    (result,) = json.loads((tmp_path / "again.json").read_text())["results"]
    assert (result["id"], result["verdict"]) == ("auth/x-api-key", "fail")
