"""compare over a targets file, deviations as strict expected failures, and the targets file's own errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conformance.report import validate_report
from conformance.targets import TargetsError, load_targets


def cli(*args: str, env: dict | None = None, cwd=None, timeout: float = 240) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=cwd)


def test_a_targets_file_never_holds_a_key(tmp_path):
    (tmp_path / "t.toml").write_text('[targets.x]\nbase_url = "http://127.0.0.1:1"\napi_key = "sk-ant-secret"\n')
    with pytest.raises(TargetsError, match="api_key_env"):
        load_targets(tmp_path / "t.toml", environ={})


@pytest.mark.parametrize(("body", "message"), [
    ('[targets.x]\nbase_url = "http://127.0.0.1:1"\n', "needs api_key_env"),
    ('[targets.x]\nbase_url = "http://127.0.0.1:1"\napi_key_env = "NOPE"\n', "$NOPE is not set"),
    ('[targets.x]\nflavour = 1\n', "[targets.x] has unknown key flavour"),
    ('[targets.x]\nwithout = ["teleportation"]\n', '[targets.x] without: "teleportation" is not one of images,'),
    ("", "no [targets.<name>] tables"),
    ("[targets.x\n", "cannot read"),
])
def test_a_wrong_targets_file_says_where(tmp_path, body, message):
    (tmp_path / "t.toml").write_text(body)
    with pytest.raises(TargetsError, match=message.replace("[", r"\[").replace("$", r"\$")):
        load_targets(tmp_path / "t.toml", environ={})


def test_a_target_reads_its_key_from_the_named_variable_and_resolves_its_deviations(tmp_path):
    (tmp_path / "t.toml").write_text('[targets.ref]\n\n[targets.x]\nbase_url = "http://127.0.0.1:1/p"\n'
                                     'api_key_env = "X_KEY"\nwithout = ["thinking"]\ndeviations = "x.toml"\n')
    ref, x = load_targets(tmp_path / "t.toml", environ={"X_KEY": "k-123"})
    assert ref.target is None and x.target.api_key.reveal() == "k-123" and "k-123" not in repr(x)
    assert x.target.without == {"thinking"} and x.deviations == str(tmp_path / "x.toml")


def test_compare_runs_every_target_and_writes_reports_and_the_matrix(reference_server, tmp_path):
    key = reference_server.api_key.reveal()
    (tmp_path / "targets.toml").write_text(
        f'[targets.clean]\nbase_url = "{reference_server.base_url}"\napi_key_env = "K"\nmodel = "reference-model"\n\n'
        f'[targets.broken]\nbase_url = "{reference_server.base_url}/faults/sse-no-message-stop"\napi_key_env = "K"\n'
        'model = "reference-model"\n')
    proc = cli("compare", "targets.toml", "--markdown", "m.md", "--html", "m.html", "-k", "streaming or auth",
               env={"K": key}, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]  # the broken target fails: the gate
    assert proc.stdout.rstrip().endswith("1 of 2 targets failed at the strict level: broken")
    reports = {name: json.loads((tmp_path / "conformance-reports" / f"{name}.json").read_text())
               for name in ("clean", "broken")}
    assert all(validate_report(r) == [] for r in reports.values())
    verdicts = {name: {r["id"]: r["verdict"] for r in rep["results"]} for name, rep in reports.items()}
    assert verdicts["clean"]["streaming/message-stop-last"] == "pass"
    assert verdicts["broken"]["streaming/message-stop-last"] == "fail"
    assert "streaming/message-stop-last" in (tmp_path / "m.md").read_text()
    assert "<html" in (tmp_path / "m.html").read_text().lower()
    for text in [proc.stdout, proc.stderr, (tmp_path / "m.md").read_text(), (tmp_path / "m.html").read_text(),
                 *[json.dumps(r) for r in reports.values()]]:
        assert key not in text


def test_a_known_deviation_is_an_expected_failure_and_one_that_passes_fails_the_run(reference_server, tmp_path):
    deviations = tmp_path / "dev.toml"
    deviations.write_text('[deviations."streaming/message-stop-last"]\nreason = "known"\nlink = "https://x.invalid/1"\n')
    env = {"ANTHROPIC_API_KEY": reference_server.api_key.reveal()}
    common = ["--model", "reference-model", "--deviations", str(deviations), "-k", "streaming/message-stop-last",
              "--report", str(tmp_path / "r.json")]
    known = cli("run", "--base-url", reference_server.base_url + "/faults/sse-no-message-stop", *common, env=env)
    assert known.returncode == 0, known.stdout[-1500:]
    (result,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["verdict"] == "fail" and result["deviation"]["status"] == "expected-failure"
    fixed = cli("run", "--base-url", reference_server.base_url, *common, env=env)
    assert fixed.returncode == 1
    assert "XPASS streaming/message-stop-last  listed as a known deviation (known) but it is now pass" in fixed.stdout


def test_compare_hands_expensive_and_the_level_to_its_workers(reference_server, tmp_path):
    (tmp_path / "targets.toml").write_text(
        f'[targets.a]\nbase_url = "{reference_server.base_url}"\napi_key_env = "K"\nmodel = "reference-model"\n\n'
        f'[targets.b]\nbase_url = "{reference_server.base_url}/puterai/anthropic"\napi_key_env = "K"\n'
        'model = "reference-model"\n')
    proc = cli("compare", "targets.toml", "-n", "2", "--expensive", "-k", "streaming/long-text",
               env={"K": reference_server.api_key.reveal()}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-1500:]
    for name in ("a", "b"):
        (result,) = json.loads((tmp_path / "conformance-reports" / f"{name}.json").read_text())["results"]
        assert result["verdict"] == "pass", result


def two_targets(tmp_path, reference_server, fault: str) -> dict:
    """A targets file: the clean reference server and one with a fault; the environment that holds their key."""
    (tmp_path / "targets.toml").write_text(
        f'[targets.clean]\nbase_url = "{reference_server.base_url}"\napi_key_env = "K"\nmodel = "reference-model"\n\n'
        f'[targets.faulty]\nbase_url = "{reference_server.base_url}/faults/{fault}"\napi_key_env = "K"\n'
        'model = "reference-model"\n')
    return {"K": reference_server.api_key.reveal()}


@pytest.mark.parametrize(("level", "gate", "code"), [
    ("strict", [], 1),  # message/id fails strict...
    ("compat", [], 0),  # ...and only warns at compat: clients still work
    ("strict", ["--no-gate"], 0),  # the matrix only
])
def test_compare_exits_1_when_a_target_fails_at_the_level_unless_the_gate_is_off(reference_server, tmp_path, level,
                                                                                   gate, code):
    env = two_targets(tmp_path, reference_server, "message-id-chatcmpl")
    proc = cli("compare", "targets.toml", "-k", "message/id", "--level", level, *gate, env=env, cwd=tmp_path)
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-2000:]
    (result,) = json.loads((tmp_path / "conformance-reports" / "faulty.json").read_text())["results"]
    assert (result["verdict"], result["compat_verdict"]) == ("fail", "warn")
    assert ("targets failed" in proc.stdout) == (level == "strict")
    assert ("--no-gate: exit 0 anyway" in proc.stdout) == bool(gate)


def test_compare_exits_0_when_every_target_passes(reference_server, tmp_path):
    env = two_targets(tmp_path, reference_server, "crlf")  # a valid variant: nothing may fail
    proc = cli("compare", "targets.toml", "-k", "streaming/message-stop-last or message/id", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "targets failed" not in proc.stdout


def test_compare_with_a_selection_that_matches_nothing_exits_4(reference_server, tmp_path):
    env = two_targets(tmp_path, reference_server, "crlf")
    proc = cli("compare", "targets.toml", "-k", "no-such-check-anywhere", env=env, cwd=tmp_path)
    assert proc.returncode == 4 and "no check matched" in proc.stderr


def test_compare_prints_one_set_of_counts_not_pytests(reference_server, tmp_path):
    env = two_targets(tmp_path, reference_server, "sse-no-message-stop")
    proc = cli("compare", "targets.toml", "-k", "streaming/message-stop-last", "--no-gate", env=env, cwd=tmp_path)
    assert proc.returncode == 0
    assert "short test summary info" not in proc.stdout and " passed" not in proc.stdout and "FAILED" not in proc.stdout
    shown = cli("compare", "targets.toml", "-k", "streaming/message-stop-last", "--no-gate", "--pytest-output",
                env=env, cwd=tmp_path)
    assert "1 failed, 1 passed" in shown.stdout


def test_compare_documents_its_exit_codes_in_help():
    text = " ".join(cli("compare", "--help").stdout.split())
    for needle in ("--no-gate", "exit codes: 0 every target passed at --level", "1 a target has a check that failed"):
        assert needle in text
