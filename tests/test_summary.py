"""The closing summary of a run: every failure on one line, cut at word boundaries, one set of counts."""

from __future__ import annotations

import pytest

from conformance.summary import clip, detail_blocks, summary_lines

VERDICTS = ("pass", "fail", "warn", "unsupported", "skipped", "error")


@pytest.mark.parametrize(("text", "limit", "out"), [
    ("short enough", 20, "short enough"),
    ("the quick brown fox jumps", 18, "the quick brown…"),
    ('HTTP 200: {"id":"msg_abcdefghijklmnop","type":"message"}', 30, 'HTTP 200: {"id":"…'),
    ("a\nmulti-line   text", 40, "a multi-line text"),
    ("x" * 50, 10, "x" * 9 + "…"),  # one word longer than the line: cut inside it
])
def test_clip_cuts_at_a_word_boundary_with_an_ellipsis(text, limit, out):
    assert clip(text, limit) == out and len(clip(text, limit)) <= limit


def result(check_id: str, verdict: str, compat: str | None = None, *, expected: str = "e", got: str = "g",
           reason: str = "", message: str = "", **extra) -> dict:
    findings = [] if verdict in ("pass", "skipped", "unsupported") or reason else [
        {"verdict": verdict, "compat_verdict": compat or verdict, "rule": "R", "expected": expected, "got": got,
         "where": ""}]
    return {"id": check_id, "verdict": verdict, "compat_verdict": compat or verdict, "reason": reason,
            "message": message, "findings": findings, **extra}


def report(results: list[dict], level_counts: dict | None = None) -> dict:
    def counts(key: str) -> dict:
        out = {v: sum(r[key] == v for r in results) for v in VERDICTS}
        return out | {"total": len(results)}

    return {"tool": {"version": "9.9"}, "target": {"embedded": False, "base_url": "https://x.invalid", "model": "m"},
            "results": results, "summary": counts("verdict"), "compat_summary": counts("compat_verdict"),
            "profiles": {"claude-code": {"status": "not-ready", "failing": ["auth/x-api-key"], "limiting": [],
                                         "not_run": []}},
            "tokens": {"requested": 10, "used": 3}}


SAMPLE = report([
    result("auth/x-api-key", "fail", expected="HTTP 200 for a valid key sent only as x-api-key", got="HTTP 401",
           message="FAIL auth/x-api-key ...\n  reproduce anthropic-conformance run -k 'auth/x-api-key'"),
    result("message/id", "fail", "warn", got='"chatcmpl-1"', message="FAIL message/id ..."),
    result("streaming/x", "error", reason="timed out after 2 s", message="ERROR streaming/x ..."),
    result("message/schema", "pass"),
    result("message/usage", "warn", got="0"),
    result("thinking/a", "skipped", reason="expensive: needs --expensive"),
    result("thinking/b", "skipped", reason="expensive: needs --expensive"),
    result("tools/x", "unsupported", reason="unsupported: declared"),
])


def test_every_fail_and_error_is_one_line_before_the_profiles_and_the_counts():
    lines = summary_lines(SAMPLE)
    assert lines[0] == "anthropic-conformance 9.9 against https://x.invalid (model m)"
    assert lines[1].split() == ["FAIL", "auth/x-api-key", "expected", "HTTP", "200", "for", "a", "valid", "key", "sent",
                                "only", "as", "x-api-key", "got", "HTTP", "401"]
    assert lines[2].split()[:4] == ["FAIL", "message/id", "(compat:", "warn)"]  # a strict fail that clients survive
    assert lines[3].split() == ["ERROR", "streaming/x", "timed", "out", "after", "2", "s"]
    assert lines[4].split()[:2] == ["WARN", "message/usage"]
    assert "  NOT TESTED  thinking (2 expensive checks) were not tested: add --expensive" in lines
    assert "  UNSUPPORTED tools/x: unsupported: declared" in lines
    profiles = lines.index("  claude-code              not-ready: auth/x-api-key")
    (counts,) = [i for i, line in enumerate(lines) if "of 8 checks" in line]
    assert 4 < profiles < counts
    assert lines[counts] == ("  strict  1 pass, 2 fail, 1 warn, 1 unsupported, 2 skipped, 1 error  of 8 checks"
                             "  (compat: 1 fail, 2 warn)")


def test_the_counts_are_those_of_the_level_with_the_other_level_in_brackets():
    (counts,) = [line for line in summary_lines(SAMPLE, "compat") if "of 8 checks" in line]
    assert counts.startswith("  compat  1 pass, 1 fail, 2 warn") and counts.endswith("(strict: 2 fail, 1 warn)")


def test_known_deviations_and_unexpected_passes_are_named_as_such():
    xfail = result("a/x", "fail", deviation={"reason": "ticket 12", "status": "expected-failure"})
    xpass = result("a/y", "pass", deviation={"reason": "ticket 13", "status": "unexpectedly-passing"})
    sample = report([xfail, xpass])
    sample["summary"]["expected_failures"] = 1
    lines = summary_lines(sample)
    assert any(line.split()[:2] == ["XPASS", "a/y"] and "remove it from the deviations file" in line for line in lines)
    assert any(line.split()[:2] == ["XFAIL", "a/x"] and "ticket 12" in line for line in lines)
    assert not any(line.startswith("  FAIL") for line in lines)
    assert lines[-2].endswith("; 1 of the failures are known deviations")


def test_the_details_are_the_failures_and_errors_full_text_in_order():
    assert detail_blocks(SAMPLE) == ["FAIL auth/x-api-key ...\n  reproduce anthropic-conformance run -k 'auth/x-api-key'",
                                     "FAIL message/id ...", "ERROR streaming/x ..."]


def test_a_stopped_run_says_how_many_checks_were_not_judged():
    stopped = report([result("a/x", "error", reason="not sent: the run stopped sending to it after 3 failures")])
    stopped["stopped"] = {"reason": "not sent: the run stopped sending to it after 3 failures", "exit_code": None}
    assert summary_lines(stopped)[-1] == ("  STOPPED     1 checks were not judged: not sent: the run stopped sending to "
                                          "it after 3 failures")


def test_identical_findings_of_one_parametrised_check_are_one_line():
    same = [result(f"errors/envelope[{case}]", "fail", expected="$: valid against error.schema.json",
                   got='"type" is a required property') for case in ("a", "b", "c")]
    other = result("errors/envelope[d]", "fail", expected="$: valid against error.schema.json", got="HTTP 500")
    lines = summary_lines(report([*same, other, result("message/id", "fail", got="null")]))
    fails = [line.split() for line in lines if line.startswith("  FAIL")]
    assert fails[0][:3] == ["FAIL", "errors/envelope[3", "cases]"]
    assert " ".join(fails[0]).endswith('got "type" is a required property')
    assert fails[1][:2] == ["FAIL", "errors/envelope[d]"] and fails[2][:2] == ["FAIL", "message/id"]
    assert len(fails) == 3


def test_what_was_not_tested_is_named_from_the_skipped_checks_features_and_areas():
    why = "expensive: this check generates longer output; enable it with --expensive"
    lines = summary_lines(report([result("acceptance/image-base64", "skipped", reason=why),
                                  result("thinking/signature", "skipped", reason=why),
                                  result("streaming/long-text", "skipped", reason=why),
                                  result("auth/x-api-key", "pass")]))
    assert ("  NOT TESTED  images, thinking and streaming (3 expensive checks) were not tested: add --expensive"
            in lines)
    assert not any(line.startswith("  SKIPPED") for line in lines)
    assert not any("NOT TESTED" in line for line in summary_lines(report([result("auth/x-api-key", "pass")])))


def test_a_not_covered_profile_says_which_required_checks_did_not_run_and_why():
    why = "expensive: this check generates longer output; enable it with --expensive"
    sample = report([result("thinking/signature", "skipped", reason=why),
                     result("acceptance/claude-code-request", "skipped", reason=why),
                     result("auth/x-api-key", "pass")])
    sample["profiles"] = {"claude-code": {"status": "not-covered", "failing": [], "limiting": [], "not_run": [
        "acceptance/claude-code-request", "thinking/signature", "models/list"]}}
    line = next(line for line in summary_lines(sample) if "claude-code" in line)
    assert line.split(None, 1)[1] == ("not-covered: 2 required checks need --expensive (acceptance/claude-code-request,"
                                      " thinking/signature); 1 required check was not selected (-k) (models/list)")


def test_a_profiles_causes_come_by_impact_fails_first_then_errors_then_unsupported():
    sample = report([result("a/unsupported", "unsupported", reason="unsupported: x"),
                     result("b/error", "error", reason="timed out"),
                     result("c/fail", "fail"), result("d/fail", "fail"),
                     result("e/blocked", "skipped", reason="needs d", blocked_by="d/fail"),
                     result("f/limit", "fail")])
    sample["profiles"] = {"p": {"status": "not-ready", "failing": ["a/unsupported", "b/error", "c/fail", "d/fail"],
                                "limiting": ["f/limit"], "not_run": []}}
    line = next(line for line in summary_lines(sample) if line.startswith("  p "))
    # d/fail blocks another check, so it comes before c/fail; optional (limiting) causes after the required ones
    assert line.split(None, 2)[2] == "d/fail, c/fail, b/error, a/unsupported …"
