"""Tests of the reference server's faults: each registered fault changes what it should, and only that."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from refserver import (
    BIG,
    CACHED,
    CALL,
    CLAUDE_CODE_BETAS,
    COUNT_BODY,
    DOCUMENT,
    IMAGE,
    KEY,
    NO_PARALLEL,
    REQUEST_ID,
    RESULT,
    RESULTS_2,
    THINK,
    THINKING_TURN,
    TOOL,
    TOOLS_24,
    TWO_CALLS,
    USE,
    USE_2,
    USER,
    UUID,
    V2023,
    V2026,
    accumulate,
    assert_error,
    assert_well_ordered,
    block_events,
    block_types,
    body,
    call,
    counted,
    datas,
    delta_types,
    fcount,
    fget,
    final_delta,
    fpost,
    fstream,
    live_stream,
    parse_sse,
    post,
    start_usage,
    stream,
    text_of,
    tool_ids,
    with_fields,
)

from reference_server import FAULTS
from reference_server.responder import DEFAULT_REPLY

# ----- faults ------------------------------------------------------------------------------------------------

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
    "bearer-first-auth": lambda f: (
        assert_error(fpost(f, headers={**V2023, "authorization": "Bearer another-token"}), 401, "authentication_error")
        and post(headers={**V2023, "authorization": "Bearer another-token"}).status_code == 200
        and fpost(f).status_code == 200
    ),
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
    "model-echoes-prompt": lambda f: text_of(fpost(f)).startswith("Received: ") and text_of(fpost(f)) != text_of(post()),
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
    "sse-drop-after-16-deltas": lambda f: (
        len(datas(fstream(f, text=LONG, max_tokens=500), "content_block_delta")) == 16
        and datas(fstream(f, text=LONG, max_tokens=500))[-1]["type"] == "message_stop"
        and len(datas(stream(text=LONG, max_tokens=500)[1], "content_block_delta")) > 16
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
            fpost(f, headers={**V2023, "anthropic-beta": "fine-grained-tool-streaming-2025-05-14"}),
            400,
            "invalid_request_error",
            "anthropic-beta",
        )
        and fpost(f).status_code == 200
    ),
}


# ----- the faults of the whole contract: each changes one thing, checked against the clean server --------------


def relaxed(fault: str, payload: dict[str, Any], headers: Any = None) -> bool:
    """The clean server rejects the request with a 400; under the fault it is answered with a Message."""
    assert_error(post(payload, headers=headers), 400, "invalid_request_error")
    response = fpost(fault, payload, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["type"] == "message"


def rejects(
    fault: str, payload: dict[str, Any], status: int = 400, kind: str = "invalid_request_error"
) -> bool:
    """The clean server answers the request; the fault rejects it, and still answers a plain request."""
    assert post(payload).status_code == 200, post(payload).text
    return assert_error(fpost(fault, payload), status, kind) and fpost(fault).status_code == 200


def same_id_in_header_and_body(response: httpx.Response, pattern: re.Pattern[str]) -> bool:
    return (
        pattern.fullmatch(response.headers["request-id"]) is not None
        and response.json()["request_id"] == (response.headers["request-id"])
    )


def auth_matrix(fault: str, method: str, path: str, payload: Any = None) -> dict[str, int]:
    """Status per credential style on one endpoint under the fault."""
    styles = {
        "x-api-key": {"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        "bearer": {"authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"},
        "none": {"anthropic-version": "2023-06-01"},
    }
    return {
        name: call(method, f"/faults/{fault}{path}", json_body=payload, headers=headers).status_code
        for name, headers in styles.items()
    }


ALL_AUTH = {"x-api-key": 200, "bearer": 200, "none": 401}


def auth_only_on(fault: str, expected: dict[str, int], endpoints: str) -> bool:
    """The fault's credential rule holds on `endpoints` ("count_tokens" or "models"); elsewhere auth is standard."""
    count = auth_matrix(fault, "POST", "/v1/messages/count_tokens", COUNT_BODY)
    listing = auth_matrix(fault, "GET", "/v1/models")
    one = auth_matrix(fault, "GET", "/v1/models/reference-model")
    messages = auth_matrix(fault, "POST", "/v1/messages", body())
    if endpoints == "count_tokens":
        return count == expected and listing == one == messages == ALL_AUTH
    return listing == one == expected and count == messages == ALL_AUTH


def without_message_id(events: list[Any]) -> list[Any]:
    """The events with message_start's random message id blanked, so two streams of one request compare equal."""
    return [
        (name, {**data, "message": {**data["message"], "id": None}})
        if isinstance(data, dict) and data.get("type") == "message_start"
        else (name, data)
        for name, data in events
    ]


def silent_after_first_chunk(fault: str) -> bool:
    """One live streamed request: the clean server's events, and >= ~1.4 s of silence between its first two chunks."""
    raw, arrivals = live_stream(fault)
    assert without_message_id(parse_sse(raw)) == without_message_id(stream()[1])
    assert len(arrivals) >= 2 and arrivals[1] - arrivals[0] >= 1.4, [t - arrivals[0] for t in arrivals]
    return True


# context_management is a beta field: the API takes it only with its anthropic-beta
CONTEXT_MANAGED = with_fields(context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]})
CONTEXT_BETA = {**V2023, "anthropic-beta": "context-management-2025-06-27"}
STRUCTURED = with_fields(output_config={"format": {"type": "json_schema", "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}})
ASSISTANT_DOCUMENT = with_fields(messages=[USER, {"role": "assistant", "content": [DOCUMENT]}, USER])


def json_answer(response: httpx.Response) -> bool:
    try:
        return isinstance(json.loads(text_of(response)).get("answer"), str)
    except ValueError:
        return False


FEATURE_FAULT_CHECKS: dict[str, Callable[[str], bool]] = {
    "typed-tools-need-input-schema": lambda f: rejects(f, with_fields(tools=[{"type": "bash_20250124", "name": "bash"}])),
    "reject-defer-loading": lambda f: rejects(f, with_fields(tools=[{**TOOLS_24[0], "defer_loading": True}])),
    "reject-cache-ttl": lambda f: rejects(f, with_fields(
        system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}])),
    "output-format-dropped": lambda f: json_answer(post(STRUCTURED)) and not json_answer(fpost(f, STRUCTURED)),
    "context-management-beta-dropped": lambda f: (
        post(CONTEXT_MANAGED, headers=CONTEXT_BETA).status_code == 200
        and assert_error(post(CONTEXT_MANAGED), 400, "invalid_request_error")
        and assert_error(fpost(f, CONTEXT_MANAGED, headers=CONTEXT_BETA), 400, "invalid_request_error")
    ),
    "accept-2026-content-rules": lambda f: (
        assert_error(post(ASSISTANT_DOCUMENT, headers=V2026), 400, "invalid_request_error")
        and fpost(f, ASSISTANT_DOCUMENT, headers=V2026).status_code == 200
    ),
    "head-root-500": lambda f: call("HEAD", "/").status_code == 200 and call("HEAD", f"/faults/{f}/").status_code == 500,
}

NEW_FAULT_CHECKS: dict[str, Callable[[str], bool]] = {
    # validation switched off
    "accept-empty-messages": lambda f: (
        relaxed(f, with_fields(messages=[])) and text_of(fpost(f, with_fields(messages=[]))) == DEFAULT_REPLY
    ),
    "accept-unknown-role": lambda f: relaxed(
        f, with_fields(messages=[USER, {"role": "tool", "content": "x"}])
    ),
    "accept-empty-text-block": lambda f: relaxed(
        f, with_fields(messages=[{"role": "user", "content": [{"type": "text", "text": ""}, CACHED]}])
    ),
    "accept-orphan-tool-result": lambda f: relaxed(f, with_fields(messages=[RESULT])),
    "accept-unanswered-tool-use": lambda f: relaxed(f, with_fields(messages=[USER, USE, USER])),
    "accept-bad-tool-name": lambda f: relaxed(
        f, with_fields(tools=[{"name": "a b", "input_schema": {"type": "object"}}])
    ),
    "ignore-unknown-fields": lambda f: relaxed(f, with_fields(tool_choise={"type": "auto"})),
    "accept-five-cache-breakpoints": lambda f: relaxed(f, with_fields(system=[CACHED] * 5)),
    "accept-negative-max-tokens": lambda f: relaxed(f, with_fields(max_tokens=-1)),
    "accept-string-max-tokens": lambda f: (
        relaxed(f, with_fields(max_tokens="16"))
        and text_of(fpost(f, with_fields(max_tokens="2"))) == "alpha beta"
    ),
    "accept-tool-choice-unknown-tool": lambda f: (
        relaxed(f, with_fields(tool_choice={"type": "tool", "name": "ghost"}))
        and tool_ids(fpost(f, tools=[TOOL], text=CALL, tool_choice={"type": "tool", "name": "ghost"}).json())
        != []
        and text_of(fpost(f, tools=[TOOL], text="hi", tool_choice={"type": "tool", "name": "ghost"}))
        == DEFAULT_REPLY
    ),
    "accept-small-thinking-budget": lambda f: relaxed(
        f, with_fields(thinking={"type": "enabled", "budget_tokens": 10})
    ),
    "version-optional": lambda f: relaxed(f, body(), headers={"x-api-key": KEY}),
    "accept-temperature-2026": lambda f: relaxed(f, with_fields(temperature=0.5, top_k=3), headers=V2026),
    # wrong statuses and error shapes
    "validation-422": lambda f: (
        assert_error(fpost(f, NO_MAX_TOKENS), 422, "invalid_request_error", "max_tokens: Field required")
        and assert_error(fpost(f, headers={"x-api-key": KEY}), 422, "invalid_request_error")
        and assert_error(fpost(f, headers={"anthropic-version": "2023-06-01"}), 401, "authentication_error")
    ),
    "unknown-model-400": lambda f: (
        assert_error(post(model="nope-1"), 404, "not_found_error", "model: nope-1")
        and assert_error(fpost(f, model="nope-1"), 400, "invalid_request_error", "Invalid model name")
        and assert_error(fcount(f, {**COUNT_BODY, "model": "nope-1"}), 400, "invalid_request_error")
        and fpost(f, model="claude-anything").status_code == 200
    ),
    "unknown-model-200": lambda f: (
        fpost(f, model="nope-2").json()["model"] == "nope-2"
        and fcount(f, {**COUNT_BODY, "model": "x"}).status_code == 200
    ),
    "no-size-limit": lambda f: (
        assert_error(post(with_fields(metadata={"user_id": "u" * BIG})), 413, "request_too_large")
        and fpost(f, with_fields(metadata={"user_id": "u" * BIG})).status_code == 200
    ),
    "crash-on-messages-object": lambda f: (
        assert_error(
            post(with_fields(messages=USER)),
            400,
            "invalid_request_error",
            "messages: Input should be a valid list",
        )
        and assert_error(fpost(f, with_fields(messages=USER)), 500, "api_error")
        and fpost(f).status_code == 200
    ),
    "not-found-html": lambda f: (
        assert_error(fget("", "/v1/nonexistent"), 404, "not_found_error")
        and fget(f, "/v1/nonexistent").status_code == 404
        and fget(f, "/v1/nonexistent").headers["content-type"].startswith("text/html")
        and "<html>" in fget(f, "/v1/nonexistent").text
        and REQUEST_ID.fullmatch(fget(f, "/v1/nonexistent").headers["request-id"]) is not None
        and assert_error(fpost(f, NO_MAX_TOKENS), 400, "invalid_request_error")
    ),
    "request-id-body-null": lambda f: (
        fpost(f, NO_MAX_TOKENS).json()["request_id"] is None
        and REQUEST_ID.fullmatch(fpost(f, NO_MAX_TOKENS).headers["request-id"]) is not None
        and fpost(f, NO_MAX_TOKENS).json()["error"]["type"] == "invalid_request_error"
    ),
    "request-id-uuid": lambda f: (
        UUID.fullmatch(fpost(f).headers["request-id"]) is not None
        and UUID.fullmatch(fpost(f, stream=True).headers["request-id"]) is not None
        and same_id_in_header_and_body(fpost(f, NO_MAX_TOKENS), UUID)
        and re.fullmatch(r"msg_[0-9A-Za-z]{24}", fpost(f).json()["id"]) is not None
    ),
    "unknown-beta-500": lambda f: (
        assert_error(
            post(headers={**V2023, "anthropic-beta": "bogus"}), 400, "invalid_request_error", "`bogus`"
        )
        and assert_error(fpost(f, headers={**V2023, "anthropic-beta": "bogus"}), 500, "api_error")
        and fpost(f, headers={**V2023, "anthropic-beta": CLAUDE_CODE_BETAS}).status_code == 200
    ),
    # valid inputs rejected
    "reject-consecutive-roles": lambda f: (
        rejects(f, with_fields(messages=[USER, USER]))
        and fpost(f, with_fields(messages=[USER, {"role": "system", "content": "s"}, USER])).status_code
        == 200
    ),
    "prefill-500": lambda f: rejects(
        f, with_fields(messages=[USER, {"role": "assistant", "content": "Hel"}]), 500, "api_error"
    ),
    "reject-prefill": lambda f: rejects(
        f, with_fields(messages=[USER, {"role": "assistant", "content": "Hel"}])
    ),
    "model-without-role-system": lambda f: rejects(
        f, with_fields(messages=[USER, {"role": "system", "content": "Be brief."}])
    ),
    "model-without-temperature": lambda f: rejects(f, with_fields(temperature=0.5)),
    "reject-streaming": lambda f: rejects(f, with_fields(stream=True)) and fpost(f).status_code == 200,
    "reject-images": lambda f: rejects(
        f, with_fields(messages=[{"role": "user", "content": [IMAGE, CACHED]}])
    ),
    "images-500": lambda f: rejects(
        f,
        with_fields(
            messages=[
                USER,
                USE,
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [IMAGE]}],
                },
            ],
            tools=[TOOL],
        ),
        500,
        "api_error",
    ),
    "reject-documents": lambda f: rejects(
        f, with_fields(messages=[{"role": "user", "content": [DOCUMENT, CACHED]}])
    ),
    "documents-500": lambda f: rejects(
        f, with_fields(messages=[{"role": "user", "content": [DOCUMENT, CACHED]}]), 500, "api_error"
    ),
    "reject-thinking-replay": lambda f: rejects(f, with_fields(messages=[USER, THINKING_TURN, USER])),
    "reject-metadata": lambda f: rejects(f, with_fields(metadata={"user_id": "u"})),
    "reject-cache-control-on-tool-result": lambda f: rejects(
        f,
        with_fields(
            tools=[TOOL],
            messages=[
                USER,
                USE,
                {
                    "role": "user",
                    "content": [{**RESULT["content"][0], "cache_control": {"type": "ephemeral"}}],
                },
            ],
        ),
    ),
    "leading-system-role-500": lambda f: (
        rejects(f, with_fields(messages=[{"role": "system", "content": "s"}, USER]), 500, "api_error")
        and fpost(f, with_fields(messages=[USER, {"role": "system", "content": "s"}])).status_code == 200
    ),
    "reject-over-16-tools": lambda f: (
        rejects(f, with_fields(tools=TOOLS_24[:17]))
        and fpost(f, with_fields(tools=TOOLS_24[:16])).status_code == 200
    ),
    "reject-context-management": lambda f: (
        post(CONTEXT_MANAGED, headers=CONTEXT_BETA).status_code == 200
        and assert_error(fpost(f, CONTEXT_MANAGED, headers=CONTEXT_BETA), 400, "invalid_request_error")
    ),
    "reject-multiple-stop-sequences": lambda f: (
        rejects(f, with_fields(stop_sequences=["x", "y"]))
        and fpost(f, stop_sequences=["x"]).status_code == 200
    ),
    "reject-temperature": lambda f: rejects(f, with_fields(temperature=0.5)),
    "reject-multiple-tool-results": lambda f: rejects(
        f, with_fields(tools=[TOOL], messages=[USER, USE_2, RESULTS_2])
    ),
    # behaviour
    "mangle-non-ascii": lambda f: (
        text_of(post(text="Reply with exactly: héllo 世界 👋")) == "héllo 世界 👋"
        and text_of(fpost(f, text="Reply with exactly: héllo 世界 👋")) == "h?llo ?? ?"
        and accumulate(fstream(f, text="Reply with exactly: héllo 世界 👋"))["content"][0]["text"]
        == "h?llo ?? ?"
    ),
    "auto-never-calls-tools": lambda f: (
        tool_ids(post(text=CALL, tools=[TOOL]).json()) != []
        and tool_ids(fpost(f, text=CALL, tools=[TOOL]).json()) == []
        and tool_ids(fpost(f, text=CALL, tools=[TOOL], tool_choice={"type": "auto"}).json()) == []
        and tool_ids(fpost(f, text="hi", tools=[TOOL], tool_choice={"type": "any"}).json()) != []
    ),
    "ignore-tool-choice": lambda f: (
        tool_ids(post(text="hi", tools=[TOOL], tool_choice={"type": "any"}).json()) != []
        and tool_ids(fpost(f, text="hi", tools=[TOOL], tool_choice={"type": "any"}).json()) == []
        and tool_ids(fpost(f, text=CALL, tools=[TOOL], tool_choice={"type": "none"}).json()) != []
    ),
    "ignore-tool-choice-none": lambda f: (
        tool_ids(post(text=CALL, tools=[TOOL], tool_choice={"type": "none"}).json()) == []
        and tool_ids(fpost(f, text=CALL, tools=[TOOL], tool_choice={"type": "none"}).json()) != []
        and tool_ids(fpost(f, text="hi", tools=[TOOL], tool_choice={"type": "any"}).json()) != []
    ),
    "no-parallel-tool-calls": lambda f: (
        len(tool_ids(post(text=TWO_CALLS, tools=[TOOL]).json())) == 2
        and len(tool_ids(fpost(f, text=TWO_CALLS, tools=[TOOL]).json())) == 1
    ),
    "ignore-disable-parallel": lambda f: (
        len(tool_ids(post(text=TWO_CALLS, tools=[TOOL], tool_choice=NO_PARALLEL).json())) == 1
        and len(tool_ids(fpost(f, text=TWO_CALLS, tools=[TOOL], tool_choice=NO_PARALLEL).json())) == 2
    ),
    "duplicate-tool-ids": lambda f: (
        len(set(tool_ids(post(text=TWO_CALLS, tools=[TOOL]).json()))) == 2
        and len(set(tool_ids(fpost(f, text=TWO_CALLS, tools=[TOOL]).json()))) == 1
        and len(set(tool_ids(accumulate(fstream(f, text=TWO_CALLS, tools=[TOOL]))))) == 1
        and len(tool_ids(fpost(f, text=TWO_CALLS, tools=[TOOL]).json())) == 2
    ),
    "thinking-ignored": lambda f: (
        block_types(post(**THINK).json()) == ["thinking", "text"]
        and block_types(fpost(f, **THINK).json()) == ["text"]
        and block_types(accumulate(fstream(f, thinking={"type": "adaptive"}))) == ["text"]
    ),
    "thinking-without-signature": lambda f: (
        "signature" not in fpost(f, **THINK).json()["content"][0]
        and fpost(f, **THINK).json()["content"][0]["type"] == "thinking"
        and accumulate(fstream(f, **THINK))["content"][0]["signature"]
        == post(**THINK).json()["content"][0]["signature"]
    ),
    "wrong-bearer-accepted": lambda f: (
        assert_error(post(headers={**V2026, "authorization": "Bearer nope"}), 401, "authentication_error")
        and fpost(f, headers={**V2026, "authorization": "Bearer nope"}).status_code == 200
        and assert_error(fpost(f, headers={**V2023, "x-api-key": "nope"}), 401, "authentication_error")
        and assert_error(fpost(f, headers={"anthropic-version": "2023-06-01"}), 401, "authentication_error")
    ),
    # streaming
    "sse-no-signature-delta": lambda f: (
        "signature_delta" in delta_types(stream(**THINK)[1])
        and "signature_delta" not in delta_types(fstream(f, **THINK))
        and "thinking_delta" in delta_types(fstream(f, **THINK))
        and isinstance(fpost(f, **THINK).json()["content"][0]["signature"], str)
    ),
    "sse-thinking-as-text": lambda f: (
        block_types(accumulate(fstream(f, **THINK))) == ["text", "text"]
        and delta_types(fstream(f, **THINK)) == {"text_delta"}
        and block_types(fpost(f, **THINK).json()) == ["thinking", "text"]
    ),
    "sse-stop-sequence-as-end-turn": lambda f: (
        final_delta(stream(stop_sequences=["gamma"])[1])["delta"]
        == {"stop_reason": "stop_sequence", "stop_sequence": "gamma"}
        and final_delta(fstream(f, stop_sequences=["gamma"]))["delta"]
        == {"stop_reason": "end_turn", "stop_sequence": None}
        and fpost(f, stop_sequences=["gamma"]).json()["stop_reason"] == "stop_sequence"
        and accumulate(fstream(f, stop_sequences=["gamma"]))["content"][0]["text"] == "alpha beta "
    ),
    "sse-max-tokens-as-end-turn": lambda f: (
        final_delta(stream(max_tokens=2)[1])["delta"]["stop_reason"] == "max_tokens"
        and final_delta(fstream(f, max_tokens=2))["delta"]["stop_reason"] == "end_turn"
        and fpost(f, max_tokens=2).json()["stop_reason"] == "max_tokens"
    ),
    "sse-start-without-cache-fields": lambda f: (
        {"cache_creation_input_tokens", "cache_read_input_tokens"} <= set(start_usage(stream()[1]))
        and not {"cache_creation_input_tokens", "cache_read_input_tokens"} & set(start_usage(fstream(f)))
        and start_usage(fstream(f))["input_tokens"] == 8
    ),
    "sse-parallel-tools-interleaved": lambda f: (
        block_events(stream(text=TWO_CALLS, tools=[TOOL])[1])[:3]
        == [("start", 0), ("delta", 0), ("delta", 0)]
        and block_events(fstream(f, text=TWO_CALLS, tools=[TOOL]))[:4]
        == [("start", 0), ("start", 1), ("delta", 0), ("delta", 1)]
        and block_events(fstream(f, text=TWO_CALLS, tools=[TOOL]))[-2:] == [("stop", 0), ("stop", 1)]
        and block_events(fstream(f)) == block_events(stream()[1])
    ),
    "sse-tool-input-differs": lambda f: (
        accumulate(fstream(f, text=CALL, tools=[TOOL]))["content"][0]["input"]
        == {"q": "nonce-7", "extra": True}
        and fpost(f, text=CALL, tools=[TOOL]).json()["content"][0]["input"] == {"q": "nonce-7"}
    ),
    "sse-output-tokens-doubled": lambda f: (
        final_delta(fstream(f))["usage"]["output_tokens"]
        == 2 * fpost(f).json()["usage"]["output_tokens"]
        == 8
    ),
    "sse-idle-gap": silent_after_first_chunk,
    "rate-limited-without-ratelimit-headers": lambda f: (
        fpost(f).status_code == 429
        and "retry-after" in fpost(f).headers
        and not [h for h in fpost(f).headers if h.startswith("anthropic-ratelimit-")]
        and "anthropic-ratelimit-requests-remaining" in fpost("rate-limited-without-retry-after").headers
    ),
    "rate-limited-without-retry-after": lambda f: (
        fpost(f).status_code == 429
        and fpost(f).json()["error"]["type"] == "rate_limit_error"
        and "retry-after" not in fpost(f).headers
        and fcount(f, {"model": "reference-model", "messages": [USER]}).status_code == 200
    ),
    "x-should-retry-invalid": lambda f: fpost(f).headers.get("x-should-retry") == "yes" and fpost(f).status_code == 200,
    "sse-malformed-error-event": lambda f: (
        fstream(f)[-1] == ("error", {"error": "overloaded"})
        and len(datas(fstream(f), "content_block_delta")) == 1
        and fpost(f).status_code == 200
    ),
    "sse-tool-as-text": lambda f: (
        block_types(accumulate(fstream(f, text=CALL, tools=[TOOL]))) == ["text"]
        and json.loads(accumulate(fstream(f, text=CALL, tools=[TOOL]))["content"][0]["text"])
        == {"name": "lookup", "input": {"q": "nonce-7"}}
        and final_delta(fstream(f, text=CALL, tools=[TOOL]))["delta"]["stop_reason"] == "end_turn"
        and fpost(f, text=CALL, tools=[TOOL]).json()["stop_reason"] == "tool_use"
    ),
    "sse-ping-before-start": lambda f: (
        [name for name, _ in fstream(f)][:3] == ["ping", "message_start", "ping"]
        and [name for name, _ in fstream(f)][1:] == [name for name, _ in stream()[1]]
    ),
    "sse-request-error-first": lambda f: (
        [(name, data["error"]["type"]) for name, data in fstream(f)] == [("error", "invalid_request_error")]
        and fpost(f).status_code == 200
    ),
    "sse-no-pings": lambda f: (
        "ping" in [name for name, _ in stream()[1]]
        and [name for name, _ in fstream(f)] == [name for name, _ in stream()[1] if name != "ping"]
    ),
    # usage
    "usage-output-one": lambda f: (
        fpost(f).json()["usage"]["output_tokens"] == final_delta(fstream(f))["usage"]["output_tokens"] == 1
        and text_of(fpost(f)) == "alpha beta gamma delta"
        and fpost("").json()["usage"]["output_tokens"] == 4
    ),
    "usage-delta-output-zero": lambda f: (
        final_delta(fstream(f))["usage"]["output_tokens"] == 0
        and accumulate(fstream(f))["content"][0]["text"] == "alpha beta gamma delta"
        and fpost(f).json()["usage"]["output_tokens"] == 4
    ),
    "usage-input-short-zero": lambda f: (
        fpost(f, text="Hi").json()["usage"]["input_tokens"] == 0
        and start_usage(fstream(f, text="Hi"))["input_tokens"] == 0
        and fpost("", text="Hi").json()["usage"]["input_tokens"] == 2
        and fpost(f).json()["usage"]["input_tokens"] == fpost("").json()["usage"]["input_tokens"] - 2 > 0
    ),
    "usage-constant": lambda f: (
        {"input_tokens": 10, "output_tokens": 5}.items()
        <= fpost(f).json()["usage"].items() & fpost(f, text=LONG, max_tokens=200).json()["usage"].items()
        and start_usage(fstream(f, text=LONG, max_tokens=200))["input_tokens"] == 10
        and fpost("", text=LONG, max_tokens=200).json()["usage"]["input_tokens"] > 100
    ),
    "usage-output-is-total": lambda f: (
        fpost(f).json()["usage"]["output_tokens"]
        == final_delta(fstream(f))["usage"]["output_tokens"]
        == fpost("").json()["usage"]["input_tokens"] + 4
    ),
    # count_tokens
    "models-missing": lambda f: (
        assert_error(fget(f, "/v1/models"), 404, "not_found_error")
        and assert_error(fget(f, "/v1/models/reference-model"), 404, "not_found_error")
        and fpost(f).status_code == 200
    ),
    "models-missing-plain": lambda f: (
        fget(f, "/v1/models").status_code == 405
        and fget(f, "/v1/models").text == "Method Not Allowed"
        and fget(f, "/v1/models/reference-model").status_code == 405
        and fpost(f).status_code == 200
    ),
    "count-tokens-missing-plain": lambda f: (
        fcount(f, COUNT_BODY).status_code == 404
        and fcount(f, COUNT_BODY).json() == {"detail": "Not Found"}
        and fpost(f).status_code == 200
    ),
    "count-tokens-missing": lambda f: (
        assert_error(fcount(f, COUNT_BODY), 404, "not_found_error")
        and assert_error(
            call(
                "POST", f"/faults/{f}/v1/messages/count_tokens?beta=true", json_body=COUNT_BODY, headers=V2023
            ),
            404,
            "not_found_error",
        )
        and fpost(f).status_code == 200
    ),
    "count-tokens-string": lambda f: counted(f) == "4" and counted("") == 4,
    "count-tokens-ignores-system": lambda f: (
        counted("", system="a b c") > counted("")
        and counted(f, system="a b c") == counted(f) == 4
        and counted(f, tools=[TOOL]) > 4
    ),
    "count-tokens-ignores-tools": lambda f: (
        counted("", tools=[TOOL]) > counted("")
        and counted(f, tools=[TOOL]) == counted(f) == 4
        and counted(f, system="a b c") == 7
    ),
    "count-tokens-halved": lambda f: counted(f) == 2 and counted(f, system="a b c d") == 4,
    "count-tokens-no-validation": lambda f: (
        assert_error(
            fcount("", {"model": "reference-model"}), 400, "invalid_request_error", "messages: Field required"
        )
        and fcount(f, {"model": "reference-model"}).json() == {"input_tokens": 1}
        and fcount(f, {"model": "reference-model"}).status_code == 200
        and assert_error(fpost(f, NO_MAX_TOKENS), 400, "invalid_request_error")
    ),
    # /v1/models
    "models-openai-shape": lambda f: (
        fget(f, "/v1/models").json()["object"] == "list"
        and set(fget(f, "/v1/models").json()) == {"object", "data"}
        and fget(f, "/v1/models").json()["data"][0]
        == {"id": "reference-model", "object": "model", "created": 1767225600, "owned_by": "reference"}
    ),
    "models-get-404": lambda f: (
        assert_error(fget(f, "/v1/models/reference-model"), 404, "not_found_error")
        and fget(f, "/v1/models").json()["data"][0]["id"] == "reference-model"
        and fget("", "/v1/models/reference-model").status_code == 200
    ),
    "models-unknown-200": lambda f: (
        assert_error(fget("", "/v1/models/made-up-7"), 404, "not_found_error")
        and fget(f, "/v1/models/made-up-7").json()["id"] == "made-up-7"
        and fget(f, "/v1/models/made-up-7").json()["type"] == "model"
    ),
    "models-ignore-limit": lambda f: (
        len(fget("", "/v1/models?limit=1").json()["data"]) == 1
        and fget(f, "/v1/models?limit=1").json()["has_more"] is False
        and len(fget(f, "/v1/models?limit=1").json()["data"])
        == len(fget("", "/v1/models?limit=1000").json()["data"])
        > 1
    ),
    "models-created-at-epoch": lambda f: (
        fget(f, "/v1/models").json()["data"][0]["created_at"] == 1767225600
        and fget(f, "/v1/models/reference-model").json()["created_at"] == 1767225600
        and fget("", "/v1/models/reference-model").json()["created_at"] == "2026-01-01T00:00:00Z"
    ),
    # auth per endpoint
    "count-tokens-bearer-only": lambda f: auth_only_on(
        f, {"x-api-key": 401, "bearer": 200, "none": 401}, "count_tokens"
    ),
    "count-tokens-x-api-key-only": lambda f: auth_only_on(
        f, {"x-api-key": 200, "bearer": 401, "none": 401}, "count_tokens"
    ),
    "count-tokens-no-auth": lambda f: auth_only_on(
        f, {"x-api-key": 200, "bearer": 200, "none": 200}, "count_tokens"
    ),
    "models-bearer-only": lambda f: auth_only_on(f, {"x-api-key": 401, "bearer": 200, "none": 401}, "models"),
    "models-x-api-key-only": lambda f: auth_only_on(
        f, {"x-api-key": 200, "bearer": 401, "none": 401}, "models"
    ),
    "models-no-auth": lambda f: auth_only_on(f, {"x-api-key": 200, "bearer": 200, "none": 200}, "models"),
}
FAULT_CHECKS.update(NEW_FAULT_CHECKS)
FAULT_CHECKS.update(FEATURE_FAULT_CHECKS)

# ----- layers in front of one model of fixtures/models.json (Fault.model) ------------------------------------------
ADAPTIVE = {"model": "claude-opus-4-8", "max_tokens": 1100, "thinking": {"type": "adaptive"}}


def _tool_loop(fault: str) -> httpx.Response:
    """A tool loop on claude-opus-4-8 replayed exactly as answered (a signature-only thinking block first)."""
    asked = {**ADAPTIVE, "tools": [TOOL], "messages": [{"role": "user", "content": CALL}]}
    content = post(asked).json()["content"]
    assert content[0] == {"type": "thinking", "thinking": "", "signature": content[0]["signature"]}
    calls = [b for b in content if b["type"] == "tool_use"]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0]["id"], "content": "r"}]}
    loop = {**asked, "messages": [*asked["messages"], {"role": "assistant", "content": content}, result]}
    assert post(loop).status_code == 200, post(loop).text
    return fpost(fault, loop)


FAULT_CHECKS.update({
    "reject-adaptive-thinking": lambda f: rejects(f, with_fields(**ADAPTIVE)),
    "reject-output-config": lambda f: rejects(f, with_fields(**ADAPTIVE, output_config={"effort": "high"})),
    "thinking-signature-blanked": lambda f: assert_error(_tool_loop(f), 400, "invalid_request_error",
                                                         "Invalid `signature` in `thinking` block"),
    "drop-signature-only-thinking": lambda f: assert_error(_tool_loop(f), 400, "invalid_request_error",
                                                           "must start with a thinking block"),
    "model-gated-500": lambda f: (
        assert_error(fpost(f, with_fields(model="claude-opus-4-7", temperature=0.5)), 500, "api_error")
        and assert_error(fpost(f, with_fields(model="claude-opus-4-7", messages=[USER, {"role": "system",
                                                                                         "content": "x"}])),
                         500, "api_error")
        and fpost(f, with_fields(model="claude-opus-4-7")).status_code == 200
    ),
    "role-system-rejected-own-words": lambda f: assert_error(
        fpost(f, with_fields(messages=[USER, {"role": "system", "content": "x"}])), 400, "invalid_request_error",
        "messages[1].role must be 'user' or 'assistant', got 'system'"),
    "narrow-model-catalogue": lambda f: (
        assert_error(fpost(f, with_fields(model="claude-opus-5-5")), 404, "not_found_error", "claude-opus-5-5")
        and fpost(f).status_code == 200
    ),
})


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
