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
        "-k", "system/string or system/blocks or auth/x-api-key",
    )
    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    assert "conformance target: " + reference_server.base_url in out
    assert reference_server.api_key.reveal() not in out
    data = json.loads(report.read_text())
    assert data["summary"]["pass"] == 3 and data["target"]["model"] == "reference-model"


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


def test_expensive_checks_are_skipped_against_a_real_target_unless_enabled(pytester: pytest.Pytester,
                                                                          reference_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_API_KEY", reference_server.api_key.reveal())
    args = ("--pyargs", "conformance.suites", "-p", "no:cacheprovider", "-rs",
            "--conformance-base-url", reference_server.base_url, "-k", "streaming/long-text")
    skipped = pytester.runpytest_subprocess(*args)
    skipped.assert_outcomes(skipped=1)
    assert "expensive: " in skipped.stdout.str()
    enabled = pytester.runpytest_subprocess(*args, "--conformance-expensive")
    enabled.assert_outcomes(passed=1)


def test_a_failing_run_with_showlocals_and_junit_never_shows_the_key(pytester: pytest.Pytester, reference_server):
    canary = "sk-ant-canary-" + "k3y" * 8
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suites", "-p", "no:cacheprovider", "--showlocals", "--tb=long",
        "--conformance-base-url", reference_server.base_url, "--conformance-api-key", canary,
        "--conformance-model", "reference-model", "--junitxml", str(junit), "-k", "auth or message",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert canary not in result.stdout.str() + result.stderr.str()
    assert canary not in junit.read_text()


def test_xdist_workers_share_the_controllers_embedded_server_and_one_report(pytester: pytest.Pytester):
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("--pyargs", "conformance.suites", "-p", "no:cacheprovider", "-n", "2",
                                           "--conformance-report", str(report), "-k", "message or tools")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 16 and "failed" not in outcomes
    data = json.loads(report.read_text())
    assert data["target"]["embedded"] is True and data["summary"]["pass"] == outcomes["passed"]
    assert data["tokens"]["requested"] > 0


def test_it_stays_inert_in_a_project_with_its_own_conformance_suites_folder(pytester: pytest.Pytester):
    pytester.mkpydir("conformance_project")
    folder = pytester.path / "conformance" / "suites"
    folder.mkdir(parents=True)
    (folder / "test_local.py").write_text("def test_local():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "conformance/suites")
    result.assert_outcomes(passed=1)
    assert "conformance target" not in result.stdout.str()


def test_plain_pytest_against_a_real_target_without_a_key_is_a_usage_error(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_CONFORMANCE_API_KEY", raising=False)
    result = pytester.runpytest_subprocess("--pyargs", "conformance.suites", "-p", "no:cacheprovider",
                                           "--conformance-base-url", "http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs an API key" in result.stderr.str()


def test_the_anthropic_fake_fixture_serves_an_app_test(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import sys

        def test_untouched():
            assert "conformance.fake" not in sys.modules and "uvicorn" not in sys.modules

        def test_app(anthropic_fake):
            anthropic_fake.on(text="capital of France").reply("Paris.")
            client = anthropic_fake.client()
            message = client.messages.create(model="claude-sonnet-4-5", max_tokens=20,
                                             messages=[{"role": "user", "content": "The capital of France?"}])
            assert message.content[0].text == "Paris."
            (sent,) = anthropic_fake.requests
            assert sent.body["model"] == "claude-sonnet-4-5" and sent.headers["authorization"] == "[redacted]"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
