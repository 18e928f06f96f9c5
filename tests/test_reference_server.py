"""Tests of the reference server over HTTP: auth, validation, responses, streams, faults and variants."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_server import FAULTS, create_app
from reference_server.responder import DEFAULT_REPLY

KEY = "k-test"
APP = create_app(api_key=KEY)
V2023 = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
V2026 = {"authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}
REQUEST_ID = re.compile(r"req_[0-9A-Za-z]{24}")
REPO = Path(__file__).resolve().parent.parent
TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
CALL = 'Call the tool lookup with input {"q": "nonce-7"}'


def call(method: str, path: str, *, json_body: Any = None, content: bytes | None = None, headers: Any = None):
    """One request to the app in process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference.test") as client:
            return await client.request(method, path, json=json_body, content=content, headers=headers)

    return asyncio.run(go())


def body(text: str = "Reply with exactly: alpha beta gamma delta", **fields: Any) -> dict[str, Any]:
    return {
        "model": "reference-model",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def post(
    payload: Any = None, path: str = "/v1/messages", headers: Any = None, **fields: Any
) -> httpx.Response:
    return call(
        "POST", path, json_body=body(**fields) if payload is None else payload, headers=headers or V2023
    )


def parse_sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """A small WHATWG event-stream decoder: (event name, JSON data or raw text) per event."""
    text = raw.decode("utf-8").removeprefix("\ufeff")
    events: list[tuple[str | None, Any]] = []
    name: str | None = None
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line:
            if data:
                joined = "\n".join(data)
                events.append((name, json.loads(joined) if joined.startswith("{") else joined))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def stream(
    path: str = "/v1/messages", headers: Any = None, **fields: Any
) -> tuple[httpx.Response, list[Any]]:
    response = post(path=path, headers=headers, stream=True, **fields)
    assert response.status_code == 200, response.text
    return response, parse_sse(response.content)


def datas(events: list[Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        data for _, data in events if isinstance(data, dict) and (kind is None or data.get("type") == kind)
    ]


def accumulate(events: list[Any]) -> dict[str, Any]:
    """The message a stream builds, with each block's text, thinking and parsed tool input."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    for data in datas(events):
        kind = data["type"]
        if kind == "message_start":
            message = dict(data["message"])
        elif kind == "content_block_start":
            blocks[data["index"]] = {**data["content_block"], "_json": ""}
        elif kind == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}
            if delta["type"] == "input_json_delta":
                block["_json"] += delta["partial_json"]
            else:
                key = field[delta["type"]]
                block[key] = block.get(key, "") + delta[key]
        elif kind == "message_delta":
            message.update(data["delta"], usage={**message.get("usage", {}), **data["usage"]})
    for block in blocks.values():
        raw = block.pop("_json")
        if block["type"] == "tool_use":
            block["input"] = json.loads(raw) if raw else {}
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def summary(message: dict[str, Any]) -> tuple[Any, ...]:
    """What a message says, independent of how its text is split into blocks."""
    content = message["content"]
    text = "".join(b["text"] for b in content if b["type"] == "text")
    thinking = [(b["thinking"], b["signature"]) for b in content if b["type"] == "thinking"]
    tools = [(b["name"], b["input"]) for b in content if b["type"] == "tool_use"]
    return text, thinking, tools, message["stop_reason"], message["stop_sequence"]


def assert_well_ordered(events: list[Any]) -> None:
    """Event order of contract 7.2, pings allowed anywhere."""
    kinds = [d for d in datas(events) if d["type"] != "ping"]
    assert all(name == data["type"] for name, data in events if isinstance(data, dict))
    assert kinds[0]["type"] == "message_start" and kinds[-1]["type"] == "message_stop"
    assert [d["type"] for d in kinds].count("message_start") == 1
    open_index, next_index = None, 0
    for data in kinds[1:-1]:
        if data["type"] == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif data["type"] in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index
            open_index = None if data["type"] == "content_block_stop" else open_index
        else:
            assert data["type"] == "message_delta" and open_index is None
            assert isinstance(data["usage"]["output_tokens"], int) and data["delta"]["stop_reason"]


def assert_error(response: httpx.Response, status: int, kind: str, message: str = "") -> bool:
    """Assert an Anthropic-shaped error with a request id (True, so checks can chain with `and`)."""
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"type", "error", "request_id"} and error["type"] == "error"
    assert error["error"]["type"] == kind and message in error["error"]["message"]
    assert (
        REQUEST_ID.fullmatch(response.headers["request-id"])
        and error["request_id"] == response.headers["request-id"]
    )
    assert response.headers["content-type"] == "application/json"
    return True


# ----- auth, version, body ----------------------------------------------------------------------------------


def test_a_key_is_accepted_in_x_api_key_or_as_a_bearer_token() -> None:
    assert post(headers=V2023).status_code == 200
    assert post(headers=V2026).status_code == 200
    assert (
        post(headers={"authorization": "bearer " + KEY, "anthropic-version": "2023-06-01"}).status_code == 200
    )


def test_a_missing_key_is_a_401_authentication_error() -> None:
    assert_error(post(headers={"anthropic-version": "2023-06-01"}), 401, "authentication_error", "x-api-key")


def test_a_wrong_key_is_a_401_in_either_header() -> None:
    assert_error(
        post(headers={**V2023, "x-api-key": "nope"}), 401, "authentication_error", "invalid x-api-key"
    )
    assert_error(post(headers={**V2026, "authorization": "Bearer nope"}), 401, "authentication_error")


def test_without_a_configured_key_any_non_empty_key_is_accepted() -> None:
    async def go(headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.post("/v1/messages", json=body(), headers=headers)).status_code

    assert asyncio.run(go({"x-api-key": "anything", "anthropic-version": "2023-06-01"})) == 200
    assert asyncio.run(go({"anthropic-version": "2023-06-01"})) == 401


def test_auth_is_checked_before_the_version_header_and_the_body() -> None:
    response = call("POST", "/v1/messages", content=b"{not json", headers={})
    assert_error(response, 401, "authentication_error")


def test_the_version_header_is_required_and_checked() -> None:
    assert_error(
        post(headers={"x-api-key": KEY}),
        400,
        "invalid_request_error",
        "anthropic-version: header is required",
    )
    assert_error(post(headers={**V2023, "anthropic-version": "2099-01-01"}), 400, "invalid_request_error")


def test_a_body_that_is_not_a_json_object_is_a_400() -> None:
    assert_error(call("POST", "/v1/messages", content=b"{oops", headers=V2023), 400, "invalid_request_error")
    assert_error(call("POST", "/v1/messages", content=b"[1, 2]", headers=V2023), 400, "invalid_request_error")
    assert_error(
        call("POST", "/v1/messages", content=b"\xff\xfe", headers=V2023), 400, "invalid_request_error"
    )
    assert_error(
        call("POST", "/v1/messages", content=b'{"a": NaN}', headers=V2023), 400, "invalid_request_error"
    )
    assert_error(
        call("POST", "/v1/messages", content=b'{"a": 1e999}', headers=V2023), 400, "invalid_request_error"
    )
    assert_error(
        call("POST", "/v1/messages", content=b"[" * 100000, headers=V2023), 400, "invalid_request_error"
    )


# ----- validation -------------------------------------------------------------------------------------------

USER = {"role": "user", "content": "hi"}
USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}
CACHED = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "missing max_tokens": ({"max_tokens": None}, "max_tokens: Field required"),
    "boolean max_tokens": ({"max_tokens": True}, "max_tokens: Input should be a valid integer"),
    "negative max_tokens": ({"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 0"),
    "missing model": ({"model": None}, "model: Field required"),
    "empty model": ({"model": ""}, "model: String should have at least 1 character"),
    "missing messages": ({"messages": None}, "messages: Field required"),
    "empty messages": ({"messages": []}, "messages: at least one message is required"),
    "unknown role": ({"messages": [{"role": "tool", "content": "x"}]}, 'Unexpected role "tool"'),
    "empty text block": (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        "must be non-empty",
    ),
    "unknown block": ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "Input tag 'video'"),
    "bad tool_use id": (
        {"messages": [USER, {**USE, "content": [{**USE["content"][0], "id": "a.b"}]}, RESULT]},
        "messages.1.content.0.id: String should match pattern",
    ),
    "tool_use without result": (
        {"messages": [USER, USE, USER]},
        "`tool_use` ids were found without `tool_result`",
    ),
    "orphan tool_result": ({"messages": [RESULT]}, "unexpected `tool_use_id` found in `tool_result` blocks"),
    "non-boolean is_error": (
        {"messages": [USER, USE, {"role": "user", "content": [{**RESULT["content"][0], "is_error": "yes"}]}]},
        "is_error: Input should be a valid boolean",
    ),
    "system of numbers": ({"system": 5}, "system: Input should be a valid string"),
    "bad tool name": (
        {"tools": [{"name": "a b", "input_schema": {"type": "object"}}]},
        "tools.0.name: String should",
    ),
    "long tool name": ({"tools": [{"name": "x" * 129, "input_schema": {"type": "object"}}]}, "tools.0.name"),
    "tool schema not an object": (
        {"tools": [{"name": "t", "input_schema": {"type": "array"}}]},
        "input_schema.type",
    ),
    "tool without schema": ({"tools": [{"name": "t"}]}, "tools.0.input_schema: Field required"),
    "unknown tool_choice": ({"tool_choice": {"type": "some"}}, "tool_choice.type"),
    "tool_choice naming no tool": ({"tool_choice": {"type": "tool", "name": "ghost"}}, "tool_choice.name"),
    "non-boolean parallel flag": (
        {"tool_choice": {"type": "auto", "disable_parallel_tool_use": 1}},
        "disable_parallel",
    ),
    "stop_sequences of numbers": (
        {"stop_sequences": [1]},
        "stop_sequences.0: Input should be a valid string",
    ),
    "non-boolean stream": ({"stream": "yes"}, "stream: Input should be a valid boolean"),
    "metadata not an object": ({"metadata": "x"}, "metadata: Input should be a valid dictionary"),
    "small thinking budget": ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "budget_tokens"),
    "thinking budget over max_tokens": (
        {"thinking": {"type": "enabled", "budget_tokens": 2000}},
        "max_tokens",
    ),
    "unknown field": ({"tool_choise": {"type": "auto"}}, "tool_choise: Extra inputs are not permitted"),
    "five cache breakpoints": ({"system": [CACHED] * 5}, "A maximum of 4 blocks with cache_control"),
    "temperature out of range": ({"temperature": 3}, "temperature"),
}


@pytest.mark.parametrize("change", list(INVALID), ids=list(INVALID))
def test_an_invalid_request_is_a_400_naming_the_field(change: str) -> None:
    fields, message = INVALID[change]
    payload = {k: v for k, v in {**body(), **fields}.items() if v is not None}
    assert_error(post(payload), 400, "invalid_request_error", message)


def test_sampling_parameters_are_accepted_under_2023_06_01_and_rejected_under_2026_10_21() -> None:
    payload = body(temperature=0.5, top_p=0.9, top_k=5)
    assert post(payload, headers=V2023).status_code == 200
    assert_error(post(payload, headers=V2026), 400, "invalid_request_error", "temperature")


def test_a_claude_code_style_request_is_accepted() -> None:
    payload = {
        "model": "claude-x",
        "max_tokens": 32000,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "system", "content": "Reply with exactly: from a system message"},
            {"role": "user", "content": "more"},
        ],
        "system": [
            {
                "type": "text",
                "text": "You are Claude Code.",
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            }
        ],
        "tools": [TOOL],
        "metadata": {"user_id": "u"},
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": []},
        "output_config": {"effort": "high"},
        "temperature": 1,
        "stream": True,
    }
    headers = {
        **V2023,
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "x-app": "cli",
    }
    response = call("POST", "/v1/messages?beta=true", json_body=payload, headers=headers)
    assert response.status_code == 200, response.text
    assert accumulate(parse_sse(response.content))["content"][1]["text"] == "from a system message"


def test_consecutive_same_role_turns_and_documents_and_images_are_accepted() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "doc text"},
    }
    messages = [
        USER,
        {"role": "user", "content": [image, document]},
        {"role": "assistant", "content": "ok"},
        USER,
    ]
    assert post({**body(), "messages": messages}).status_code == 200


NAMES = [
    "type",
    "text",
    "role",
    "content",
    "id",
    "name",
    "input",
    "tool_use_id",
    "is_error",
    "source",
    "thinking",
]
VALUES = [
    "text",
    "tool_use",
    "tool_result",
    "image",
    "document",
    "thinking",
    "user",
    "assistant",
    "system",
    "tool",
]
anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(VALUES)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), inner)
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "stop_sequences",
    "stream",
    "thinking",
]
SURVIVABLE = [name for name in FAULTS if name not in ("crash-on-missing-messages", "invalid-json-500")]


@settings(max_examples=150, deadline=None)
@given(
    replaced=st.dictionaries(st.sampled_from(FIELD_NAMES), anything, max_size=3),
    message=anything,
    fault=st.sampled_from(["", *SURVIVABLE]),
    endpoint=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]),
)
def test_property_malformed_requests_never_get_a_5xx(
    replaced: Any, message: Any, fault: str, endpoint: str
) -> None:
    payload = {**body(), **replaced}
    payload["messages"] = (
        [*payload["messages"], message] if isinstance(payload["messages"], list) else message
    )
    prefix = f"/faults/{fault}" if fault else ""
    response = call("POST", prefix + endpoint, json_body=payload, headers=V2023)
    assert response.status_code < 500, response.text


# ----- paths ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/messages?beta=true", "/puterai/anthropic/v1/messages", "/a/b/v1/messages?x=1"]
)
def test_any_base_url_prefix_and_query_string_is_served(path: str) -> None:
    response = post(path=path)
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "alpha beta gamma delta"


def test_an_unknown_path_is_a_404_and_a_wrong_method_a_405() -> None:
    assert_error(call("POST", "/v1/complete", json_body={}, headers=V2023), 404, "not_found_error")
    response = call("GET", "/v1/messages", headers=V2023)
    assert_error(response, 405, "invalid_request_error")
    assert response.headers["allow"] == "POST"


def test_an_unknown_fault_is_a_404_naming_it() -> None:
    assert_error(post(path="/faults/crlf+no-such-fault/v1/messages"), 404, "not_found_error", "no-such-fault")


# ----- count_tokens and models ------------------------------------------------------------------------------


def test_count_tokens_matches_the_usage_of_the_same_request_and_counts_system_and_tools() -> None:
    payload = {"model": "reference-model", "messages": [{"role": "user", "content": "one two three"}]}
    counted = call("POST", "/v1/messages/count_tokens?beta=true", json_body=payload, headers=V2023)
    assert counted.status_code == 200 and counted.json() == {"input_tokens": 4}
    assert post({**payload, "max_tokens": 5}).json()["usage"]["input_tokens"] == 4
    bigger = call(
        "POST",
        "/v1/messages/count_tokens",
        json_body={**payload, "system": "s", "tools": [TOOL]},
        headers=V2026,
    )
    assert bigger.json()["input_tokens"] > 4


def test_count_tokens_rejects_create_only_fields() -> None:
    payload = {"model": "reference-model", "messages": [USER], "max_tokens": 5}
    response = call("POST", "/v1/messages/count_tokens", json_body=payload, headers=V2023)
    assert_error(response, 400, "invalid_request_error", "max_tokens: Extra inputs are not permitted")


def test_models_are_listed_as_a_page_and_fetched_by_id() -> None:
    page = call("GET", "/v1/models", headers=V2023).json()
    assert page["data"][0]["id"] == "reference-model" and page["has_more"] is False
    assert page["first_id"] == "reference-model" and page["last_id"] == page["data"][-1]["id"]
    model = anthropic.types.ModelInfo.model_validate(page["data"][0])
    assert model.type == "model" and model.lifecycle == "active"
    one = call("GET", "/x/v1/models/reference-model", headers=V2026)
    assert one.status_code == 200 and one.json() == page["data"][0]
    assert_error(call("GET", "/v1/models/nope", headers=V2023), 404, "not_found_error")


def test_models_pagination_honours_limit_after_id_and_before_id() -> None:
    first = call("GET", "/v1/models?limit=1", headers=V2023).json()
    assert len(first["data"]) == 1 and first["has_more"] is True
    second = call("GET", f"/v1/models?limit=1&after_id={first['last_id']}", headers=V2023).json()
    assert second["first_id"] != first["first_id"]
    before = call("GET", f"/v1/models?before_id={second['first_id']}", headers=V2023).json()
    assert [m["id"] for m in before["data"]] == [first["first_id"]]
    assert_error(call("GET", "/v1/models?limit=0", headers=V2023), 400, "invalid_request_error")


def test_models_need_auth_and_the_version_header() -> None:
    assert_error(
        call("GET", "/v1/models", headers={"anthropic-version": "2023-06-01"}), 401, "authentication_error"
    )
    assert_error(call("GET", "/v1/models", headers={"x-api-key": KEY}), 400, "invalid_request_error")


# ----- messages ---------------------------------------------------------------------------------------------


def test_a_message_has_the_documented_shape_and_echoes_the_model() -> None:
    response = post(model="claude-some-model-nonce")
    message = response.json()
    assert response.headers["content-type"] == "application/json" and REQUEST_ID.fullmatch(
        response.headers["request-id"]
    )
    assert re.fullmatch(r"msg_[0-9A-Za-z]{24}", message["id"]) and message["model"] == "claude-some-model-nonce"
    assert (message["type"], message["role"], message["stop_reason"], message["stop_sequence"]) == (
        "message",
        "assistant",
        "end_turn",
        None,
    )
    assert message["usage"] == {
        "input_tokens": 8,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }
    assert anthropic.types.Message.model_validate(message).content[0].text == "alpha beta gamma delta"


def test_a_stream_has_the_documented_event_sequence_and_matches_the_message() -> None:
    response, events = stream(headers=V2026)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content.endswith(b"\n\n")
    assert_well_ordered(events)
    assert [d["type"] for d in datas(events)][:3] == ["message_start", "ping", "content_block_start"]
    start = datas(events, "message_start")[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] == 8
    assert len(datas(events, "content_block_delta")) >= 2
    assert summary(accumulate(events)) == summary(post().json())
    assert datas(events, "message_delta")[0]["usage"]["output_tokens"] == 4


def test_a_stream_is_chosen_by_the_body_flag_never_by_the_accept_header() -> None:
    headers = {**V2023, "accept": "text/event-stream"}
    assert post(headers=headers).headers["content-type"] == "application/json"
    response = post(headers={**V2023, "accept": "application/json"}, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")


def test_a_streamed_tool_call_starts_empty_and_sends_json_fragments() -> None:
    _, events = stream(text=CALL, tools=[TOOL])
    assert_well_ordered(events)
    start = datas(events, "content_block_start")[0]["content_block"]
    assert start["type"] == "tool_use" and start["input"] == {}
    pieces = [d["delta"]["partial_json"] for d in datas(events, "content_block_delta")]
    assert pieces[0] == "" and len(pieces) > 2 and all(len(p) <= 10 for p in pieces)
    assert json.loads("".join(pieces)) == {"q": "nonce-7"}
    assert datas(events, "message_delta")[-1]["delta"]["stop_reason"] == "tool_use"


def test_a_tool_round_trip_uses_the_result() -> None:
    first = post(text=CALL + "\nThen reply with exactly the tool result.", tools=[TOOL]).json()
    (tool_use,) = first["content"]
    messages = [
        {"role": "user", "content": CALL + "\nThen reply with exactly the tool result."},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "42 degrees"}],
        },
    ]
    second = post({**body(), "messages": messages, "tools": [TOOL]}).json()
    assert (
        second["content"] == [{"type": "text", "text": "42 degrees"}] and second["stop_reason"] == "end_turn"
    )


@pytest.mark.parametrize("form", ["string", "blocks", "role-system-message"])
def test_a_system_instruction_is_followed_in_each_of_its_three_forms(form: str) -> None:
    instruction = "Reply with exactly: obeyed nonce-9"
    payload = body(text="hello there")
    if form == "string":
        payload["system"] = instruction
    elif form == "blocks":
        payload["system"] = [{"type": "text", "text": instruction, "cache_control": {"type": "ephemeral"}}]
    else:
        payload["messages"].append({"role": "system", "content": [{"type": "text", "text": instruction}]})
    assert post(payload).json()["content"] == [{"type": "text", "text": "obeyed nonce-9"}]


def test_a_stop_sequence_ends_the_text_before_it() -> None:
    message = post(stop_sequences=["zzz", "gamma"]).json()
    assert message["content"] == [{"type": "text", "text": "alpha beta "}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "gamma")
    _, events = stream(stop_sequences=["gamma"])
    assert datas(events, "message_delta")[0]["delta"] == {
        "stop_reason": "stop_sequence",
        "stop_sequence": "gamma",
    }


def test_max_tokens_truncates_the_text() -> None:
    message = post(max_tokens=2).json()
    assert (
        message["content"] == [{"type": "text", "text": "alpha beta"}]
        and message["stop_reason"] == "max_tokens"
    )
    assert message["usage"]["output_tokens"] == 2
    empty = post(max_tokens=0).json()
    assert empty["content"] == [] and empty["stop_reason"] == "max_tokens"


def test_thinking_is_a_signed_block_streamed_with_a_signature_delta_before_its_stop() -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = post(max_tokens=2048, thinking=thinking).json()
    assert [b["type"] for b in message["content"]] == ["thinking", "text"] and message["content"][0][
        "signature"
    ]
    _, events = stream(max_tokens=2048, thinking=thinking)
    assert_well_ordered(events)
    block0 = [d for d in datas(events) if d.get("index") == 0]
    assert block0[-2]["delta"]["type"] == "signature_delta" and block0[-1]["type"] == "content_block_stop"
    assert summary(accumulate(events)) == summary(message)
    replay = [body()["messages"][0], {"role": "assistant", "content": message["content"]}, USER]
    assert post({**body(thinking=thinking, max_tokens=2048), "messages": replay}).status_code == 200


def test_an_unexpected_exception_is_a_500_api_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import reference_server.app as app_module

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "respond", explode)
    assert_error(post(), 500, "api_error")


# ----- faults -----------------------------------------------------------------------------------------------

LONG = "Reply with exactly: " + " ".join(f"w{n}" for n in range(120))
ROUND_TRIP = [
    {"role": "user", "content": CALL + "\nThen reply with exactly the tool result."},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "result-nonce"}],
    },
]


def fpost(fault: str, payload: Any = None, headers: Any = None, path: str = "/v1/messages", **fields: Any):
    return post(payload, path=f"/faults/{fault}{path}", headers=headers, **fields)


def fstream(fault: str, **fields: Any) -> list[Any]:
    response = fpost(fault, stream=True, **fields)
    assert response.status_code == 200
    return parse_sse(response.content)


def text_of(response: httpx.Response) -> str:
    return "".join(b["text"] for b in response.json()["content"] if b["type"] == "text")


def in_text_block_delta_types(events: list[Any]) -> set[str]:
    return {d["delta"]["type"] for d in datas(events, "content_block_delta")}


NO_MAX_TOKENS = {"model": "reference-model", "messages": [USER]}
ROUND_TRIP_BLOCKS = [
    *ROUND_TRIP[:2],
    {
        "role": "user",
        "content": [{**ROUND_TRIP[2]["content"][0], "content": [{"type": "text", "text": "r"}]}],
    },
]
FAULT_CHECKS: dict[str, Callable[[str], bool]] = {
    "bearer-only-auth": lambda f: (
        (fpost(f).json() == {"error": "Missing authentication token"} and fpost(f).status_code == 401)
        and fpost(f, headers=V2026).status_code == 200
    ),
    "x-api-key-only-auth": lambda f: (
        assert_error(fpost(f, headers=V2026), 401, "authentication_error") and fpost(f).status_code == 200
    ),
    "auth-not-enforced": lambda f: fpost(f, headers={"anthropic-version": "2023-06-01"}).status_code == 200,
    "wrong-key-403": lambda f: (
        assert_error(fpost(f, headers={**V2023, "x-api-key": "bad"}), 403, "permission_error")
        and assert_error(fpost(f, headers={"anthropic-version": "2023-06-01"}), 401, "authentication_error")
    ),
    "openai-error-shape": lambda f: (
        fpost(f, NO_MAX_TOKENS).json()
        == {
            "error": {
                "message": "max_tokens: Field required",
                "type": "invalid_request_error",
                "param": None,
                "code": "400",
            }
        }
    ),
    "error-type-pascal-case": lambda f: (
        fpost(f, NO_MAX_TOKENS).json()["error"]["type"] == "InvalidRequestError"
    ),
    "no-request-id": lambda f: (
        "request-id" not in fpost(f).headers
        and "request_id" not in fpost(f, {}).json()
        and "request-id" not in fpost(f, {}).headers
    ),
    "max-tokens-optional": lambda f: fpost(f, NO_MAX_TOKENS).status_code == 200,
    "model-optional": lambda f: (
        fpost(f, {"max_tokens": 5, "messages": [USER]}).json()["model"] == "reference-model"
    ),
    "crash-on-missing-messages": lambda f: assert_error(
        fpost(f, {"model": "reference-model", "max_tokens": 5}), 500, "api_error"
    ),
    "invalid-json-500": lambda f: assert_error(
        call("POST", f"/faults/{f}/v1/messages", content=b"{", headers=V2023), 500, "api_error"
    ),
    "json-as-text-plain": lambda f: fpost(f).headers["content-type"].startswith("text/plain"),
    "message-missing-type": lambda f: "type" not in fpost(f).json(),
    "message-no-stop-sequence-key": lambda f: "stop_sequence" not in fpost(f).json(),
    "usage-zero-input": lambda f: (
        fpost(f).json()["usage"]["input_tokens"] == 0
        and datas(fstream(f), "message_start")[0]["message"]["usage"]["input_tokens"] == 0
    ),
    "message-id-null": lambda f: fpost(f).json()["id"] is None,
    "message-id-chatcmpl": lambda f: re.fullmatch(r"chatcmpl-[0-9a-f]+", fpost(f).json()["id"]) is not None,
    "empty-text-block": lambda f: fpost(f).json()["content"][0] == {"type": "text", "text": ""},
    "ignore-user-directives": lambda f: (
        text_of(fpost(f)) == DEFAULT_REPLY and text_of(fpost(f, system="Reply with exactly: sys")) == "sys"
    ),
    "max-tokens-ignored": lambda f: fpost(f, max_tokens=2).json()["stop_reason"] == "end_turn",
    "stop-sequences-ignored": lambda f: (
        text_of(fpost(f, stop_sequences=["beta"])) == "alpha beta gamma delta"
    ),
    "message-missing-usage": lambda f: "usage" not in fpost(f).json(),
    "sse-as-json-content-type": lambda f: fpost(f, stream=True).headers["content-type"] == "application/json",
    "sse-no-event-lines": lambda f: {name for name, _ in fstream(f)} == {None},
    "sse-wrong-event-name": lambda f: (
        {n for n, d in fstream(f) if d["type"] == "content_block_delta"} == {"delta"}
    ),
    "sse-done-sentinel": lambda f: fstream(f)[-1] == (None, "[DONE]"),
    "sse-duplicate-message-start": lambda f: len(datas(fstream(f), "message_start")) == 2,
    "sse-start-without-usage": lambda f: "usage" not in datas(fstream(f), "message_start")[0]["message"],
    "sse-overlapping-blocks": lambda f: (
        [
            (d["type"], d["index"])
            for d in datas(fstream(f))
            if d["type"] in ("content_block_start", "content_block_stop")
        ]
        == [
            ("content_block_start", 0),
            ("content_block_start", 0),
            ("content_block_stop", 0),
            ("content_block_stop", 0),
        ]
    ),
    "sse-thinking-delta-in-text-block": lambda f: in_text_block_delta_types(fstream(f)) == {"thinking_delta"},
    "sse-message-delta-without-usage": lambda f: "usage" not in datas(fstream(f), "message_delta")[0],
    "sse-null-stop-reason": lambda f: datas(fstream(f), "message_delta")[-1]["delta"]["stop_reason"] is None,
    "sse-no-message-stop": lambda f: not datas(fstream(f), "message_stop"),
    "sse-message-start-missing-model": lambda f: (
        "model" not in datas(fstream(f), "message_start")[0]["message"]
    ),
    "sse-lose-text-delta": lambda f: (
        accumulate(fstream(f))["content"][0]["text"] != "alpha beta gamma delta"
        and "alpha beta gamma delta".endswith(accumulate(fstream(f))["content"][0]["text"])
    ),
    "sse-partial-json-object": lambda f: (
        [
            d["delta"]["partial_json"]
            for d in datas(fstream(f, text=CALL, tools=[TOOL]), "content_block_delta")
        ]
        == [{"q": "nonce-7"}]
    ),
    "sse-drop-after-32-deltas": lambda f: (
        len(datas(fstream(f, text=LONG, max_tokens=500), "content_block_delta")) == 32
        and datas(fstream(f, text=LONG, max_tokens=500))[-1]["type"] == "message_stop"
        and len(datas(stream(text=LONG, max_tokens=500)[1], "content_block_delta")) > 32
    ),
    "sse-no-message-start": lambda f: not datas(fstream(f), "message_start"),
    "sse-truncated": lambda f: (
        not fpost(f, stream=True).content.endswith(b"\n\n")
        and datas(fstream(f))[-1]["type"] == "message_stop"
    ),
    "sse-unknown-event": lambda f: (
        [n for n, _ in fstream(f)][:3] == ["message_start", "vertex_event", "ping"]
    ),
    "tool-call-end-turn": lambda f: (
        fpost(f, text=CALL, tools=[TOOL]).json()["stop_reason"] == "end_turn"
        and datas(fstream(f, text=CALL, tools=[TOOL]), "message_delta")[-1]["delta"]["stop_reason"]
        == "end_turn"
    ),
    "tools-ignored": lambda f: (
        [b["type"] for b in fpost(f, text=CALL, tools=[TOOL]).json()["content"]] == ["text"]
    ),
    "tool-id-dotted": lambda f: (
        re.fullmatch(r"call\.[0-9a-f]+", fpost(f, text=CALL, tools=[TOOL]).json()["content"][0]["id"])
        is not None
    ),
    "tool-id-openai": lambda f: (
        re.fullmatch(r"call_[0-9a-f]+", fpost(f, text=CALL, tools=[TOOL]).json()["content"][0]["id"])
        is not None
    ),
    "tool-input-as-string": lambda f: (
        json.loads(fpost(f, text=CALL, tools=[TOOL]).json()["content"][0]["input"]) == {"q": "nonce-7"}
    ),
    "tool-result-ignored": lambda f: (
        post({**body(), "messages": ROUND_TRIP, "tools": [TOOL]}).json()["content"][0]["text"]
        == "result-nonce"
        and "result-nonce" not in text_of(fpost(f, {**body(), "messages": ROUND_TRIP, "tools": [TOOL]}))
    ),
    "tool-result-blocks-rejected": lambda f: (
        assert_error(
            fpost(f, {**body(), "messages": ROUND_TRIP_BLOCKS, "tools": [TOOL]}), 400, "invalid_request_error"
        )
        and fpost(f, {**body(), "messages": ROUND_TRIP, "tools": [TOOL]}).status_code == 200
        and post({**body(), "messages": ROUND_TRIP_BLOCKS, "tools": [TOOL]}).status_code == 200
    ),
    "system-string-ignored": lambda f: (
        text_of(fpost(f, text="hi", system="Reply with exactly: s")) == DEFAULT_REPLY
        and text_of(fpost(f, text="hi", system=[{"type": "text", "text": "Reply with exactly: s"}])) == "s"
    ),
    "system-blocks-ignored": lambda f: (
        text_of(fpost(f, text="hi", system=[{"type": "text", "text": "Reply with exactly: s"}]))
        == DEFAULT_REPLY
        and text_of(fpost(f, text="hi", system="Reply with exactly: s")) == "s"
    ),
    "role-system-rejected": lambda f: assert_error(
        fpost(f, {**body(), "messages": [USER, {"role": "system", "content": "x"}]}),
        400,
        "invalid_request_error",
        "messages.1.role: Input should be 'user' or 'assistant'",
    ),
    "beta-query-404": lambda f: (
        assert_error(fpost(f, path="/v1/messages?beta=true"), 404, "not_found_error")
        and fpost(f).status_code == 200
    ),
    "only-version-2026": lambda f: (
        assert_error(fpost(f), 400, "invalid_request_error") and fpost(f, headers=V2026).status_code == 200
    ),
    "only-version-2023": lambda f: (
        assert_error(fpost(f, headers=V2026), 400, "invalid_request_error") and fpost(f).status_code == 200
    ),
    "reject-unknown-betas": lambda f: (
        assert_error(
            fpost(f, headers={**V2023, "anthropic-beta": "x-1"}),
            400,
            "invalid_request_error",
            "anthropic-beta",
        )
        and fpost(f).status_code == 200
    ),
}


@pytest.mark.parametrize("name", [n for n, f in FAULTS.items() if f.kind == "fault"])
def test_each_fault_changes_what_it_should(name: str) -> None:
    assert FAULT_CHECKS[name](name)


def test_every_registered_fault_has_a_check_and_a_one_line_description() -> None:
    assert set(FAULT_CHECKS) == {n for n, f in FAULTS.items() if f.kind == "fault"}
    assert all(f.description and "\n" not in f.description for f in FAULTS.values())
    assert {f.kind for f in FAULTS.values()} == {"fault", "variant"}


def test_a_fault_leaves_the_rest_of_the_response_correct() -> None:
    response = fpost("sse-no-message-stop")
    assert response.json()["content"] == [{"type": "text", "text": "alpha beta gamma delta"}]
    events = fstream("message-id-null")
    assert_well_ordered(events)


def test_faults_combine() -> None:
    response = fpost("sse-no-message-stop+no-request-id", stream=True)
    assert "request-id" not in response.headers and not datas(parse_sse(response.content), "message_stop")


# ----- variants ---------------------------------------------------------------------------------------------

RICH = {"text": "Reply with exactly: one two three four five\n" + CALL, "tools": [TOOL], "max_tokens": 2048}
RICH_THINKING = {**RICH, "thinking": {"type": "enabled", "budget_tokens": 1024}}
VARIANT_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "crlf": lambda raw: b"\r\n\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"),
    "cr": lambda raw: b"\r\r" in raw and b"\n" not in raw,
    "sse-comments": lambda raw: raw.startswith(b": ") and raw.count(b"\n: ") > raw.count(b"\n\n"),
    "multiline-data": lambda raw: raw.count(b"data: ") > 3 * raw.count(b"\n\n"),
    "no-space-after-colon": lambda raw: b"event:message_start\ndata:{" in raw and b"data: " not in raw,
    "small-chunks": lambda raw: True,
    "pings-everywhere": lambda raw: parse_sse(raw)[0][0] == "ping" and parse_sse(raw)[-1][0] == "ping",
    "extra-fields": lambda raw: all("x_reference_extra" in d for d in datas(parse_sse(raw))),
    "several-text-blocks": lambda raw: (
        [b["type"] for b in accumulate(parse_sse(raw))["content"]][:3] == ["thinking", "text", "text"]
    ),
    "bom": lambda raw: raw.startswith("\ufeff".encode()),
}


@pytest.mark.parametrize("name", [n for n, f in FAULTS.items() if f.kind == "variant"])
def test_each_variant_keeps_the_stream_parseable_and_the_same(name: str) -> None:
    clean = accumulate(stream(**RICH_THINKING)[1])
    response = fpost(name, stream=True, **RICH_THINKING)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = parse_sse(response.content)
    assert_well_ordered(events)
    assert summary(accumulate(events)) == summary(clean)
    assert VARIANT_CHECKS[name](response.content)
    non_stream = fpost(name, **RICH_THINKING).json()
    assert summary(non_stream) == summary(clean)


def test_small_chunks_writes_the_stream_three_bytes_at_a_time() -> None:
    sent: list[bytes] = []

    async def go() -> None:
        payload = json.dumps(body(stream=True)).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/faults/small-chunks/v1/messages",
            "raw_path": b"/faults/small-chunks/v1/messages",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in V2023.items()],
        }
        messages = iter([{"type": "http.request", "body": payload, "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                sent.append(message["body"])

        await APP(scope, receive, send)

    asyncio.run(go())
    assert len(sent) > 100 and all(len(chunk) <= 3 for chunk in sent)
    assert_well_ordered(parse_sse(b"".join(sent)))


def test_extra_fields_and_several_text_blocks_show_in_non_stream_messages_too() -> None:
    extra = fpost("extra-fields").json()
    assert "x_reference_extra" in extra and "x_reference_extra" in extra["usage"]
    assert all("x_reference_extra" in block for block in extra["content"])
    split = fpost("several-text-blocks").json()["content"]
    assert [b["text"] for b in split] == ["alpha beta", " gamma delta"]


# ----- a real server: the command line and the official SDK -------------------------------------------------


def start_server(key: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "ANTHROPIC_CONFORMANCE_SERVER_KEY": key}
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_server", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def stop_server(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.terminate()
    _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr


def test_the_command_line_server_prints_its_url_first_serves_and_stops_cleanly() -> None:
    process, url = start_server("k-cli")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        response = httpx.post(
            f"{url}/v1/messages", json=body(), headers={**V2023, "x-api-key": "k-cli"}, timeout=10
        )
        assert (
            response.status_code == 200 and response.json()["content"][0]["text"] == "alpha beta gamma delta"
        )
    finally:
        returncode, stderr = stop_server(process)
    assert returncode == 0 and "k-cli" not in stderr


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    process, url = start_server("k-sdk")
    yield url
    stop_server(process)


def test_the_official_sdk_creates_and_streams_messages(live_url: str) -> None:
    client = anthropic.Anthropic(
        base_url=live_url, api_key="k-sdk", max_retries=0, _strict_response_validation=True
    )
    params: dict[str, Any] = {
        "model": "reference-model",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Reply with exactly: sdk works fine"}],
    }
    message = client.messages.create(**params)
    assert message.content[0].text == "sdk works fine" and REQUEST_ID.fullmatch(message._request_id or "")
    with client.messages.stream(**params) as events:
        final = events.get_final_message()
    assert final.content[0].text == "sdk works fine" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3
    assert [m.id for m in client.models.list()][0] == "reference-model"
    assert client.messages.count_tokens(model="reference-model", messages=params["messages"]).input_tokens == 7


def test_the_official_sdk_sees_an_authentication_error_and_works_under_a_fault_prefix(live_url: str) -> None:
    client = anthropic.Anthropic(base_url=live_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="reference-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.type == "authentication_error" and caught.value.request_id
    prefixed = anthropic.Anthropic(
        base_url=f"{live_url}/faults/crlf+small-chunks", api_key="k-sdk", max_retries=0
    )
    params = {
        "model": "reference-model",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Reply with exactly: via crlf"}],
    }
    with prefixed.messages.stream(**params) as events:
        assert events.get_final_message().content[0].text == "via crlf"
