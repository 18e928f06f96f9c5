"""Tests for conformance.transcripts: normalise, shape, compare, save and load on hand-made exchanges."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.target import REDACTED, Secret, Target
from conformance.transcripts import Difference, compare, load, normalise, save, shape
from conformance.wire import Exchange, WireRequest

URL = "https://gateway.invalid/some/prefix/v1/messages"
CANARY = "sk-ant-canary-0123456789abcdefXYZ"
HEADER_CANARY = "tok-canary-header-9876543210"

REQUEST_BODY: dict[str, Any] = {
    "model": "some-model",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Reply with exactly: kafu12 lomi34"}]}],
}
USAGE = {"input_tokens": 12, "output_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "some-model",
    "content": [
        {"type": "text", "text": "kafu12 lomi34"},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "record_value",
         "input": {"zebu55": "hello there", "kiko17": 4}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {**USAGE, "service_tier": "standard"},
}


def make_exchange(
    body: bytes | dict | str,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    request: WireRequest | None = None,
) -> Exchange:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    return Exchange(
        name="probe",
        request=request or WireRequest(body=REQUEST_BODY),
        url=URL,
        status=status,
        headers={"content-type": content_type, "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy", **(headers or {})},
        body=raw,
    )


def sse(*events: dict[str, Any] | tuple[str, str]) -> str:
    """An SSE body: dicts are sent with their type as the event name, (name, data) pairs as they are."""
    blocks = []
    for event in events:
        name, data = event if isinstance(event, tuple) else (event["type"], json.dumps(event))
        blocks.append(f"event: {name}\ndata: {data}\n\n")
    return "".join(blocks)


def text_stream(*text_runs: list[str], message_stop: bool = True, ping_every_delta: bool = False) -> str:
    """A stream with one text block per run, each run's pieces sent as separate text_deltas."""
    start = {**copy.deepcopy(MESSAGE), "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, pieces in enumerate(text_runs):
        events.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
        for piece in pieces:
            events.append({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
            if ping_every_delta:
                events.append({"type": "ping"})
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                   "usage": {"output_tokens": 3}})
    if message_stop:
        events.append({"type": "message_stop"})
    return sse(*events)


def stream_exchange(body: str, **kwargs: Any) -> Exchange:
    return make_exchange(body, content_type="text/event-stream; charset=utf-8", **kwargs)


# ------------------------------------------------------------------------------------------------------
# normalise
# ------------------------------------------------------------------------------------------------------


def test_ids_free_text_and_token_counts_are_masked_while_keys_and_enums_stay() -> None:
    body = normalise(make_exchange(MESSAGE))["response"]["body"]
    assert body["id"] == "<id:msg_>"
    assert body["type"] == "message" and body["role"] == "assistant" and body["stop_reason"] == "tool_use"
    assert body["content"][0] == {"type": "text", "text": "<text>"}
    assert body["content"][1]["id"] == "<id:toolu_>"
    assert body["content"][1]["name"] == "<text>"
    assert body["usage"] == {
        "input_tokens": "<int>",
        "output_tokens": "<int>",
        "cache_creation_input_tokens": "<int>",
        "cache_read_input_tokens": "<int>",
        "service_tier": "standard",
    }
    assert body["stop_sequence"] is None
    dumped = json.dumps(body)
    for volatile in ("01XFDUDYJ", "kafu12", "record_value", "hello there", "12"):
        assert volatile not in dumped


def test_the_response_status_media_type_and_request_id_presence_are_recorded_but_not_its_value() -> None:
    response = normalise(make_exchange(MESSAGE))["response"]
    assert response["status"] == 200
    assert response["content_type"] == "application/json"
    assert response["headers"] == ["request-id"]
    assert "011CSHoEeqs5C35K2UUqR7Fy" not in json.dumps(response)


def test_an_error_body_keeps_its_error_type_and_masks_its_message_and_request_id() -> None:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
             "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}
    body = normalise(make_exchange(error, status=400))["response"]["body"]
    assert body == {"type": "error", "error": {"type": "invalid_request_error", "message": "<text>"},
                    "request_id": "<id:req_>"}


def test_request_strings_become_word_count_markers_while_roles_types_and_numbers_stay() -> None:
    request = normalise(make_exchange(MESSAGE))["request"]
    assert request["method"] == "POST"
    assert request["body"] == {
        "model": "<str:1 word>",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "<str:5 words>"}]}],
    }
    empty = WireRequest(body={"messages": [{"role": "user", "content": ""}], "system": "  "})
    masked = normalise(make_exchange(MESSAGE, request=empty))["request"]["body"]
    assert masked == {"messages": [{"role": "user", "content": "<str:empty>"}], "system": "<str:blank>"}


def test_the_path_is_recorded_without_the_base_url_host_or_prefix() -> None:
    record = normalise(make_exchange(MESSAGE))
    assert record["request"]["path"] == "/v1/messages"
    assert "gateway.invalid" not in json.dumps(record) and "prefix" not in json.dumps(record)


def test_request_headers_are_not_recorded_except_the_version_and_beta_names() -> None:
    request = WireRequest(
        body=REQUEST_BODY,
        version="2023-06-01",
        headers=(("anthropic-beta", "tools-2024-04-04, prompt-caching-2024-07-31"), ("x-custom", "some value")),
    )
    recorded = normalise(make_exchange(MESSAGE, request=request))["request"]
    assert recorded["anthropic-version"] == "2023-06-01"
    assert recorded["anthropic-beta"] == ["tools-2024-04-04", "prompt-caching-2024-07-31"]
    assert "x-custom" not in json.dumps(recorded) and "some value" not in json.dumps(recorded)


def test_nonce_keys_of_tool_inputs_and_tool_schemas_are_numbered() -> None:
    tool = {"name": "record_value", "input_schema": {"type": "object", "properties": {"zebu55": {"type": "string"}},
                                                       "required": ["zebu55"]}}
    replayed = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "record_value",
                                                  "input": {"zebu55": "hello", "kiko17": 68}}]}
    request = WireRequest(body={**REQUEST_BODY, "tools": [tool], "messages": [*REQUEST_BODY["messages"], replayed]})
    record = normalise(make_exchange(MESSAGE, request=request))
    assert record["request"]["body"]["tools"][0]["input_schema"] == {
        "type": "object", "properties": {"<key:1>": {"type": "string"}}, "required": ["<str:1 word>"],
    }
    assert record["request"]["body"]["messages"][1]["content"][0]["input"] == {
        "<key:1>": "<str:1 word>", "<key:2>": "<int>",
    }
    assert record["request"]["body"]["max_tokens"] == 64
    assert record["response"]["body"]["content"][1]["input"] == {"<key:1>": "<text>", "<key:2>": "<int>"}
    assert "zebu55" not in json.dumps(record) and "68" not in json.dumps(record)


def test_stream_events_are_recorded_in_order_with_their_pings() -> None:
    events = normalise(stream_exchange(text_stream(["kafu12 ", "lomi34"])))["response"]["events"]
    assert [name for name, _ in events] == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    assert events[1] == ["ping", {"type": "ping"}]
    assert events[3][1] == {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "<text>"}}
    assert events[0][1]["message"]["id"] == "<id:msg_>"
    assert events[6][1]["usage"] == {"output_tokens": "<int>"}


def test_a_done_sentinel_and_non_json_data_are_marked_not_dropped() -> None:
    body = sse(("message_stop", '{"type": "message_stop"}'), ("done", "[DONE]"), ("oops", "not json"))
    events = normalise(stream_exchange(body))["response"]["events"]
    assert events == [["message_stop", {"type": "message_stop"}], ["done", "[DONE]"], ["oops", "<non-json>"]]


def test_a_non_json_body_is_marked_and_never_copied() -> None:
    body = normalise(make_exchange("<html>Bad gateway kafu12</html>", status=502, content_type="text/html"))
    assert body["response"]["body"] == "<non-json>"
    assert body["response"]["content_type"] == "text/html"


def test_a_transport_error_is_recorded_without_its_volatile_message() -> None:
    exchange = Exchange(name="probe", request=WireRequest(body=REQUEST_BODY), url=URL,
                        error="ConnectError: 127.0.0.1:4312 refused")
    response = normalise(exchange)["response"]
    assert response["status"] is None and response["transport_error"] is True
    assert "refused" not in json.dumps(response)


def test_a_credential_in_a_request_header_or_echoed_by_a_hostile_target_never_appears_in_the_record() -> None:
    target = Target(base_url="https://gateway.invalid/prefix", api_key=Secret(CANARY),
                    headers=(("x-gateway-token", HEADER_CANARY),))
    request = WireRequest(
        body={**REQUEST_BODY, "metadata": {"user_id": CANARY}, CANARY: HEADER_CANARY},
        headers=(("authorization", f"Bearer {CANARY}"), ("anthropic-beta", f"tools-2024-04-04,{CANARY}")),
    )
    echoed = {
        "type": CANARY,  # an enum slot: kept unless redacted
        "error": {"type": f"invalid_request_error {HEADER_CANARY}", "message": f"bad key {CANARY}"},
        CANARY: {"role": HEADER_CANARY},
        "request_id": CANARY,
    }
    json_record = normalise(make_exchange(echoed, status=401, headers={"x-echo": CANARY}, request=request), target)
    stream = sse((CANARY, json.dumps({"type": CANARY, "role": HEADER_CANARY})), ("ping", '{"type": "ping"}'))
    stream_record = normalise(stream_exchange(stream, request=request), target)
    for record in (json_record, stream_record):
        dumped = json.dumps(record)
        assert CANARY not in dumped and HEADER_CANARY not in dumped
        assert "canary" not in dumped
        assert "authorization" not in dumped.lower() and "Bearer" not in dumped
    assert json_record["response"]["body"]["type"] == REDACTED
    assert json_record["request"]["anthropic-beta"] == ["tools-2024-04-04", REDACTED]
    assert stream_record["response"]["events"][0] == [REDACTED, {"type": REDACTED, "role": REDACTED}]


def test_the_record_is_json_able_and_the_same_for_the_same_exchange() -> None:
    first = normalise(stream_exchange(text_stream(["a", "b"])))
    second = normalise(stream_exchange(text_stream(["a", "b"])))
    assert json.loads(json.dumps(first)) == first == second


# ------------------------------------------------------------------------------------------------------
# shape
# ------------------------------------------------------------------------------------------------------


def test_pings_are_dropped_from_the_shape() -> None:
    events = shape(normalise(stream_exchange(text_stream(["one"]))))["events"]
    assert "ping" not in events
    assert events[0] == "message_start"


def test_repeated_deltas_of_one_block_collapse_to_one_marker_even_across_pings() -> None:
    one = shape(normalise(stream_exchange(text_stream(["all of it"]))))
    many = shape(normalise(stream_exchange(text_stream(["all ", "of ", "it"], ping_every_delta=True))))
    assert one == many
    assert one["events"] == [
        "message_start", "content_block_start", "content_block_delta(text_delta)*", "content_block_stop",
        "message_delta", "message_stop",
    ]


def test_deltas_of_different_blocks_stay_separate_markers() -> None:
    events = shape(normalise(stream_exchange(text_stream(["a", "b"], ["c"]))))["events"]
    assert events.count("content_block_delta(text_delta)*") == 2
    assert shape(normalise(stream_exchange(text_stream(["a", "b"], ["c"]))))["blocks"] == ["text", "text"]


def test_the_shape_lists_block_types_and_the_json_paths_per_event_type_and_body() -> None:
    stream_shape = shape(normalise(stream_exchange(text_stream(["x"]))))
    assert "$.message.usage.cache_read_input_tokens" in stream_shape["paths"]["message_start"]
    assert stream_shape["paths"]["content_block_delta(text_delta)"] == [
        "$.delta", "$.delta.text", "$.delta.type", "$.index", "$.type",
    ]
    assert "ping" not in stream_shape["paths"]
    body_shape = shape(normalise(make_exchange(MESSAGE)))
    assert body_shape["events"] == [] and body_shape["blocks"] == ["text", "tool_use"]
    assert body_shape["paths"]["headers"] == ["request-id"]
    paths = body_shape["paths"]["body"]
    assert "$.usage.cache_read_input_tokens" in paths
    assert "$.content[tool_use].input" in paths and "$.content[text].text" in paths
    assert not any(path.startswith("$.content[tool_use].input.") for path in paths)


# ------------------------------------------------------------------------------------------------------
# compare
# ------------------------------------------------------------------------------------------------------


def test_identical_shapes_have_no_differences() -> None:
    golden = shape(normalise(stream_exchange(text_stream(["a", "b"]))))
    assert compare(shape(normalise(stream_exchange(text_stream(["completely different"])))), golden) == []


def test_a_missing_field_is_reported_with_its_event_and_path() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    lacking = copy.deepcopy(MESSAGE)
    del lacking["usage"]["cache_read_input_tokens"]
    diffs = compare(shape(normalise(make_exchange(lacking))), golden)
    assert diffs == [Difference("missing-field", "body $.usage.cache_read_input_tokens", "present", "absent")]
    assert str(diffs[0]) == "missing-field at body $.usage.cache_read_input_tokens: expected present; got absent"


def test_a_missing_request_id_header_is_a_missing_field() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    exchange = make_exchange(MESSAGE)
    del exchange.headers["request-id"]
    assert compare(shape(normalise(exchange)), golden) == [
        Difference("missing-field", "headers request-id", "present", "absent")
    ]


def test_an_extra_field_is_reported_as_extra() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    extended = {**MESSAGE, "container": None}
    assert compare(shape(normalise(make_exchange(extended))), golden) == [
        Difference("extra-field", "body $.container", "absent", "present")
    ]


def test_a_different_event_sequence_is_reported_at_the_first_difference() -> None:
    golden = shape(normalise(stream_exchange(text_stream(["a"]))))
    diffs = compare(shape(normalise(stream_exchange(text_stream(["a"], message_stop=False)))), golden)
    assert [d.kind for d in diffs] == ["event-sequence", "missing-field"]
    sequence = diffs[0]
    assert sequence.where == "events[5]"
    assert sequence.expected.endswith("message_delta, message_stop")
    assert sequence.got.endswith("message_delta")
    assert diffs[1] == Difference("missing-field", "message_stop", "present", "absent")


def test_different_block_types_are_reported() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    text_only = {**MESSAGE, "content": [MESSAGE["content"][0]], "stop_reason": "end_turn"}
    diffs = compare(shape(normalise(make_exchange(text_only))), golden)
    assert diffs[0] == Difference("block-types", "blocks[1]", "text, tool_use", "text")
    assert {d.kind for d in diffs[1:]} == {"missing-field"}


def test_a_different_status_or_media_type_is_reported() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    error = {"type": "error", "error": {"type": "api_error", "message": "x"}}
    diffs = compare(shape(normalise(make_exchange(error, status=500, content_type="text/plain"))), golden)
    assert diffs[:2] == [
        Difference("missing-field", "status", "200", "500"),
        Difference("missing-field", "content-type", "application/json", "text/plain"),
    ]


def test_a_stream_compared_with_a_json_golden_reports_the_sequence_and_the_missing_body() -> None:
    golden = shape(normalise(make_exchange(MESSAGE)))
    diffs = compare(shape(normalise(stream_exchange(text_stream(["a"])))), golden)
    kinds = [(d.kind, d.where) for d in diffs]
    assert ("event-sequence", "events[0]") in kinds
    assert ("missing-field", "body") in kinds
    assert ("extra-field", "message_start") in kinds


# ------------------------------------------------------------------------------------------------------
# save / load
# ------------------------------------------------------------------------------------------------------


def test_save_writes_one_sorted_json_file_per_exchange_and_load_reads_them_back(tmp_path: Path) -> None:
    records = {
        "text": normalise(make_exchange(MESSAGE)),
        "tools/round-trip#retry2": normalise(stream_exchange(text_stream(["a"]))),
    }
    written = save(records, tmp_path / "golden")
    assert sorted(p.parent for p in written) == [tmp_path / "golden"] * 2
    assert len(list((tmp_path / "golden").iterdir())) == 2
    assert load(tmp_path / "golden") == records
    text = (tmp_path / "golden" / "text.json").read_text(encoding="utf-8")
    assert text == json.dumps(records["text"], sort_keys=True, indent=1) + "\n"


def test_save_never_writes_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    save({"../escape": {"a": 1}, "/abs/olute": {"b": 2}}, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]
    assert load(folder) == {"../escape": {"a": 1}, "/abs/olute": {"b": 2}}
    for name in ("..", ".", ""):
        with pytest.raises(ValueError, match="inside the folder"):
            save({name: {}}, folder)
