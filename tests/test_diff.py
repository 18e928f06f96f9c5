"""diff: regressions, fixes, new and removed checks, profile readiness, and the exit code a PR gate uses."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from conformance import diff


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


def test_the_command_exits_1_on_a_planted_regression_and_0_without(tmp_path):
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    base = report(a_x="pass", a_y="warn")
    old_path.write_text(json.dumps(base))
    new_path.write_text(json.dumps(base))
    same = subprocess.run([sys.executable, "-m", "conformance", "diff", str(old_path), str(new_path)],
                          capture_output=True, text=True)
    assert same.returncode == 0 and "0 regressions" in same.stdout
    planted = copy.deepcopy(base)
    planted["results"][0]["verdict"] = "fail"
    new_path.write_text(json.dumps(planted))
    worse = subprocess.run([sys.executable, "-m", "conformance", "diff", str(old_path), str(new_path)],
                           capture_output=True, text=True)
    assert worse.returncode == 1 and "REGRESSION  a/x: pass -> fail" in worse.stdout
