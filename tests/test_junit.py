"""The JUnit view: written from the JSON report, suite anthropic-conformance, names are check ids, small."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.junit import render_junit


def record(check_id: str, verdict: str, **extra) -> dict:
    return {"id": check_id, "area": check_id.split("/")[0], "verdict": verdict, "compat_verdict": verdict,
            "rule": "R", "tier": "free", "message": "", "reason": "", "findings": [], "evidence": [], "duration": 0.5,
            **extra}


REPORT = {
    "generated_at": "2026-01-02T03:04:05Z", "selection": {"level": "strict"},
    "target": {"base_url": "https://t.invalid", "model": "m"}, "tool": {"version": "0.1.0"},
    "results": [
        record("auth/x-api-key", "pass"),
        record("errors/envelope[auth-missing]", "fail", message="FAIL errors/envelope\n  expected  a\n  got  b\x01",
               findings=[{"verdict": "fail", "compat_verdict": "fail", "rule": "R", "expected": "valid envelope",
                          "got": "'type' is a required property", "where": "$"}]),
        record("streaming/message-stop-last", "error", message="ERROR timed out"),
        record("thinking/signature", "skipped", reason="expensive: needs --expensive"),
        record("tools/parallel", "unsupported", reason="unsupported: clean 400"),
        record("message/id", "warn", findings=[{"verdict": "warn", "compat_verdict": "warn", "rule": "R",
                                                "expected": "msg_ prefix", "got": "abc", "where": "$.id"}]),
        record("models/list", "fail", message="FAIL known", deviation={"reason": "tracked", "status": "expected-failure"}),
    ],
}


def test_the_suite_is_named_anthropic_conformance_with_check_ids_as_names_and_areas_as_classnames():
    root = ET.fromstring(render_junit(REPORT))
    suite = root.find("testsuite")
    assert root.get("name") == suite.get("name") == "anthropic-conformance"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == [r["id"] for r in REPORT["results"]]
    assert cases["errors/envelope[auth-missing]"].get("classname") == "errors"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("7", "1", "1", "3")


def test_a_failure_carries_expected_and_got_in_its_message_and_the_report_text_in_its_body():
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(REPORT)).iter("testcase")}
    failure = cases["errors/envelope[auth-missing]"].find("failure")
    assert failure.get("message") == "expected valid envelope; got 'type' is a required property"
    assert failure.text.startswith("FAIL errors/envelope") and "\x01" not in failure.text
    assert cases["streaming/message-stop-last"].find("error").get("message") == "ERROR timed out"
    assert cases["thinking/signature"].find("skipped").get("message") == "expensive: needs --expensive"
    assert cases["models/list"].find("skipped").get("message") == "known deviation: tracked"
    assert cases["auth/x-api-key"].find("*") is None
    assert "warn: $.id: expected msg_ prefix; got abc" == cases["message/id"].find("system-out").text


def test_the_compat_level_judges_by_the_compat_verdict():
    report = {**REPORT, "selection": {"level": "compat"},
              "results": [record("message/id", "fail", compat_verdict="warn")]}
    assert ET.fromstring(render_junit(report)).find("testsuite").get("failures") == "0"


def test_a_long_message_is_clipped_so_the_file_stays_small():
    report = {**REPORT, "results": [record(f"a/c{i}", "fail", message="x" * 50_000) for i in range(100)]}
    assert len(render_junit(report)) < 100 * 2_600  # not 100 * 50 kB
