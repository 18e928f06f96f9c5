"""The pytest plugin: inert in unrelated runs, and a conformance run through plain pytest."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


def test_it_stays_inert_in_an_unrelated_pytest_run(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import sys

        def test_nothing_of_ours_is_loaded(request):
            assert "anthropic" not in sys.modules
            assert "conformance.pytest_run" not in sys.modules
            assert "conformance_session" not in request.fixturenames
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "conformance target" not in result.stdout.str()
    markers = pytester.runpytest_subprocess("--markers").stdout.str()
    assert "expensive:" not in markers and "cheap:" not in markers
    fixtures = pytester.runpytest_subprocess("--fixtures").stdout.str()
    assert "conformance_check" not in fixtures


def test_its_options_are_listed_in_help(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--help")
    assert "--conformance-base-url" in result.stdout.str()


def test_plain_pytest_runs_the_packaged_suites_against_a_target(pytester: pytest.Pytester, reference_server,
                                                                  monkeypatch):
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_API_KEY", reference_server.api_key.reveal())
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suites", "-p", "no:cacheprovider",
        "--conformance-base-url", reference_server.base_url, "--conformance-report", str(report),
        "-k", "system or x-api-key",
    )
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "conformance target: " + reference_server.base_url in out
    assert reference_server.api_key.reveal() not in out
    data = json.loads(report.read_text())
    assert data["summary"]["pass"] == 4 and data["target"]["model"] == "reference-model"


def test_a_fault_fails_its_check_with_the_rule_in_the_pytest_output(pytester: pytest.Pytester, reference_server,
                                                                     monkeypatch):
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_API_KEY", reference_server.api_key.reveal())
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suites", "-p", "no:cacheprovider",
        "--conformance-base-url", reference_server.base_url + "/faults/sse-no-message-stop",
        "-k", "streaming/message-stop-last",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "FAIL streaming/message-stop-last" in out and "rule STREAM-STOP-LAST" in out
    assert "reproduce" in out
