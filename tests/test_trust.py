"""Verdicts a user can sign: optional endpoints are unsupported whatever their 404 says, one root cause is reported
once (the checks that need it are skipped, naming it), and behaviour is judged against a control."""

from __future__ import annotations

import pytest

from conformance.data import load_json
from conformance.engine import Session, all_checks, run_check
from conformance.profiles import readiness
from conformance.verdicts import Verdict

# The gateway area needs a recording upstream behind a gateway: tests/test_gateway.py proves it with faulty proxies.
ALL_ITEMS = sorted(item for check in all_checks().values() if check.area != "gateway" for item in check.item_ids())
OBSERVATIONAL = set(load_json("fixtures", "fault_map.json")["observational"])  # skipped when nothing happens


def run_all(target, items=ALL_ITEMS) -> dict:
    session = Session(target, expensive=True, idle_gap_limit=1.0)
    try:
        return {item: run_check(session, item) for item in items}
    finally:
        session.close()


def not_passing(results: dict) -> dict:
    return {item: r for item, r in results.items() if r.verdict is not Verdict.PASS and item not in OBSERVATIONAL}


@pytest.mark.parametrize(("fault", "feature"), [("count-tokens-missing-plain", "count-tokens"),
                                                ("count-tokens-missing", "count-tokens"),
                                                ("models-missing-plain", "models")])
def test_an_unserved_optional_endpoint_is_unsupported_whatever_its_answer_says(fault, feature, make_target):
    results = not_passing(run_all(make_target(f"/faults/{fault}")))
    needs = {item for item in ALL_ITEMS if all_checks()[item.split("[")[0]].feature == feature}
    assert set(results) == needs, sorted(set(results) ^ needs)
    for result in results.values():
        assert result.verdict is Verdict.UNSUPPORTED and result.at("compat") is Verdict.UNSUPPORTED
        assert "errors/not-found-path" in result.reason  # the shape of that 404 is judged once, there


@pytest.mark.parametrize(("fault", "owner", "dependents"), [
    ("tools-ignored", "tools/forced-call", ["tools/tool-use-id", "tools/stop-reason", "tools/input-matches-schema"]),
    ("sse-no-message-start", "streaming/message-start-first",
     ["streaming/input-tokens", "streaming/tool-input", "parity/block-types", "parity/tool-input", "parity/usage"]),
    ("reject-streaming", "streaming/content-type",
     ["streaming/message-stop-last", "streaming/event-schema", "streaming/tool-input", "streaming/max-tokens",
      "parity/block-types", "golden/stream-shape", "thinking/stream-parity"]),
    ("accept-empty-messages", "validation/empty-messages", ["errors/envelope[empty-messages]"]),
])
def test_one_root_cause_is_reported_once_and_the_checks_that_need_it_name_it(fault, owner, dependents, make_target):
    results = run_all(make_target(f"/faults/{fault}"), [owner, *dependents])
    assert results[owner].verdict is Verdict.FAIL, results[owner]
    for item in dependents:
        result = results[item]
        assert (result.verdict, result.blocked_by) == (Verdict.SKIPPED, owner), (item, result.reason, result.findings)
        assert owner in result.reason and not result.findings


def test_a_profile_counts_a_blocked_check_as_the_failure_that_blocks_it():
    results = [{"id": "tools/forced-call", "verdict": "fail", "compat_verdict": "fail"},
               {"id": "tools/tool-use-id", "verdict": "skipped", "compat_verdict": "skipped",
                "blocked_by": "tools/forced-call"},
               {"id": "errors/missing-model", "verdict": "fail", "compat_verdict": "warn"},
               {"id": "errors/envelope[missing-model]", "verdict": "skipped", "compat_verdict": "skipped",
                "blocked_by": "errors/missing-model"}]
    ids = [r["id"] for r in results]
    from unittest import mock

    spec = {"p": {"description": "d", "required": ["tools/tool-use-id"]},
            "q": {"description": "d", "required": ["errors/envelope[*]"]},
            "r": {"description": "d", "required": ["errors/envelope[*]", "tools/tool-use-id"]}}
    with mock.patch("conformance.profiles.profiles", return_value=spec):
        out = readiness(results, ids)
    assert (out["p"]["status"], out["p"]["failing"]) == ("not-ready", ["tools/forced-call"])
    # the bad request was accepted (a compat warning): there is no error body to judge, and nothing left uncovered
    assert (out["q"]["status"], out["q"]["not_run"]) == ("ready", [])
    assert out["r"]["failing"] == ["tools/forced-call"]


def test_a_blocked_check_whose_cause_did_not_run_is_not_covered():
    results = [{"id": "tools/tool-use-id", "verdict": "skipped", "compat_verdict": "skipped",
                "blocked_by": "tools/forced-call"}]
    from unittest import mock

    with mock.patch("conformance.profiles.profiles", return_value={"p": {"description": "d",
                                                                          "required": ["tools/tool-use-id"]}}):
        out = readiness(results, ["tools/tool-use-id", "tools/forced-call"])
    assert (out["p"]["status"], out["p"]["not_run"]) == ("not-covered", ["tools/tool-use-id"])


# A layer that loses what the model needs (a served target: its content misses are not failures by themselves).
LOST = [("system-string-ignored", "system/string"), ("system-blocks-ignored", "system/blocks"),
        ("tool-result-ignored", "tools/round-trip"), ("tool-result-ignored", "tools/result-blocks-with-error"),
        ("tool-result-ignored", "tools/parallel-results"),
        ("stop-sequences-ignored", "acceptance/multiple-stop-sequences"),
        ("sse-lose-text-delta", "streaming/follows-directive"),
        ("mangle-non-ascii", "acceptance/unicode-text"), ("sse-tool-input-differs", "streaming/tool-input")]


@pytest.mark.parametrize(("fault", "item"), LOST, ids=[f"{f}-{i}" for f, i in LOST])
def test_behaviour_a_layer_drops_fails_when_the_control_in_the_user_turn_is_followed(fault, item, make_target):
    result = run_all(make_target(f"/faults/{fault}", embedded=False), [item])[item]
    assert result.verdict is Verdict.FAIL, (result.reason, result.findings)
    assert any(why in f.got for f in result.findings for why in ("plain user turn was followed", "in the text",
                                                                  "the stream lost it", "the stream changed it")), \
        result.findings
    if any("plain user turn was followed" in f.got for f in result.findings):  # both exchanges are the evidence
        names = [name for name, _, _ in result.exchanges]
        assert any(n.startswith("control:") for n in names) and len(result.evidence) == len(names) >= 2, names


@pytest.mark.parametrize("item", ["system/string", "tools/round-trip", "streaming/follows-directive",
                                  "message/stop-sequence"])
def test_a_model_that_disobeys_the_control_too_is_only_warned_about(item, make_target):
    fault = "/faults/ignore-user-directives+system-string-ignored+tool-result-ignored+sse-lose-text-delta"
    result = run_all(make_target(fault, embedded=False), [item])[item]
    assert result.verdict is Verdict.WARN, (result.reason, result.findings)
    assert "the model's miss, not the layer's" in result.findings[0].got


def test_a_control_is_sent_only_when_the_probe_was_missed(make_target):
    session = Session(make_target(embedded=False), expensive=True)
    try:
        for item in ("system/string", "tools/round-trip", "streaming/follows-directive"):
            assert run_check(session, item).verdict is Verdict.PASS
        assert not [name for name in session.exchanges if name.startswith("control:")]
    finally:
        session.close()


RUN_WITHOUT_FIXTURES = """
import sys
from importlib import resources
from pathlib import Path

import pytest

from conformance.pytest_run import ConformanceRun
from conformance.run import Run
from conformance.settings import Settings


class BreakSetup:
    def pytest_runtest_setup(self, item):
        raise RuntimeError("the setup broke before the check")


run = Run(Settings({"report": sys.argv[1], "keyword": "auth"}))
suites = Path(str(resources.files("conformance.suites")))
run.prepare()
try:
    code = pytest.main([str(suites), "-c", str(suites / "conformance.ini"), "--rootdir", str(suites), "-q",
                        "-p", "no:cacheprovider", "-p", "no:anthropic_conformance", "-k", "auth"],
                       plugins=[ConformanceRun(run), BreakSetup()])
finally:
    run.stop_server()
print("exit", pytest.ExitCode(code).name)
"""


def test_items_that_fail_outside_their_check_are_errors_in_the_report(tmp_path):
    """Every item errors at setup (before its check runs): each is an `error` in the report, none is missing, and
    the run fails."""
    import json
    import subprocess
    import sys

    from conformance.report import validate_report

    report_path = tmp_path / "r.json"
    out = subprocess.run([sys.executable, "-c", RUN_WITHOUT_FIXTURES, str(report_path)], capture_output=True,
                         text=True, timeout=120)
    assert "exit TESTS_FAILED" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    report = json.loads(report_path.read_text())
    assert not validate_report(report)
    auth = sorted(i for c in all_checks().values() for i in c.item_ids() if "auth" in i)  # as -k auth selects
    assert sorted(r["id"] for r in report["results"]) == auth
    assert {r["verdict"] for r in report["results"]} == {"error"}
    assert all("the setup broke before the check" in r["reason"] and "in setup" in r["reason"]
               for r in report["results"]), report["results"][0]["reason"]
    assert report["summary"]["error"] == len(auth) and report["summary"]["pass"] == 0


def test_a_suite_that_cannot_be_collected_leaves_its_checks_as_errors(make_target):
    from types import SimpleNamespace

    from conformance.pytest_run import ConformanceRun
    from conformance.run import Run
    from conformance.settings import Settings

    run = Run(Settings({"keyword": "streaming and not tool"}), targets={"": make_target()})
    ConformanceRun(run).pytest_collectreport(SimpleNamespace(failed=True, nodeid="test_streaming.py",
                                                             longreprtext="E   ImportError: cannot import name 'x'"))
    report = run.build("", make_target())
    ids = {r["id"] for r in report["results"]}
    assert "streaming/framing" in ids and not {"streaming/tool-input", "streaming/parallel-tools"} & ids
    assert all(r["verdict"] == "error" and "could not be collected" in r["reason"] and "ImportError" in r["reason"]
               for r in report["results"])


def test_the_summary_names_each_root_cause_once_for_the_checks_it_blocked():
    from conformance.summary import not_run_lines

    def skipped(item, by):
        return {"id": item, "verdict": "skipped", "reason": f"... {by} reports it", "blocked_by": by}

    report = {"results": [{"id": "streaming/content-type", "verdict": "fail", "reason": "", "findings": []},
                          skipped("streaming/tool-input", "streaming/content-type"),
                          skipped("golden/tool-stream-shape", "streaming/tool-input"),
                          skipped("streaming/framing", "streaming/content-type")]}
    assert not_run_lines(report) == [
        "  SKIPPED     3 checks: not judged: what they need is missing, and streaming/content-type reports it"]


OVERLOADED = (b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
              b'\n\n')
STARTED = (b'event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "type": "message", '
           b'"role": "assistant", "content": [], "model": "m", "stop_reason": null, "stop_sequence": null, '
           b'"usage": {"input_tokens": 1, "output_tokens": 0}}}\n\n')


def test_a_stream_that_is_only_an_overloaded_error_is_sent_again_and_never_judged(monkeypatch):
    """The real API answers overload with a 200 stream holding one overloaded_error event: a client retries it."""
    from conformance.engine import Context, HarnessError
    from conformance.target import Secret, Target
    from conformance.wire import Exchange, Wire, WireRequest

    target = Target(base_url="http://127.0.0.1:9", api_key=Secret("sk-ant-trust-test"), retry_base=0.01)
    answers = [OVERLOADED, OVERLOADED, STARTED]

    def once(self, name, request, timeout=None):
        return Exchange(name=name, request=request, url="", status=200,
                        headers={"content-type": "text/event-stream"}, body=answers.pop(0) if answers else OVERLOADED)

    monkeypatch.setattr(Wire, "_send_once", once)
    wire = Wire.__new__(Wire)
    wire.target = target
    ex = wire.send("s", WireRequest(body={"stream": True}), timeout=30)
    assert not ex.busy and ex.body == STARTED and len(ex.attempts) == 2
    ping_first = Exchange(name="p", request=WireRequest(), url="", status=200,
                          headers={"content-type": "text/event-stream"},
                          body=b'event: ping\ndata: {"type": "ping"}\n\n' + OVERLOADED)
    assert ping_first.overloaded_stream
    mid_stream = Exchange(name="m", request=WireRequest(), url="", status=200,
                          headers={"content-type": "text/event-stream"}, body=STARTED + OVERLOADED)
    assert not mid_stream.overloaded_stream  # a mid-stream error is judged (streaming/error-event-shape)

    ex = wire.send("s2", WireRequest(body={"stream": True}), timeout=30)  # overloaded every time
    assert ex.busy and len(ex.attempts) == 3
    ctx = Context.__new__(Context)
    ctx.used = []
    with pytest.raises(HarnessError, match="only an overloaded_error event"):
        Context.use(ctx, ex)


def test_a_feature_the_model_does_not_offer_is_unsupported_and_breaks_no_profile(make_target):
    """The real API's 400 "... is not supported on this model" / "deprecated for this model" is model-gated: the
    checks say unsupported, Claude Code's replica is sent as Claude Code sends such a model, and no profile breaks."""
    from conformance.report import result_dict

    results = run_all(make_target("/faults/model-without-role-system+model-without-temperature"))
    bad = not_passing(results)
    assert {i: r.verdict for i, r in bad.items()} == {"acceptance/system-role-first": Verdict.UNSUPPORTED,
                                                       "system/role-system-message": Verdict.UNSUPPORTED,
                                                       "headers/temperature-2023": Verdict.UNSUPPORTED}
    assert results["acceptance/claude-code-request"].verdict is Verdict.PASS
    profiles = readiness([result_dict(r, "") for r in results.values()], ALL_ITEMS)
    assert {name: p["status"] for name, p in profiles.items()} == dict.fromkeys(profiles, "ready")


@pytest.mark.parametrize("fault", ["model-echoes-prompt", "model-echoes-prompt+system-string-ignored"])
def test_a_model_that_echoes_its_prompt_is_never_taken_for_a_layer_that_lost_something(fault, make_target):
    """Fakes that quote the prompt back ("Received: Reply with exactly: ...") contain the control's words without
    obeying them: such a control is not followed, so no content miss becomes a failure."""
    results = run_all(make_target(f"/faults/{fault}", embedded=False))
    assert not [i for i, r in results.items() if r.verdict is Verdict.FAIL], {
        i: r.findings[:1] for i, r in results.items() if r.verdict is Verdict.FAIL}
    assert results["system/string"].verdict is Verdict.WARN


def test_no_control_blames_the_layer_for_a_reply_without_room_a_chosen_tool_call_or_a_single_attempt():
    """Against a model: a reply cut by max_tokens, a tool call where many tools were offered, or a probe sent only
    once (the SDK's calls) is a warning, and no control is sent; the probe must miss as often as the control hits."""
    from types import SimpleNamespace

    from conformance.checks.common import controlled_miss

    ctx = SimpleNamespace(target=SimpleNamespace(deterministic=False), session=SimpleNamespace(content_attempts=3))
    args = (ctx, "text containing 'a b c'", '""', "", ["a", "b", "c"], "somewhere")
    assert "max_tokens" in controlled_miss(*args, reply={"stop_reason": "max_tokens"}).got
    assert "called a tool" in controlled_miss(*args, reply={"stop_reason": "tool_use"}, tool_call_ok=True).got
    assert "sent once" in controlled_miss(*args, attempts=1).got
    for finding in (controlled_miss(*args, reply={"stop_reason": "max_tokens"}), controlled_miss(*args, attempts=1)):
        assert finding.verdict is Verdict.WARN


@pytest.mark.parametrize(("fault", "item"), [("sse-drop-after-16-deltas", "streaming/long-text"),
                                             ("tool-result-ignored", "sdk/tool-round-trip"),
                                             ("sse-tool-input-differs", "parity/tool-input")])
def test_a_single_shot_probe_against_a_model_is_only_warned_about(fault, item, make_target):
    assert run_all(make_target(f"/faults/{fault}", embedded=False), [item])[item].verdict is Verdict.WARN
    assert run_all(make_target(f"/faults/{fault}"), [item])[item].verdict is Verdict.FAIL  # deterministic: fails


def test_words_match_whatever_the_unicode_normalisation_or_emoji_presentation():
    from conformance.checks.common import contains_words

    words = ["café", "❄️", "🎉"]
    assert contains_words("cafe\u0301 \u2744 \U0001f389", words)  # decomposed é, the snowflake without U+FE0F
    assert not contains_words("caf? ? ?", words) and not contains_words("caf\ufffd \u2744 \U0001f389", words)


def test_a_404_that_says_the_model_is_unknown_is_no_unserved_endpoint():
    from conformance.checks.common import unserved
    from conformance.engine import Unsupported

    unknown = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x not found"}}
    unserved(404, "count_tokens", "", unknown, "claude-x")  # judged, not unsupported: the endpoint is there
    with pytest.raises(Unsupported):
        unserved(404, "count_tokens", "", {"detail": "Not Found"}, "claude-x")


def test_a_leading_system_message_rejected_as_the_real_api_does_passes(make_target):
    """The real API answers [system, user] with 400 invalid_request_error; a layer that does the same is right, one
    that accepts and honours it is lenient and also passes, one that crashes fails."""
    item = "acceptance/system-role-first"
    assert run_all(make_target("/faults/role-system-rejected"), [item])[item].verdict is Verdict.PASS
    assert run_all(make_target(), [item])[item].verdict is Verdict.PASS
    assert run_all(make_target("/faults/leading-system-role-500"), [item])[item].verdict is Verdict.FAIL


def test_an_answer_to_a_beta_request_may_end_with_a_beta_stop_reason():
    """A gateway passing Claude Code's beta request through gets beta answers (stop_reason compaction): judged
    against the SDK's beta types, never a failure; the same stop reason without a beta request still is."""
    import json

    from conformance.wire import Exchange, WireRequest

    def event(kind, data):
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}
    body = (event("message_start", {"message": message})
            + event("message_delta", {"delta": {"stop_reason": "compaction", "stop_sequence": None},
                                      "usage": {"output_tokens": 3}})
            + event("message_stop", {})).encode()

    def validator(request):
        return Exchange(name="x", request=request, url="", status=200, headers={"content-type": "text/event-stream"},
                        body=body).stream

    assert not validator(WireRequest(path="/v1/messages?beta=true")).violations
    assert not validator(WireRequest(headers=(("anthropic-beta", "context-management-2025-06-27"),))).violations
    assert [v.rule for v in validator(WireRequest()).violations] == ["STREAM-STOP-REASON"]
