"""The API checks are written against: a finding's rule defaults to the running check's, a stream's violations name
their place, and Exchange.stream is the validator."""

from __future__ import annotations

from conformance import engine
from conformance.engine import Check, Session, fail, finding, run_check, strict, warn
from conformance.sse import Violation, event_where
from conformance.target import Secret, Target
from conformance.verdicts import Verdict
from conformance.wire import Exchange, WireRequest


def test_a_finding_without_a_rule_is_of_the_running_checks_rule_and_one_naming_another_keeps_it(monkeypatch):
    def demo(ctx):
        return [fail("a", "b", "$.x"), warn("c", "d"), strict("e", "f"), finding(Verdict.WARN, "g", "h"),
                fail("i", "j", rule="SSE-FRAMING")]

    engine.all_checks()
    monkeypatch.setitem(engine.REGISTRY, "demo/own-rule", Check("demo/own-rule", "MSG-SCHEMA", "free", demo))
    session = Session(Target(base_url="http://127.0.0.1:9", api_key=Secret("sk-ant-check-api-test")))
    try:
        result = run_check(session, "demo/own-rule")
    finally:
        session.close()
    assert [f.rule for f in result.findings] == ["MSG-SCHEMA"] * 4 + ["SSE-FRAMING"]
    assert result.verdict is Verdict.FAIL


def test_a_violation_names_its_event_path_and_state_and_never_an_event_none():
    at_event = Violation("STREAM-DELTA-TYPE", 3, "x", "y", "BLOCK_OPEN(index=0, type=text)", "$.delta.type")
    at_end = Violation("STREAM-STOP-LAST", None, "x", "y", "MESSAGE")
    assert at_event.where == "event #3 $.delta.type in state BLOCK_OPEN(index=0, type=text)"
    assert at_end.where == "end of stream in state MESSAGE"
    assert str(at_end) == "STREAM-STOP-LAST at end of stream in state MESSAGE: expected x; got y"
    assert event_where(None) == "end of stream" and event_where(7, "$.type") == "event #7 $.type"
    assert "None" not in at_end.where


def test_exchange_stream_is_the_validator_with_its_events_and_message():
    body = (b'event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "type": "message", '
            b'"role": "assistant", "content": [], "model": "m", "stop_reason": null, "stop_sequence": null, '
            b'"usage": {"input_tokens": 1, "output_tokens": 0}}}\n\n')
    ex = Exchange(name="s", request=WireRequest(), url="", status=200, headers={"content-type": "text/event-stream"},
                  body=body)
    stream = ex.stream
    assert stream is ex.stream  # parsed once
    assert stream.message["id"] == "msg_1" and len(stream.events) == 1
    assert [v.where for v in stream.violations_for("STREAM-STOP-LAST")] == ["end of stream in state MESSAGE"]


def test_the_sse_modules_each_state_their_job_stay_small_and_cite_only_catalogued_rules():
    import ast
    import re
    from pathlib import Path

    from conformance import sse
    from conformance.data import rules

    modules = sorted(Path(sse.__file__).parent.glob("sse*.py"))
    assert [m.name for m in modules] == ["sse.py", "sse_blocks.py", "sse_decoder.py", "sse_order.py", "sse_rules.py"]
    used = set()
    for module in modules:
        text = module.read_text(encoding="utf-8")
        assert ast.get_docstring(ast.parse(text)), module.name
        assert text.count("\n") < 500, module.name
        used |= set(re.findall(r'"((?:SSE|STREAM)-[A-Z-]+)"', text))
    assert len(used) == 14 and used <= set(rules())


def test_the_packaged_schemas_agree_with_the_one_definition_of_stop_reasons_and_event_types():
    from conformance.schemas import schema
    from conformance.vocabulary import KNOWN_EVENTS, STOP_REASONS

    message, events = schema("message"), schema("stream-event")
    assert message["properties"]["stop_reason"]["anyOf"][0]["enum"] == list(STOP_REASONS)
    for name in ("Delta", "Message"):
        assert events["$defs"][name]["properties"]["stop_reason"]["anyOf"][0]["enum"] == list(STOP_REASONS)
    assert {item["if"]["properties"]["type"]["const"] for item in events["allOf"]} == KNOWN_EVENTS
