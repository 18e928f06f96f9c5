"""The page of one report: rules with their sources, failures grouped by root cause with their evidence, search and
filters in a script allowed by the CSP's hash, report wording (not the matrix's), and a real browser's rendering."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import subprocess

from test_matrix import CHROMIUM_FLAGS, HOSTILE, chromium, png_pixels_vary

from conformance.report_html import _CSS, _JS, render_report_html, root_causes


def rec(check_id: str, verdict: str, got: str = "", **extra) -> dict:
    findings = [{"verdict": verdict, "compat_verdict": verdict, "rule": "ERR-ENVELOPE", "expected": "an envelope",
                 "got": got, "where": "$"}] if got else []
    return {"id": check_id, "area": check_id.split("/")[0], "verdict": verdict, "compat_verdict": verdict,
            "rule": "ERR-ENVELOPE", "rule_statement": "Error bodies are Anthropic envelopes.",
            "rule_source": "docs: errors; https://platform.claude.com/docs/en/api/errors", "tier": "free",
            "message": f"{verdict.upper()} {check_id}" if verdict != "pass" else "", "reason": "",
            "findings": findings, "evidence": [{"request": "POST {base}/v1/messages  auth=none",
                                                "response": '401  application/json  body {"error":{}}'}]
            if verdict == "fail" else [], **extra}


def sample() -> dict:
    results = [
        rec("errors/envelope[auth-missing]", "fail", got="'type' is a required property"),
        rec("errors/envelope[auth-wrong]", "fail", got="'type' is a required property"),
        rec("message/request-id", "fail", got="no request-id header"),
        rec("headers/request-id-format", "skipped", reason="skipped: needs message/request-id",
            blocked_by="message/request-id"),
        rec("auth/x-api-key", "pass"),
        rec("tools/parallel", "warn", got=HOSTILE, message=HOSTILE),
    ]
    return {"schema_version": "1.0", "generated_at": "2026-01-02T03:04:05Z",
            "tool": {"name": "anthropic-conformance", "version": "0.1.0"},
            "target": {"base_url": "https://gw.invalid/v1", "model": "m-1", "embedded": False},
            "selection": {"level": "strict"}, "results": results,
            "profiles": {"claude-code": {"status": "not-ready", "description": "Claude Code",
                                         "failing": ["message/request-id"], "limiting": [], "not_run": []}}}


def test_identical_failures_are_one_group_and_a_blocked_skip_joins_the_check_that_blocked_it():
    groups = root_causes(sample()["results"])
    assert [(g["ids"], g["blocked"]) for g in groups] == [
        (["errors/envelope[auth-missing]", "errors/envelope[auth-wrong]"], []),
        (["message/request-id"], ["headers/request-id-format"])]
    assert groups[0]["cause"] == "expected an envelope; got 'type' is a required property"


def test_the_page_shows_each_rule_its_source_link_and_each_failures_request_and_response():
    page = render_report_html(sample())
    assert "Error bodies are Anthropic envelopes." in page
    assert '<a href="https://platform.claude.com/docs/en/api/errors" rel="noopener noreferrer">' in page
    assert "request  POST {base}/v1/messages  auth=none" in page and html.escape('body {"error":{}}') in page
    assert "2 checks: expected an envelope; got &#x27;type&#x27; is a required property" in page
    assert "(1 more skipped because of it)" in page


def test_the_page_speaks_of_one_report_not_of_a_matrix():
    page = render_report_html(sample())
    assert "<h1>anthropic-conformance report</h1>" in page and "6 checks against https://gw.invalid/v1" in page
    assert "matrix" not in page and "targets" not in page and "worst first" not in page


def test_search_and_filters_are_in_the_one_script_the_csp_allows_by_hash():
    page = render_report_html(sample())
    digest = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    css = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page and f"style-src 'sha256-{css}'" in page
    assert "default-src 'none'" in page and page.count("<script>") == 1
    for control in ('id="q"', 'id="f-verdict"', 'id="f-area"', 'id="f-profile"'):
        assert control in page
    rows = re.findall(r'<tr class="check" [^>]*>', page)
    assert len(rows) == 6
    assert 'data-verdict="fail" data-area="errors"' in rows[0]
    assert '<option value="claude-code">' in page


def test_a_hostile_message_is_text_never_markup():
    page = render_report_html(sample())
    assert "<script>alert(1)</script>" not in page and html.escape(HOSTILE) in page


def test_a_run_without_failures_says_so():
    report = {**sample(), "results": [rec("auth/x-api-key", "pass")], "profiles": {}}
    page = render_report_html(report)
    assert "No check failed." in page and "Failures by root cause" not in page


def test_a_real_browser_filters_the_checks_and_renders_the_main_states(tmp_path):
    browser = chromium()
    pages = {"failures": sample(), "clean": {**sample(), "results": [rec("auth/x-api-key", "pass")]}}
    for state, report in pages.items():
        page = tmp_path / f"{state}.html"
        page.write_text(render_report_html(report), encoding="utf-8")
        shot = tmp_path / f"{state}.png"
        proc = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / ('p-' + state)}",
                               f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars", page.as_uri()],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000 and png_pixels_vary(data), state
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p-dom'}", "--dump-dom",
                          (tmp_path / "failures.html").as_uri() + "#verdict=fail"], capture_output=True, text=True,
                         timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "3 shown" in dom.stdout  # the script ran under the CSP and filtered to the three failures
    assert len(re.findall(r'<tr class="check"[^>]*hidden', dom.stdout)) == 3
