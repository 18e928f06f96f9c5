"""Tests for conformance.sse: the WHATWG event-stream decoder and the Messages API stream state machine."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import sse as sse_module
from conformance.data import rules
from conformance.sse import (
    KNOWN_EVENTS,
    MAX_PER_RULE,
    REQUEST_ERRORS,
    TRANSITIONS,
    SSEDecoder,
    SSEEvent,
    State,
    StreamValidator,
    Violation,
    describe,
    validate_stream,
)

# ---------------------------------------------------------------------------------------------------------
# Stream builders
# ---------------------------------------------------------------------------------------------------------

Item = tuple[str | None, Any]  # (event name or None for no event: line, data dict or raw data string)


def sse(items: list[Item], eol: str = "\n") -> bytes:
    """Encode (event, data) pairs as an event stream; a dict is sent as compact JSON on one data: line."""
    out = []
    for name, data in items:
        if name is not None:
            out.append(f"event: {name}{eol}")
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.extend(f"data: {line}{eol}" for line in text.split("\n"))
        out.append(eol)
    return "".join(out).encode()


def named(*datas: dict[str, Any]) -> list[Item]:
    """Each data dict as an event named after its type."""
    return [(data["type"], data) for data in datas]


def message_start(**changes: Any) -> dict[str, Any]:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-test",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    message.update(changes)
    return {"type": "message_start", "message": message}


def block_start(index: int, block_type: str = "text", **fields: Any) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "text": {"text": ""},
        "tool_use": {"id": "toolu_01", "name": "get_weather", "input": {}},
        "thinking": {"thinking": "", "signature": ""},
    }
    block = {"type": block_type, **defaults.get(block_type, {}), **fields}
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: Any, delta_type: str = "text_delta", **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, **fields}}


def text(index: int, piece: str) -> dict[str, Any]:
    return delta(index, "text_delta", text=piece)


def block_stop(index: Any) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: Any = "end_turn", output_tokens: Any = 5, **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens, **usage},
    }


MESSAGE_STOP = {"type": "message_stop"}
PING = {"type": "ping"}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def text_stream(*pieces: str) -> list[Item]:
    """A correct one-block text stream: message_start, block 0 with one delta per piece, the end."""
    return named(
        message_start(),
        block_start(0),
        *(text(0, piece) for piece in pieces),
        block_stop(0),
        message_delta(),
        MESSAGE_STOP,
    )


def check(items: list[Item], eol: str = "\n") -> StreamValidator:
    return validate_stream(sse(items, eol))[1]


def only(validator: StreamValidator, rule: str) -> Violation:
    """The single violation, which must be of `rule`."""
    assert [v.rule for v in validator.violations] == [rule], validator.violations
    return validator.violations[0]


def events_of(raw: bytes, chunks: list[bytes] | None = None) -> tuple[list[SSEEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks if chunks is not None else [raw]:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder


def split_at(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(raw), *(min(cut, len(raw)) for cut in cuts)})
    return [raw[a:b] for a, b in zip(points, points[1:], strict=False)]


# ---------------------------------------------------------------------------------------------------------
# The decoder
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_it_accepts_lf_crlf_and_cr_line_endings(eol: str) -> None:
    events, decoder = events_of(f"event: a{eol}data: 1{eol}{eol}data: 2{eol}data: 3{eol}{eol}".encode())
    assert events == [SSEEvent(0, "a", "1"), SSEEvent(1, None, "2\n3")]
    assert decoder.errors == []


def test_it_treats_a_crlf_split_across_two_chunks_as_one_line_ending() -> None:
    events, decoder = events_of(b"", [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert events == [SSEEvent(0, None, "a\nb")]
    assert decoder.errors == []


def test_it_treats_a_cr_at_a_chunk_end_followed_by_another_cr_as_two_line_endings() -> None:
    events, _ = events_of(b"", [b"data: a\r", b"\rdata: b\r", b"", b"\r"])
    assert [event.data for event in events] == ["a", "b"]


@pytest.mark.parametrize("cut", range(1, 12))
def test_it_decodes_a_multi_byte_character_split_between_chunks(cut: int) -> None:
    raw = "data: é🎉\n\n".encode()
    events, decoder = events_of(raw, [raw[:cut], raw[cut:]])
    assert events == [SSEEvent(0, None, "é🎉")]
    assert decoder.errors == []


def test_it_replaces_invalid_utf8_and_reports_it_once_with_its_byte_offset() -> None:
    events, decoder = events_of(b"", [b"data: ok\n\n", b"data: a\xffb\n\n", b"data: \xfe\n\n"])
    assert [event.data for event in events] == ["ok", "a\ufffdb", "\ufffd"]
    assert len(decoder.errors) == 1
    assert decoder.errors[0].startswith("invalid UTF-8 at byte offset 17 ")


def test_it_reports_a_multi_byte_character_cut_off_by_the_end_of_the_stream() -> None:
    events, decoder = events_of(b"data: x\n\n\xe4\xb8")
    assert [event.data for event in events] == ["x"]
    assert decoder.errors[0].startswith("invalid UTF-8 at byte offset 9 ")


def test_it_counts_comment_lines_and_ignores_them() -> None:
    events, decoder = events_of(b": hello\ndata: x\n: between\n:\n\n: after\n")
    assert events == [SSEEvent(0, None, "x")]
    assert decoder.comments == 4
    assert decoder.errors == []


def test_it_joins_multi_line_data_with_newlines() -> None:
    events, _ = events_of(b"data: a\ndata:\ndata:  b\ndata\n\n")
    assert events == [SSEEvent(0, None, "a\n\n b\n")]


def test_it_accepts_fields_with_no_space_after_the_colon_and_removes_only_one_space() -> None:
    events, _ = events_of(b"event:ping\ndata:{}\n\nevent:  two\ndata:  x\n\n")
    assert events == [SSEEvent(0, "ping", "{}"), SSEEvent(1, " two", " x")]


def test_it_strips_one_byte_order_mark_at_the_start_of_the_stream_only() -> None:
    raw = "\ufeffdata: x\n\n\ufeffdata: y\n\n".encode()
    events, _ = events_of(raw, [raw[:1], raw[1:2], raw[2:]])
    assert events == [SSEEvent(0, None, "x")]  # the second BOM makes an unknown field name


def test_it_does_not_dispatch_an_event_without_data_and_forgets_its_name() -> None:
    events, _ = events_of(b"event: ping\n\ndata: x\n\n")
    assert events == [SSEEvent(0, None, "x")]


def test_it_uses_the_last_event_field_of_a_block() -> None:
    events, _ = events_of(b"event: a\nevent: b\ndata: x\n\n")
    assert events == [SSEEvent(0, "b", "x")]


def test_it_keeps_the_last_event_id_and_takes_retry_only_as_ascii_digits() -> None:
    raw = (
        b"id: 7\nretry: 1500\ndata: a\n\n"
        b"data: b\n\n"
        b"id: x\x00y\nretry: 15a\ndata: c\n\n"
        b"id\nretry: \xd9\xa3\ndata: d\n\n"
    )
    events, _ = events_of(raw)
    assert events == [
        SSEEvent(0, None, "a", "7", 1500),
        SSEEvent(1, None, "b", "7", None),
        SSEEvent(2, None, "c", "7", None),  # an id with NUL and a retry with a letter are ignored
        SSEEvent(3, None, "d", "", None),  # a non-ASCII digit is not a retry
    ]


def test_it_ignores_unknown_fields() -> None:
    events, _ = events_of(b"foo: bar\ndata: x\nDATA: y\n\n")
    assert events == [SSEEvent(0, None, "x")]


def test_it_reports_but_does_not_dispatch_an_unterminated_final_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\nevent: message_stop\ndata: {}\n") == [SSEEvent(0, None, "1")]
    assert decoder.close() == []
    assert len(decoder.errors) == 1
    assert decoder.errors[0].startswith(
        "unterminated final event at end of stream (event: message_stop, 1 data"
    )


def test_it_reports_a_final_line_without_its_line_ending() -> None:
    _, decoder = events_of(b"data: 1\n\ndata: {")
    assert "an unended line 'data: {'" in decoder.errors[0]


def test_it_does_not_report_a_stream_that_ends_with_a_comment_or_a_blank_line() -> None:
    assert events_of(b"data: 1\n\n: bye")[1].errors == []
    assert events_of(b"data: 1\r\r")[1].errors == []


def test_it_counts_bytes_and_numbers_events_in_order() -> None:
    events, decoder = events_of(b"", [b"data: a\n\n", b"data: b\n\ndata: c\n\n"])
    assert [event.index for event in events] == [0, 1, 2]
    assert decoder.bytes_seen == 27


def test_it_refuses_bytes_after_close_and_closes_only_once() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: x\n")
    decoder.close()
    assert decoder.close() == []
    assert len(decoder.errors) == 1
    with pytest.raises(RuntimeError):
        decoder.feed(b"\n")


def test_it_decodes_a_10_mb_line_and_many_events_fed_in_4_kb_chunks() -> None:
    one_line = b"data: " + b"x" * 10_000_000 + b"\n\n"
    events = ('event: e\r\ndata: {"text": "h\xc3\xa9llo w\xc3\xb6rld"}\r\n\r\n'.encode("latin-1")) * 50_000
    for raw in (one_line, events):
        decoder = SSEDecoder()
        decoded = [e for at in range(0, len(raw), 4096) for e in decoder.feed(raw[at : at + 4096])]
        assert len(decoded) == (1 if raw is one_line else 50_000)
        assert not decoder.errors
    assert len(decoded[-1].data) == len('{"text": "héllo wörld"}')


# A valid stream that uses every unusual framing feature at once, to be split at random points.
UNUSUAL = (
    b"\xef\xbb\xbf: opening comment\r\n"
    + sse(named(PING), "\r")
    + sse(named(message_start()), "\r\n")
    + b"event:content_block_start\ndata:"
    + json.dumps(block_start(0)).encode()
    + b"\n\n"
    + sse(named(text(0, "héllo 🎉 "), PING), "\r\n")
    + b": keep-alive\r\r"
    + b"event: content_block_delta\ndata: "
    + json.dumps(text(0, "wörld"), indent=2).replace("\n", "\ndata: ").encode()
    + b"\n\n"
    + sse(named(block_stop(0), message_delta(), MESSAGE_STOP, PING), "\r")
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(UNUSUAL)), max_size=40))
def test_it_decodes_the_same_events_however_the_stream_is_split(cuts: list[int]) -> None:
    whole, _ = events_of(UNUSUAL)
    pieces, decoder = events_of(UNUSUAL, split_at(UNUSUAL, cuts))
    assert pieces == whole
    assert decoder.errors == []
    decoder, validator = validate_stream(split_at(UNUSUAL, cuts))
    assert validator.violations == [] and validator.warnings == []
    assert validator.text == "héllo 🎉 wörld"


def test_it_decodes_the_same_events_fed_one_byte_at_a_time() -> None:
    whole, _ = events_of(UNUSUAL)
    one_by_one, decoder = events_of(UNUSUAL, [UNUSUAL[at : at + 1] for at in range(len(UNUSUAL))])
    assert one_by_one == whole
    assert len(whole) == 10
    assert decoder.comments == 2
    assert decoder.errors == []


# ---------------------------------------------------------------------------------------------------------
# The state machine: correct streams
# ---------------------------------------------------------------------------------------------------------


def test_it_accepts_a_correct_text_stream_and_accumulates_the_message() -> None:
    validator = check(text_stream("Hel", "lo"))
    assert validator.violations == [] and validator.warnings == []
    assert validator.state is State.STOPPED
    assert validator.text == "Hello"
    assert validator.stop_reasons == ["end_turn"]
    assert validator.output_tokens == [5]
    assert validator.message == {
        **message_start()["message"],
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }
    assert [describe(*pair) for pair in validator.events][:3] == [
        "message_start",
        "content_block_start(index=0, text)",
        "content_block_delta(index=0, text_delta)",
    ]


def test_it_accepts_a_correct_tool_use_stream_and_parses_the_input() -> None:
    items = named(
        message_start(),
        block_start(0),
        text(0, "Let me check."),
        block_stop(0),
        block_start(1, "tool_use"),
        delta(1, "input_json_delta", partial_json=""),
        delta(1, "input_json_delta", partial_json='{"city": "Par'),
        delta(1, "input_json_delta", partial_json='is", "days": [1, 2]}'),
        block_stop(1),
        message_delta("tool_use", 30),
        MESSAGE_STOP,
    )
    validator = check(items)
    assert validator.violations == [] and validator.warnings == []
    assert validator.message is not None
    assert validator.message["content"][1] == {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "get_weather",
        "input": {"city": "Paris", "days": [1, 2]},
    }
    assert validator.message["stop_reason"] == "tool_use"


def test_it_takes_a_tool_input_from_content_block_start_when_every_fragment_is_empty() -> None:
    items = named(
        message_start(),
        block_start(0, "tool_use", input={"q": 1}),
        delta(0, "input_json_delta", partial_json=""),
        block_stop(0),
        message_delta("tool_use"),
        MESSAGE_STOP,
    )
    validator = check(items)
    assert validator.violations == []
    assert validator.message is not None and validator.message["content"][0]["input"] == {"q": 1}


def test_it_accumulates_thinking_text_and_signature() -> None:
    items = named(
        message_start(),
        block_start(0, "thinking"),
        delta(0, "thinking_delta", thinking="Let me "),
        delta(0, "thinking_delta", thinking="think."),
        delta(0, "signature_delta", signature="c2lnbmF0dXJl"),
        block_stop(0),
        block_start(1),
        text(1, "42"),
        block_stop(1),
        message_delta(),
        MESSAGE_STOP,
    )
    validator = check(items)
    assert validator.violations == []
    assert validator.message is not None
    assert validator.message["content"][0] == {
        "type": "thinking",
        "thinking": "Let me think.",
        "signature": "c2lnbmF0dXJl",
    }
    assert validator.text == "42"


def test_it_accepts_valid_but_unusual_streams() -> None:
    pings_everywhere = [item for pair in text_stream("a", "b") for item in (("ping", PING), pair)]
    several_blocks_and_extras = named(
        {**message_start(), "extra": {"nested": True}},
        block_start(0),
        block_stop(0),  # a block with zero deltas
        block_start(1, future_field=[1]),
        {**text(1, "x"), "also": "extra"},
        block_stop(1),
        message_delta("max_tokens", 7, cache_read_input_tokens=0),
        message_delta("end_turn", 9),  # several message_deltas, cumulative usage
        MESSAGE_STOP,
    )
    pretty = b"".join(
        f"event: {data['type']}\n".encode()
        + b"".join(b"data: " + line.encode() + b"\n" for line in json.dumps(data, indent=2).split("\n"))
        + b"\n"
        for _, data in text_stream("hi")
    )
    for raw in (
        sse(pings_everywhere[1:] + named(PING), "\r\n"),  # a ping after every event, message_start first
        sse(several_blocks_and_extras, "\r"),
        pretty,
    ):
        decoder, validator = validate_stream(raw)
        assert validator.violations == validator.deviations == validator.warnings == [], validator.violations
        assert decoder.errors == []


def test_it_reports_pings_before_message_start_once_as_a_deviation_the_clients_read_past() -> None:
    validator = check(named(PING, PING) + text_stream("a"))
    assert validator.violations == []
    assert [(v.rule, v.event_index, v.state, v.got) for v in validator.deviations] == [
        ("STREAM-START", 0, "START", "ping as event #0, before message_start"),
    ]
    assert validator.deviations_for("STREAM-START") == validator.deviations
    assert validator.deviations_for("STREAM-STOP-LAST") == []
    assert validator.text == "a"


def test_it_steps_through_its_states() -> None:
    validator = StreamValidator()
    seen = [validator.state_label]
    items = text_stream("x")
    for index, (name, data) in enumerate(items):
        validator.feed(SSEEvent(index, name, json.dumps(data)))
        seen.append(validator.state_label)
    assert seen == [
        "START",
        "MESSAGE",
        "BLOCK_OPEN(index=0, type=text)",
        "BLOCK_OPEN(index=0, type=text)",
        "MESSAGE",
        "MESSAGE_DELTA",
        "STOPPED",
    ]


def test_its_transition_table_has_a_cell_for_every_state_and_event_type() -> None:
    assert set(TRANSITIONS) == set(State)
    for state, row in TRANSITIONS.items():
        assert "*" in row and "ping" in row, state
        if state not in (State.STOPPED, State.ERRORED):
            assert KNOWN_EVENTS <= set(row), state


def test_it_only_uses_rule_ids_from_the_rules_catalogue() -> None:
    used = set()
    for path in (sse_module.__file__, __file__):
        with open(path, encoding="utf-8") as handle:
            used |= set(re.findall(r'"((?:SSE|STREAM)-[A-Z-]+)"', handle.read()))
    assert len(used) == 14
    assert used <= set(rules())


# ---------------------------------------------------------------------------------------------------------
# The state machine: one broken stream per rule
# ---------------------------------------------------------------------------------------------------------


def test_it_reports_every_event_of_a_data_only_stream_but_still_checks_the_order() -> None:
    validator = check([(None, data) for _, data in text_stream("Hi")])
    assert {v.rule for v in validator.violations} == {"SSE-EVENT-FIELD"}
    assert [v.event_index for v in validator.violations] == list(range(6))
    assert validator.violations[0].got == "message_start (no event: field)"
    assert validator.text == "Hi"


def test_it_reports_an_empty_event_field() -> None:
    items = text_stream("x")
    items[1] = ("", items[1][1])
    violation = only(check(items), "SSE-EVENT-FIELD")
    assert violation.event_index == 1
    assert violation.got == "content_block_start(index=0, text) (an event with an empty event: field)"


def test_it_reports_a_done_sentinel_without_an_event_name() -> None:
    validator = check(text_stream("x") + [(None, "[DONE]")])
    assert [(v.rule, v.event_index) for v in validator.violations] == [
        ("SSE-EVENT-FIELD", 6),
        ("SSE-DATA-JSON", 6),
    ]
    assert validator.violations[1].got == "data [DONE], which is not JSON"
    assert validator.violations[1].state == "STOPPED"


def test_it_reports_a_named_done_sentinel_as_an_event_after_message_stop() -> None:
    validator = check(text_stream("x") + [("done", "[DONE]")])
    assert [(v.rule, v.event_index) for v in validator.violations] == [
        ("SSE-DATA-JSON", 6),
        ("STREAM-STOP-LAST", 6),
    ]
    assert validator.violations[1].got == "done (data: [DONE]) after message_stop (event #5)"


def test_it_reports_data_that_is_json_but_not_an_object_with_a_type() -> None:
    items = text_stream("x")
    items.insert(1, ("ping", "[1, 2]"))
    items.insert(2, ("ping", '{"kind": "ping"}'))
    validator = check(items)
    assert [(v.rule, v.event_index, v.got, v.path) for v in validator.violations] == [
        ("SSE-DATA-JSON", 1, "data that is an array: [1, 2]", ""),
        ("SSE-DATA-JSON", 2, "a JSON object without type", "$.type"),
    ]


def test_it_reports_an_event_name_that_differs_from_the_data_type_and_dispatches_on_the_type() -> None:
    items = text_stream("a", "b")
    items[3] = ("ping", items[3][1])
    validator = check(items)
    violation = only(validator, "SSE-EVENT-TYPE-MATCH")
    assert (violation.event_index, violation.path) == (3, "$.type")
    assert violation.got == 'event: ping with data of type "content_block_delta"'
    assert validator.text == "ab"


def test_it_reports_a_missing_message_start_once_and_checks_the_rest() -> None:
    validator = check(named(PING) + text_stream("x")[1:])
    violation = only(validator, "STREAM-START")
    assert (violation.event_index, violation.state) == (1, "START")
    assert violation.got == "content_block_start(index=0, text) first"
    assert validator.message is None
    assert validator.text == "x"


def test_it_reports_a_stream_of_pings_only() -> None:
    validator = check(named(PING, PING))
    assert [(v.rule, v.event_index, v.got) for v in validator.violations] == [
        ("STREAM-START", None, "end of stream after 2 events; last: ping"),
        ("STREAM-STOP-LAST", None, "end of stream after 2 events; last: ping"),
    ]


def test_it_reports_a_duplicate_message_start() -> None:
    items = text_stream("x")
    items.insert(4, ("message_start", message_start()))
    violation = only(check(items), "STREAM-START")
    assert (violation.event_index, violation.state) == (4, "MESSAGE")
    assert violation.got == "a second message_start (the first was event #0)"


@pytest.mark.parametrize(
    ("changes", "path", "got"),
    [
        (
            {"content": [{"type": "text", "text": "hi"}]},
            "$.message.content",
            '[{"type": "text", "text": "hi"}]',
        ),
        ({"stop_reason": "end_turn"}, "$.message.stop_reason", '"end_turn"'),
        ({"usage": {"input_tokens": "12", "output_tokens": 1}}, "$.message.usage.input_tokens", '"12"'),
        ({"usage": {"input_tokens": 12}}, "$.message.usage.output_tokens", "no output_tokens"),
        ({"usage": None}, "$.message.usage", "no usage"),
    ],
)
def test_it_reports_a_message_start_of_the_wrong_shape(changes: dict[str, Any], path: str, got: str) -> None:
    items = text_stream("x")
    items[0] = ("message_start", message_start(**changes))
    violation = only(check(items), "STREAM-START-SHAPE")
    assert (violation.event_index, violation.path, violation.got) == (0, path, got)


def test_it_reports_a_message_start_without_the_stop_reason_key() -> None:
    data = message_start()
    del data["message"]["stop_reason"]
    violation = only(check(named(data) + text_stream("x")[1:]), "STREAM-START-SHAPE")
    assert (violation.path, violation.expected, violation.got) == (
        "$.message.stop_reason",
        "stop_reason null (key present)",
        "no stop_reason",
    )


def test_it_reports_overlapping_block_starts() -> None:
    items = named(message_start(), block_start(0), text(0, "a"), block_start(1), text(1, "b"), block_stop(1))
    items += text_stream()[3:]
    validator = check(items)
    violation = only(validator, "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.state) == (3, "BLOCK_OPEN(index=0, type=text)")
    assert violation.expected == "content_block_stop(index=0) before the next content_block_start"
    assert violation.got == "content_block_start(index=1, text) while block 0 is open"
    assert validator.text == "ab"


def test_it_reports_a_delta_for_a_block_that_was_never_started() -> None:
    items = text_stream("a")
    items.insert(2, ("content_block_delta", text(1, "b")))
    violation = only(check(items), "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.state, violation.path) == (
        2,
        "BLOCK_OPEN(index=0, type=text)",
        "$.index",
    )
    assert violation.got == "content_block_delta(index=1, text_delta) while block 0 is open"
    assert str(violation) == (
        "STREAM-BLOCK-ORDER at event #2 $.index in state BLOCK_OPEN(index=0, type=text): "
        "expected content_block_delta(index=0) for the open block; "
        "got content_block_delta(index=1, text_delta) while block 0 is open"
    )


def test_it_reports_a_delta_with_no_block_open() -> None:
    items = named(message_start(), text(0, "x")) + text_stream()[1:]
    violation = only(check(items), "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.state) == (1, "MESSAGE")
    assert violation.got == "content_block_delta(index=0, text_delta): block 0 was never started"


def test_it_reports_a_delta_for_a_block_already_stopped() -> None:
    items = text_stream("a")
    items.insert(4, ("content_block_delta", text(0, "late")))
    violation = only(check(items), "STREAM-BLOCK-ORDER")
    assert violation.got == "content_block_delta(index=0, text_delta): block 0 was already stopped"
    assert check(items).text == "a"


def test_it_reports_block_indices_that_are_not_dense_from_zero() -> None:
    items = named(message_start(), block_start(1), block_stop(1), block_start("2"), block_stop(2))
    items += text_stream()[3:]
    validator = check(items)
    assert [(v.rule, v.event_index, v.expected, v.got) for v in validator.violations] == [
        (
            "STREAM-BLOCK-ORDER",
            1,
            "content_block_start(index=0) (indices are dense from 0)",
            "content_block_start(index=1, text)",
        ),
        (
            "STREAM-BLOCK-ORDER",
            3,
            "content_block_start(index=2) (indices are dense from 0)",
            'content_block_start(index="2", text) (index "2" is not an integer)',
        ),
    ]


def test_it_reports_a_stop_for_another_block_and_closes_the_open_one() -> None:
    items = text_stream("a")
    items[3] = ("content_block_stop", block_stop(3))
    violation = only(check(items), "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.got) == (3, "content_block_stop(index=3) while block 0 is open")


def test_it_reports_a_block_left_open_at_message_delta() -> None:
    items = text_stream("a")
    del items[3]
    validator = check(items)
    violation = only(validator, "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.state) == (3, "BLOCK_OPEN(index=0, type=text)")
    assert violation.expected == "content_block_stop(index=0) before message_delta"
    assert violation.got == "message_delta while block 0 is open"
    assert validator.state is State.STOPPED


def test_it_reports_a_block_event_after_message_delta() -> None:
    items = text_stream("a")
    items.insert(5, ("content_block_delta", text(0, "b")))
    violation = only(check(items), "STREAM-BLOCK-ORDER")
    assert (violation.event_index, violation.state) == (5, "MESSAGE_DELTA")
    assert violation.got == "content_block_delta(index=0, text_delta) after message_delta (event #4)"


def test_it_reports_a_thinking_delta_in_a_text_block() -> None:
    items = text_stream("a")
    items.insert(3, ("content_block_delta", delta(0, "thinking_delta", thinking="hmm")))
    validator = check(items)
    violation = only(validator, "STREAM-DELTA-TYPE")
    assert (violation.event_index, violation.path, violation.state) == (
        3,
        "$.delta.type",
        "BLOCK_OPEN(index=0, type=text)",
    )
    assert violation.expected == "a text block's delta (text_delta, citations_delta)"
    assert violation.got == "thinking_delta in block 0, a text block"
    assert validator.text == "a"


def test_it_reports_a_text_delta_in_a_tool_use_block() -> None:
    items = named(message_start(), block_start(0, "tool_use"), text(0, "{}"), block_stop(0))
    violation = only(check(items + text_stream()[3:]), "STREAM-DELTA-TYPE")
    assert violation.got == "text_delta in block 0, a tool_use block"


def test_it_reports_a_delta_without_a_type() -> None:
    items = text_stream("a")
    items[2] = ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"text": "a"}})
    violation = only(check(items), "STREAM-DELTA-TYPE")
    assert (violation.event_index, violation.path) == (2, "$.delta.type")


def test_it_warns_about_an_unknown_delta_type_in_a_known_block() -> None:
    items = text_stream("a")
    items.insert(3, ("content_block_delta", delta(0, "sparkle_delta")))
    validator = check(items)
    assert validator.violations == []
    assert [(w.rule, w.event_index, w.got) for w in validator.warnings] == [
        ("STREAM-UNKNOWN-EVENT", 3, "sparkle_delta in block 0 (text)")
    ]


def test_it_reports_partial_json_sent_as_an_object() -> None:
    items = named(
        message_start(),
        block_start(0, "tool_use"),
        delta(0, "input_json_delta", partial_json={"city": "Paris"}),
        block_stop(0),
    )
    validator = check(items + text_stream()[3:])
    violation = only(validator, "STREAM-TOOL-JSON")
    assert (violation.event_index, violation.path) == (2, "$.delta.partial_json")
    assert violation.got == 'partial_json as an object: {"city": "Paris"}'


def test_it_reports_fragments_that_do_not_concatenate_to_json_and_keeps_the_start_input() -> None:
    items = named(
        message_start(),
        block_start(0, "tool_use"),
        delta(0, "input_json_delta", partial_json='{"city": '),
        delta(0, "input_json_delta", partial_json='"Par'),
        block_stop(0),
    )
    validator = check(items + text_stream()[3:])
    violation = only(validator, "STREAM-TOOL-JSON")
    assert (violation.event_index, violation.state) == (4, "BLOCK_OPEN(index=0, type=tool_use)")
    assert violation.got.startswith('"{\\"city\\": \\"Par": invalid JSON (Unterminated string')
    assert validator.message is not None and validator.message["content"][0]["input"] == {}


def test_it_reports_fragments_that_make_json_other_than_an_object() -> None:
    items = named(
        message_start(),
        block_start(0, "tool_use"),
        delta(0, "input_json_delta", partial_json="[1]"),
        block_stop(0),
    )
    violation = only(check(items + text_stream()[3:]), "STREAM-TOOL-JSON")
    assert violation.got == '"[1]": an array'


def test_it_reports_a_tool_input_that_is_not_an_object_when_no_fragments_came() -> None:
    items = named(message_start(), block_start(0, "tool_use", input="{}"), block_stop(0))
    violation = only(check(items + text_stream()[3:]), "STREAM-TOOL-JSON")
    assert (violation.event_index, violation.path, violation.got) == (
        1,
        "$.content_block.input",
        'input "{}"',
    )


def test_it_reports_a_message_delta_without_usage() -> None:
    items = text_stream("a")
    items[4] = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    violation = only(check(items), "STREAM-DELTA-USAGE")
    assert (violation.event_index, violation.path, violation.got) == (4, "$.usage", "no usage")


@pytest.mark.parametrize(
    ("tokens", "got"), [("5", 'output_tokens "5"'), (True, "output_tokens true"), (-1, "output_tokens -1")]
)
def test_it_reports_output_tokens_that_are_not_a_non_negative_integer(tokens: Any, got: str) -> None:
    items = text_stream("a")
    items[4] = ("message_delta", message_delta(output_tokens=tokens))
    violation = only(check(items), "STREAM-DELTA-USAGE")
    assert (violation.event_index, violation.path, violation.got) == (4, "$.usage.output_tokens", got)


def test_it_reports_decreasing_output_tokens() -> None:
    items = text_stream("a")
    items[4:4] = [("message_delta", message_delta(None, 9))]
    items[5] = ("message_delta", message_delta("end_turn", 4))
    validator = check(items)
    violation = only(validator, "STREAM-DELTA-USAGE")
    assert (violation.event_index, violation.state) == (5, "MESSAGE_DELTA")
    assert violation.expected == "output_tokens >= 9 (usage in message_delta is cumulative)"
    assert violation.got == "output_tokens 4 after 9 in event #4"
    assert validator.output_tokens == [9, 4]
    assert validator.stop_reasons == [None, "end_turn"]


def test_it_reports_a_message_stop_with_no_message_delta_before_it() -> None:
    items = text_stream("a")
    del items[4]
    violation = only(check(items), "STREAM-DELTA-USAGE")
    assert (violation.event_index, violation.state) == (4, "STOPPED")
    assert violation.got == "message_stop (event #4) with no message_delta before it"


@pytest.mark.parametrize(("reason", "got"), [(None, "stop_reason null"), ("stop", 'stop_reason "stop"')])
def test_it_reports_a_final_stop_reason_outside_the_enum(reason: Any, got: str) -> None:
    items = text_stream("a")
    items[4] = ("message_delta", message_delta(reason))
    violation = only(check(items), "STREAM-STOP-REASON")
    assert (violation.event_index, violation.path, violation.got) == (4, "$.delta.stop_reason", got)


def test_it_checks_only_the_last_message_delta_for_the_stop_reason() -> None:
    items = text_stream("a")
    items[4:4] = [("message_delta", message_delta(None, 3))]
    assert check(items).violations == []


def test_it_reports_a_missing_message_stop() -> None:
    violation = only(check(text_stream("a")[:-1]), "STREAM-STOP-LAST")
    assert (violation.event_index, violation.state) == (None, "MESSAGE_DELTA")
    assert violation.expected == "message_stop as the final event"
    assert violation.got == "end of stream after 5 events; last: message_delta"


def test_it_reports_a_stream_cut_off_inside_a_block() -> None:
    validator = check(text_stream("a")[:3])
    assert [(v.rule, v.event_index) for v in validator.violations] == [
        ("STREAM-STOP-LAST", None),
        ("STREAM-DELTA-USAGE", None),
    ]
    assert validator.violations[0].state == "BLOCK_OPEN(index=0, type=text)"
    assert validator.text == "a"


def test_it_reports_events_after_message_stop_but_not_pings() -> None:
    items = text_stream("a") + named(PING, text(0, "b"), MESSAGE_STOP, {"type": "sparkle"})
    validator = check(items)
    assert [(v.rule, v.event_index, v.got) for v in validator.violations] == [
        ("STREAM-STOP-LAST", 7, "content_block_delta(index=0, text_delta) after message_stop (event #5)"),
        ("STREAM-STOP-LAST", 8, "a second message_stop (the first was event #5)"),
        ("STREAM-STOP-LAST", 9, "sparkle after message_stop (event #5)"),
    ]
    assert {v.state for v in validator.violations} == {"STOPPED"}
    assert validator.text == "a"


def test_it_accepts_an_error_event_mid_stream_as_the_end_of_the_stream() -> None:
    items = text_stream("a")[:3] + named(OVERLOADED, PING)
    validator = check(items)
    assert validator.violations == []
    assert validator.state is State.ERRORED
    assert validator.error == {"type": "overloaded_error", "message": "Overloaded"}
    assert describe(*validator.events[3]) == "error(overloaded_error)"


def test_it_accepts_an_error_that_arises_after_the_200_as_the_first_event() -> None:
    """The real API sends overloaded_error as the first and only event of a 200 stream (vercel/ai#10653)."""
    for error_type in ("overloaded_error", "api_error", "rate_limit_error", "some_new_error"):
        validator = check(named({"type": "error", "error": {"type": error_type, "message": "x"}}))
        assert validator.violations == validator.deviations == [], error_type
        assert validator.state is State.ERRORED


@pytest.mark.parametrize("error_type", sorted(REQUEST_ERRORS))
def test_it_reports_a_request_error_as_the_first_event_of_a_stream(error_type: str) -> None:
    validator = check(named(PING, {"type": "error", "error": {"type": error_type, "message": "bad request"}}))
    violation = only(validator, "STREAM-START")
    assert (violation.event_index, violation.state) == (1, "START")
    assert violation.got == f"error({error_type}) before message_start, in an HTTP 200 stream"
    assert f"a {error_type} is answered with an HTTP error status" in violation.expected
    assert validator.error == {"type": error_type, "message": "bad request"}


def test_it_accepts_a_request_error_once_the_stream_has_begun() -> None:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}
    assert check(text_stream("a")[:3] + named(error)).violations == []


@pytest.mark.parametrize(
    ("data", "path", "got"),
    [
        ({"type": "error", "error": "Overloaded"}, "$.error", 'error "Overloaded"'),
        (
            {"type": "error", "error": {"type": "overloaded_error"}},
            "$.error.message",
            "error.message missing",
        ),
        ({"type": "error", "error": {"type": 529, "message": "x"}}, "$.error.type", "error.type 529"),
        ("Overloaded", "", "data Overloaded, which is not JSON"),
    ],
)
def test_it_reports_a_malformed_error_event(data: Any, path: str, got: str) -> None:
    validator = check(text_stream("a")[:3] + [("error", data)])
    errors = validator.violations_for("STREAM-ERROR-EVENT")
    assert [(v.event_index, v.path, v.got) for v in errors] == [(3, path, got)]
    assert errors[0].state == "BLOCK_OPEN(index=0, type=text)"
    assert {v.rule for v in validator.violations} <= {"STREAM-ERROR-EVENT", "SSE-DATA-JSON"}


def test_it_reports_events_after_an_error_event() -> None:
    items = text_stream("a")[:3] + named(OVERLOADED, PING, message_delta(), MESSAGE_STOP)
    validator = check(items)
    assert [(v.rule, v.event_index, v.got, v.state) for v in validator.violations] == [
        ("STREAM-ERROR-EVENT", 5, "message_delta after the error event #3", "ERRORED"),
        ("STREAM-ERROR-EVENT", 6, "message_stop after the error event #3", "ERRORED"),
    ]


def test_it_warns_about_an_unknown_event_type_without_changing_state() -> None:
    items = text_stream("a")
    items.insert(3, ("sparkle", {"type": "sparkle", "glitter": 1}))
    items.insert(0, ("sparkle", {"type": "sparkle"}))
    validator = check(items)
    assert validator.violations == []
    assert [(w.rule, w.event_index, w.state) for w in validator.warnings] == [
        ("STREAM-UNKNOWN-EVENT", 0, "START"),
        ("STREAM-UNKNOWN-EVENT", 4, "BLOCK_OPEN(index=0, type=text)"),
    ]
    assert validator.warnings[0].got == "sparkle (clients must ignore it)"


def test_it_reports_framing_errors_through_validate_stream() -> None:
    raw = sse(text_stream("a")).replace(b'"a"', b'"\xff"')
    decoder, validator = validate_stream([raw[:-40], raw[-40:-1]])  # also cut before the final blank line
    assert [v.rule for v in validator.violations] == ["SSE-FRAMING", "SSE-FRAMING", "STREAM-STOP-LAST"]
    assert validator.violations[0].got.startswith("invalid UTF-8 at byte offset ")
    assert validator.violations[1].got.startswith("unterminated final event at end of stream")
    assert validator.violations[1].event_index is None
    assert validator.text == "\ufffd"
    assert len(decoder.errors) == 2


def test_it_limits_the_violations_of_one_rule() -> None:
    items = [(None, data) for _, data in text_stream(*"abcdefghijklmnopqrstuvwxyz")]
    validator = check(items)
    assert len(validator.violations_for("SSE-EVENT-FIELD")) == MAX_PER_RULE
    assert validator.suppressed == {"SSE-EVENT-FIELD": len(items) - MAX_PER_RULE}


def test_it_closes_only_once_and_refuses_events_after_close() -> None:
    validator = check(text_stream("a")[:-1])
    validator.close()
    assert len(validator.violations) == 1
    with pytest.raises(RuntimeError):
        validator.feed(SSEEvent(9, "ping", '{"type": "ping"}'))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (SSEEvent(0, "ping", '{"type": "ping"}'), "ping"),
        (SSEEvent(0, "message_start", json.dumps(message_start())), "message_start"),
        (
            SSEEvent(0, "content_block_delta", json.dumps(text(0, "x"))),
            "content_block_delta(index=0, text_delta)",
        ),
        (SSEEvent(0, "content_block_stop", '{"type": "content_block_stop"}'), "content_block_stop(no index)"),
        (SSEEvent(0, "done", "[DONE]"), "done (data: [DONE])"),
        (SSEEvent(0, None, '{"a":\n1}'), 'event without name: data {"a":\\n1}'),
    ],
)
def test_it_describes_events_briefly(event: SSEEvent, expected: str) -> None:
    try:
        data = json.loads(event.data)
    except ValueError:
        data = None
    assert describe(event, data if isinstance(data, dict) else None) == expected


def test_it_truncates_long_descriptions() -> None:
    name = describe(SSEEvent(0, None, "x" * 500), None)
    assert len(name) == 80 and name.endswith("…")


def _stream_with(delta: str, usage: str = '{"output_tokens": 3}') -> bytes:
    start = ('{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m",'
             '"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}')
    events = [("message_start", start),
              ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
              ("content_block_delta", delta),
              ("content_block_stop", '{"type":"content_block_stop","index":0}'),
              ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
                                f'"usage":{usage}}}'),
              ("message_stop", '{"type":"message_stop"}')]
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in events).encode()


@pytest.mark.parametrize("kind", ['["text_delta"]', '{"t": 1}', "7", "null"])
def test_a_delta_whose_type_is_not_a_string_is_a_violation_not_a_crash(kind):
    delta = '{"type":"content_block_delta","index":0,"delta":{"type":KIND,"text":"hi"}}'.replace("KIND", kind)
    _, validator = validate_stream(_stream_with(delta))
    assert [v.rule for v in validator.violations] == ["STREAM-DELTA-TYPE"]


def test_an_integer_beyond_64_bits_is_read_as_json_loads_reads_it():
    delta = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}'
    _, validator = validate_stream(_stream_with(delta, '{"output_tokens": 100000000000000000000}'))
    assert validator.violations == [] and validator.output_tokens[-1] == 10**20
