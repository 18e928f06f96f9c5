"""diff: regressions, fixes, new and removed checks, profile readiness, and the exit code a PR gate uses."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from conformance import diff
from conformance.report import ReportError, validate_report


def report(**verdicts):
    profiles = {"claude-code": {"status": "ready", "description": "", "failing": [], "limiting": [], "not_run": []}}
    return {"results": [{"id": k.replace("_", "/"), "verdict": v, "compat_verdict": v} for k, v in verdicts.items()],
            "profiles": profiles}


def test_a_check_that_starts_failing_is_a_regression():
    d = diff.compare(report(a_x="pass", a_y="fail"), report(a_x="fail", a_y="fail"))
    assert d.regressions == [("a/x", "pass", "fail")] and d.regressed


def test_a_check_that_stops_failing_is_a_fix_not_a_regression():
    d = diff.compare(report(a_x="fail"), report(a_x="pass"))
    assert d.fixes == [("a/x", "fail", "pass")] and not d.regressed


def test_new_and_removed_checks_are_listed_and_a_new_failing_check_regresses():
    d = diff.compare(report(a_x="pass"), report(a_y="pass"))
    assert d.new == [("a/y", "pass")] and d.removed == [("a/x", "pass")] and not d.regressed
    assert diff.compare(report(), report(a_z="fail")).regressed


def test_a_profile_that_gets_worse_regresses():
    new = report()
    new["profiles"]["claude-code"]["status"] = "not-ready"
    d = diff.compare(report(), new)
    assert d.profile_regressions == [("claude-code", "ready", "not-ready")] and d.regressed
    assert "(worse)" in diff.render(d)


def test_the_compat_level_compares_compat_verdicts():
    old, new = report(a_x="pass"), report(a_x="fail")
    new["results"][0]["compat_verdict"] = "warn"
    assert diff.compare(old, new).regressed and not diff.compare(old, new, "compat").regressed


VERDICTS = ("pass", "fail", "warn", "unsupported", "skipped", "error")


def full_report(**verdicts) -> dict:
    """A report as `run --report` writes it (every key the schema requires), with these verdicts."""
    results = [{"id": k.replace("_", "/"), "area": k.split("_")[0], "verdict": v, "compat_verdict": v,
                "rule": "AUTH-X", "tier": "free", "message": "", "reason": "", "findings": [], "evidence": []}
               for k, v in verdicts.items()]
    summary = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS} | {"total": len(results)}
    return {"schema_version": "1.0", "tool": {"name": "anthropic-conformance", "version": "0.1.0", "sdk_version": "2"},
            "target": {"base_url": "https://x.invalid", "model": "m", "anthropic_version": "2023-06-01",
                       "embedded": False},
            "selection": {"keyword": None, "expensive": False, "level": "strict"}, "results": results,
            "summary": summary, "compat_summary": dict(summary), "tokens": {"requested": 0, "used": 0},
            "profiles": report()["profiles"]}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, timeout=60)


def test_the_full_reports_of_these_tests_are_valid_reports():
    assert validate_report(full_report(a_x="pass", b_y="fail")) == []


def test_the_command_exits_1_on_a_planted_regression_and_0_without(tmp_path):
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    base = full_report(a_x="pass", a_y="warn")
    old_path.write_text(json.dumps(base))
    new_path.write_text(json.dumps(base))
    same = cli("diff", str(old_path), str(new_path))
    assert same.returncode == 0 and "0 regressions" in same.stdout
    planted = copy.deepcopy(base)
    planted["results"][0]["verdict"] = "fail"
    new_path.write_text(json.dumps(planted))
    worse = cli("diff", str(old_path), str(new_path))
    assert worse.returncode == 1 and "REGRESSION  a/x: pass -> fail" in worse.stdout


def one_sentence(proc: subprocess.CompletedProcess) -> str:
    """The error a command printed: exit 2, nothing on stdout, one line on stderr, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.mark.parametrize("command", ["diff", "report"])
@pytest.mark.parametrize(("content", "says"), [
    ("{}", ["is not an anthropic-conformance report", "'schema_version' is a required property", "at $ "]),
    ("[1, 2]", ["is not an anthropic-conformance report", "is not of type 'object'", "at $ "]),
    ("not json at all", ["is not JSON", "line 1, column 1"]),
    ("", ["is not JSON"]),
], ids=["empty-object", "a-list", "not-json", "empty-file"])
def test_anything_that_is_not_a_report_exits_2_with_one_sentence_naming_the_file(tmp_path, command, content, says):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(full_report(a_x="pass")))
    bad.write_text(content)
    message = one_sentence(cli(command, str(good), str(bad)) if command == "diff" else cli(command, str(bad)))
    assert "bad.json" in message and "good.json" not in message
    for words in says:
        assert words in message


def test_a_wrong_value_deep_in_a_report_is_named_by_its_json_path(tmp_path):
    wrong = full_report(a_x="pass", a_y="pass")
    wrong["results"][1]["verdict"] = "passed"
    (tmp_path / "old.json").write_text(json.dumps(full_report(a_x="pass")))
    (tmp_path / "new.json").write_text(json.dumps(wrong))
    message = one_sentence(cli("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")))
    assert "new.json" in message and "$.results[1].verdict" in message and "'passed'" in message


@pytest.mark.parametrize("command", ["diff", "report"])
def test_a_missing_or_unreadable_file_exits_2_with_one_sentence(tmp_path, command):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(full_report(a_x="pass")))
    missing = str(tmp_path / "nowhere.json")
    message = one_sentence(cli(command, missing, str(good)) if command == "diff" else cli(command, missing))
    assert "cannot read the report" in message and "nowhere.json" in message and "No such file" in message
    folder = one_sentence(cli(command, str(good), str(tmp_path)) if command == "diff" else cli(command, str(tmp_path)))
    assert "cannot read the report" in folder
    (tmp_path / "latin1.json").write_bytes(b'{"caf\xe9": 1}')
    binary = one_sentence(cli(command, str(tmp_path / "latin1.json")) if command == "report"
                          else cli(command, str(good), str(tmp_path / "latin1.json")))
    assert "not UTF-8" in binary


def test_the_reader_refuses_an_empty_object_that_the_old_diff_called_0_regressions(tmp_path):
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ReportError, match="empty.json is not an anthropic-conformance report"):
        diff.load(tmp_path / "empty.json")


def test_diff_and_report_document_their_exit_codes_in_help():
    for command, needles in (("diff", ["0 no regression", "1 a regression", "2 an input is unreadable"]),
                             ("report", ["0 rendered", "2 an input is unreadable"])):
        text = " ".join(cli(command, "--help").stdout.split())
        assert all(needle in text for needle in needles), (command, text)
