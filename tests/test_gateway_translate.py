"""Gateway mode, translating gateways: a small faithful translator (Anthropic Messages in, OpenAI Chat Completions
out) passes every gateway/translate-* check, the pass-through checks are skipped with their reason; each faulty
translator is caught by the check that names its fault; a translator that asks the upstream for one JSON answer is not
blamed for what the checks could not observe."""

from __future__ import annotations

import pytest
from gateway_proxies import run_gateway_checks
from gateway_translator import TRANSLATOR_FAULTS, Translator

from conformance.engine import all_checks
from conformance.gateway.upstream import Upstream
from conformance.verdicts import Verdict

ITEMS = sorted(i for c in all_checks().values() if c.area == "gateway" for i in c.item_ids())
TRANSLATE = {i for i in ITEMS if i.startswith("gateway/translate-")}
BOTH_SIDES = {"gateway/reaches-upstream", "gateway/model-forwarded"}  # judged whatever the upstream's protocol
CAUGHT_BY = {  # fault -> {item: the verdict it gets}
    "wrong-finish": {"gateway/translate-finish-reason[length]": Verdict.FAIL},
    "invent-tool-ids": {"gateway/translate-tool-ids": Verdict.FAIL},
    "drop-usage": {"gateway/translate-usage[json]": Verdict.FAIL, "gateway/translate-usage[stream]": Verdict.FAIL},
    "no-stream-usage": {"gateway/translate-usage[stream]": Verdict.WARN},
    "rate-limit-as-api-error": {"gateway/translate-rate-limit": Verdict.FAIL},
    "drop-retry-after": {"gateway/translate-rate-limit": Verdict.FAIL},
    "done-after-stream-error": {"gateway/translate-stream-error": Verdict.FAIL},
    "stream-error-as-text": {"gateway/translate-stream-error": Verdict.FAIL},
}


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as up:
        yield up


def run_through(upstream: Upstream, fault: str = "") -> dict:
    return run_gateway_checks(upstream, Translator(upstream.base_url, fault))


def test_a_faithful_translator_passes_every_translate_check_and_skips_the_pass_through_ones(upstream):
    results = run_through(upstream)
    for item, result in results.items():
        if item in TRANSLATE or item in BOTH_SIDES:
            assert result.verdict is Verdict.PASS, (item, result.reason, result.findings)
        else:
            assert result.verdict is Verdict.SKIPPED, (item, result.verdict)
            assert "translates to OpenAI Chat Completions" in result.reason, (item, result.reason)
    records = [r for r in upstream.recorder.all() if r.openai]
    assert records and all(r.path == "/v1/chat/completions" for r in records)


def test_the_faults_are_exactly_those_the_table_names():
    assert set(CAUGHT_BY) == set(TRANSLATOR_FAULTS)


@pytest.mark.parametrize("fault", TRANSLATOR_FAULTS)
def test_a_faulty_translator_is_caught_by_the_check_that_names_its_fault(upstream, fault):
    results = run_through(upstream, fault)
    judged = {item: r.verdict for item, r in results.items() if r.verdict not in (Verdict.PASS, Verdict.SKIPPED)}
    assert judged == CAUGHT_BY[fault], {i: (results[i].reason, results[i].findings) for i in judged}
    for item in judged:
        rule = all_checks()[item.split("[")[0]].rule
        assert any(f.rule == rule for f in results[item].findings)
    assert all(results[i].verdict is Verdict.SKIPPED for i in ITEMS if i not in TRANSLATE | BOTH_SIDES)


def test_a_translator_that_buffers_the_upstream_is_not_blamed_for_a_stream_error_it_never_saw(upstream):
    results = run_through(upstream, "buffered-upstream")
    cut = results["gateway/translate-stream-error"]
    assert cut.verdict is Verdict.SKIPPED and "did not cut a stream" in cut.reason, (cut.reason, cut.findings)
    for item in TRANSLATE - {"gateway/translate-stream-error"}:
        assert results[item].verdict is Verdict.PASS, (item, results[item].reason, results[item].findings)


def test_a_gateway_that_speaks_another_upstream_api_fails_the_control_alone(upstream):
    results = run_through(upstream, "responses-api")
    control = results["gateway/reaches-upstream"]
    assert control.verdict is Verdict.FAIL and "POST /v1/responses" in control.findings[0].got, control.findings
    for item, result in results.items():
        if item not in BOTH_SIDES:
            assert result.verdict is Verdict.SKIPPED and "gateway/reaches-upstream" in result.reason, (item, result)


def test_the_control_says_what_the_upstream_did_receive():
    from conformance.checks.gateway import received
    from conformance.gateway.records import Record

    records = [Record("POST", "/v1/responses", "", [], b"{}", 0.0, status=404) for _ in range(3)]
    records.append(Record("GET", "/v1/models", "", [], b"", 0.0, status=200))
    assert received(records) == " (POST /v1/responses -> 404 x3, GET /v1/models -> 200)"
    assert received([]) == ""
