"""Tests of the reference server over HTTP: auth, paths, count_tokens and models, messages, streams, a real server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from refserver import (
    CALL,
    KEY,
    NO_PARALLEL,
    REQUEST_ID,
    RESULT,
    RESULTS_2,
    TOOL,
    TWO_CALLS,
    USE_2,
    USER,
    V2023,
    V2026,
    accumulate,
    assert_error,
    assert_well_ordered,
    block_types,
    body,
    call,
    counted,
    datas,
    fcount,
    post,
    stream,
    summary,
    text_of,
    tool_ids,
    with_fields,
)

from reference_server import create_app

REPO = Path(__file__).resolve().parent.parent


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


# ----- paths ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/messages?beta=true", "/puterai/anthropic/v1/messages", "/a/b/v1/messages?x=1"]
)
def test_any_base_url_prefix_and_query_string_is_served(path: str) -> None:
    response = post(path=path)
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "alpha beta gamma delta"


def test_an_unknown_path_is_a_404_and_a_wrong_method_a_405() -> None:
    assert_error(call("POST", "/v1/complete", json_body={}, headers=V2023), 404, "not_found_error")
    assert_error(call("GET", "/v1/nonexistent", headers=V2023), 404, "not_found_error")
    assert_error(call("GET", "/v1/nonexistent"), 404, "not_found_error")
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
    page = call("GET", "/v1/models?limit=1000", headers=V2023).json()
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
    assert (
        re.fullmatch(r"msg_[0-9A-Za-z]{24}", message["id"]) and message["model"] == "claude-some-model-nonce"
    )
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


# ----- the whole contract: the catalogue, count_tokens, unicode, tool_choice, thinking -----------------------


def test_the_catalogue_lists_the_reference_model_first_then_claude_models_with_rfc3339_dates() -> None:
    from conformance.model_table import model_ids

    page = call("GET", "/v1/models?limit=1000", headers=V2023).json()
    ids = [m["id"] for m in page["data"]]
    assert ids == ["reference-model", *model_ids()]  # every model of fixtures/models.json, in the table's order
    for info in page["data"]:
        anthropic.types.ModelInfo.model_validate(info)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["created_at"])
        assert call("GET", f"/v1/models/{info['id']}", headers=V2023).json() == info
    walked, after = [], None
    while True:
        query = "?limit=1" + (f"&after_id={after}" if after else "")
        step = call("GET", "/v1/models" + query, headers=V2023).json()
        walked += [m["id"] for m in step["data"]]
        assert step["first_id"] == step["data"][0]["id"] and step["last_id"] == step["data"][-1]["id"]
        if not step["has_more"]:
            break
        after = step["last_id"]
    assert walked == ids
    before = call("GET", f"/v1/models?limit=2&before_id={ids[-1]}", headers=V2023).json()
    assert [m["id"] for m in before["data"]] == ids[-3:-1] and before["has_more"] is True
    assert call("GET", "/v1/models?limit=1000", headers=V2023).status_code == 200
    for bad in ("1001", "0", "-1", "abc"):
        assert_error(
            call("GET", f"/v1/models?limit={bad}", headers=V2023), 400, "invalid_request_error", "limit"
        )


def test_count_tokens_takes_the_same_auth_version_and_validation_and_equals_usage() -> None:
    payload = {
        "model": "reference-model",
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "tools": [TOOL],
        "messages": [
            USER,
            {"role": "assistant", "content": "ok then"},
            {"role": "user", "content": "go on now"},
        ],
        "thinking": {"type": "adaptive"},
        "tool_choice": {"type": "auto"},
    }
    count = call("POST", "/v1/messages/count_tokens?beta=true", json_body=payload, headers=V2026).json()
    assert count["input_tokens"] == post({**payload, "max_tokens": 50}).json()["usage"]["input_tokens"]
    assert counted("", system="s", tools=[TOOL]) > counted("", system="s") > counted("")
    path = "/v1/messages/count_tokens"
    assert_error(
        call("POST", path, json_body=payload, headers={"anthropic-version": "2023-06-01"}),
        401,
        "authentication_error",
    )
    assert_error(
        call("POST", path, json_body=payload, headers={"x-api-key": KEY}), 400, "invalid_request_error"
    )
    for bad in ({"messages": []}, {"tool_choise": {}}, {"messages": [RESULT]}, {"model": "gpt-4o"}):
        assert fcount("", {**payload, **bad}).status_code in (400, 404)


def test_unicode_is_echoed_exactly_streamed_and_not() -> None:
    text = "héllo 世界 👋 ŝtraße — ok"
    assert text_of(post(text=f"Reply with exactly: {text}")) == text
    assert (
        "".join(b["text"] for b in accumulate(stream(text=f"Reply with exactly: {text}")[1])["content"])
        == text
    )


def test_tool_choice_semantics_over_http() -> None:
    auto = post(text=CALL, tools=[TOOL]).json()
    assert block_types(auto) == ["tool_use"] and auto["stop_reason"] == "tool_use"
    forced = post(text="hi", tools=[TOOL, {**TOOL, "name": "other"}], tool_choice={"type": "any"}).json()
    assert [(b["name"], b["input"]) for b in forced["content"]] == [("lookup", {})] and forced[
        "stop_reason"
    ] == "tool_use"
    none = post(text=CALL, tools=[TOOL], tool_choice={"type": "none"}).json()
    assert block_types(none) == ["text"] and none["stop_reason"] == "end_turn"
    two = post(text=TWO_CALLS, tools=[TOOL]).json()
    ids = tool_ids(two)
    assert (
        len(ids) == 2 and len(set(ids)) == 2 and all(re.fullmatch(r"toolu_[0-9A-Za-z]{24}", i) for i in ids)
    )
    assert len(tool_ids(post(text=TWO_CALLS, tools=[TOOL], tool_choice=NO_PARALLEL).json())) == 1
    joined = post(with_fields(tools=[TOOL], messages=[USER, USE_2, RESULTS_2]))
    assert text_of(joined) == "first-result\nsecond-result"


@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}])
def test_thinking_comes_first_signed_and_streams_its_signature_just_before_its_stop(
    thinking: dict[str, Any],
) -> None:
    fields = {"thinking": thinking, "max_tokens": 2048}
    message = post(**fields).json()
    assert block_types(message) == ["thinking", "text"] and isinstance(
        message["content"][0]["signature"], str
    )
    events = stream(**fields)[1]
    thinking_events = [d for d in datas(events) if d.get("index") == 0]
    kinds = [d["delta"]["type"] for d in thinking_events if d["type"] == "content_block_delta"]
    assert kinds[-1] == "signature_delta" and set(kinds[:-1]) == {"thinking_delta"}
    assert (
        thinking_events[-2]["delta"]["type"] == "signature_delta"
        and thinking_events[-1]["type"] == "content_block_stop"
    )
    assert block_types(accumulate(events)) == block_types(message)
    assert summary(accumulate(events)) == summary(message)


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
    assert (
        client.messages.count_tokens(model="reference-model", messages=params["messages"]).input_tokens == 7
    )


def test_the_official_sdk_sees_an_authentication_error_and_works_under_a_fault_prefix(live_url: str) -> None:
    client = anthropic.Anthropic(base_url=live_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(
            model="reference-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
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
