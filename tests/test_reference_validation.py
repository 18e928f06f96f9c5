"""Tests of the reference server's request validation: what it rejects (and how), and what it must accept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from refserver import (
    APP,
    CACHED,
    CLAUDE_CODE_BETAS,
    COUNT_BODY,
    DOCUMENT,
    IMAGE,
    RESULT,
    TOOL,
    TOOLS_24,
    USE,
    USER,
    V2023,
    V2026,
    accumulate,
    assert_error,
    assert_well_ordered,
    block_types,
    body,
    call,
    fget,
    parse_sse,
    post,
    text_of,
    with_fields,
)

from reference_server import FAULTS

# ----- validation --------------------------------------------------------------------------------------------


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
    "messages as an object": (
        {"messages": {"role": "user", "content": "hi"}},
        "messages: Input should be a valid list",
    ),
    "string max_tokens": ({"max_tokens": "16"}, "max_tokens: Input should be a valid integer"),
    "image of an unknown media type": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"},
                        }
                    ],
                }
            ]
        },
        "source.media_type",
    ),
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
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
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
CRASHING = {
    "crash-on-missing-messages",
    "invalid-json-500",
    "crash-on-messages-object",
    "prefill-500",
    "images-500",
    "documents-500",
}
SURVIVABLE = [name for name in FAULTS if name not in CRASHING]


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


# ----- the size cap and unknown models -----------------------------------------------------------------------


def raw_call(path: str, chunks: list[bytes], headers: dict[str, str]) -> tuple[int, dict[str, Any], int]:
    """POST `chunks` as a streamed body straight to the ASGI app: (status, JSON body, chunks the app read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def go() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }

        async def receive() -> dict[str, Any]:
            nonlocal read
            read += 1
            if read > len(chunks):
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await APP(scope, receive, send)

    asyncio.run(go())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(content), read


def test_a_body_over_the_size_cap_is_a_413_and_is_not_read_past_the_cap() -> None:
    from reference_server.app import MAX_BODY_BYTES

    assert MAX_BODY_BYTES == 32 * 1024 * 1024
    mebibyte = b" " * (1024 * 1024)
    chunks = [mebibyte] * (MAX_BODY_BYTES // len(mebibyte) + 8)
    status, error, read = raw_call("/v1/messages", chunks, V2023)
    assert status == 413 and error["error"]["type"] == "request_too_large" and error["request_id"]
    assert read == MAX_BODY_BYTES // len(mebibyte) + 1  # the chunk that crosses the cap is the last one read
    declared = {**V2023, "content-length": str(MAX_BODY_BYTES + 1)}
    status, error, read = raw_call("/v1/messages/count_tokens", [mebibyte], declared)
    assert status == 413 and error["error"]["type"] == "request_too_large" and read == 0
    padded = json.dumps(body()).encode() + b" " * (MAX_BODY_BYTES - len(json.dumps(body())))
    assert raw_call("/v1/messages", [padded], V2023)[0] == 200  # exactly at the cap is fine


def test_an_unknown_model_is_a_404_on_messages_and_count_tokens_and_claude_ids_are_served() -> None:
    assert_error(post(model="gpt-4o"), 404, "not_found_error", "model: gpt-4o")
    count = call(
        "POST", "/v1/messages/count_tokens", json_body={**COUNT_BODY, "model": "gpt-4o"}, headers=V2023
    )
    assert_error(count, 404, "not_found_error", "model: gpt-4o")
    assert_error(
        post(body(max_tokens=None) | {"model": "gpt-4o"}), 400, "invalid_request_error"
    )  # validation first
    for model in (
        "reference-model",
        "claude-opus-4-8",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-future-9",
    ):
        assert post(model=model).json()["model"] == model


# ----- valid requests the real API accepts, and betas --------------------------------------------------------


ACCEPTED: dict[str, tuple[dict[str, Any], str | None]] = {
    "consecutive user turns": (
        {"messages": [USER, {"role": "user", "content": "Reply with exactly: merged"}]},
        "merged",
    ),
    "consecutive assistant turns": (
        {
            "messages": [
                USER,
                {"role": "assistant", "content": "a"},
                {"role": "assistant", "content": "b"},
                USER,
            ]
        },
        None,
    ),
    "assistant prefill": (
        {
            "messages": [
                {"role": "user", "content": "Reply with exactly: Hello world"},
                {"role": "assistant", "content": "Hello"},
            ]
        },
        " world",
    ),
    "role system first": (
        {"messages": [{"role": "system", "content": "Reply with exactly: sys first"}, USER]},
        "sys first",
    ),
    "role system after the user": (
        {"messages": [USER, {"role": "system", "content": "Reply with exactly: sys after"}]},
        "sys after",
    ),
    "images of each media type": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": f"image/{kind}", "data": "AAAA"},
                        }
                        for kind in ("png", "jpeg", "gif", "webp")
                    ]
                    + [CACHED],
                }
            ]
        },
        None,
    ),
    "documents, text and pdf": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        DOCUMENT,
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                        },
                        CACHED,
                    ],
                }
            ]
        },
        None,
    ),
    "image and document inside tool_result": (
        {
            "tools": [TOOL],
            "messages": [
                USER,
                USE,
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [IMAGE, DOCUMENT, {"type": "text", "text": "r"}],
                        }
                    ],
                },
            ],
        },
        None,
    ),
    "thinking and redacted_thinking replayed": (
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t", "signature": "c2ln"},
                        {"type": "redacted_thinking", "data": "ZGF0YQ=="},
                        {"type": "text", "text": "ok"},
                    ],
                },
                USER,
            ],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "max_tokens": 2048,
        },
        None,
    ),
    "metadata.user_id": ({"metadata": {"user_id": "user-1"}}, None),
    "four cache breakpoints on system, text, tool_result and a tool": (
        {
            "system": [CACHED],
            "tools": [{**TOOL, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [
                {"role": "user", "content": [CACHED]},
                USE,
                {
                    "role": "user",
                    "content": [{**RESULT["content"][0], "cache_control": {"type": "ephemeral"}}],
                },
            ],
        },
        None,
    ),
    "24 tools": ({"tools": TOOLS_24}, None),
    "several stop sequences": ({"stop_sequences": ["x", "gamma", "zzz"]}, "alpha beta "),
    "sampling parameters under 2023-06-01": ({"temperature": 0.2, "top_p": 0.9, "top_k": 40}, None),
    "a model claude-*": ({"model": "claude-sonnet-4-5"}, None),
}


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
def test_a_valid_request_the_real_api_accepts_is_answered(case: str) -> None:
    fields, text = ACCEPTED[case]
    response = post(with_fields(**fields))
    assert response.status_code == 200, response.text
    anthropic.types.Message.model_validate(response.json())
    if text is not None:
        assert text_of(response) == text


def claude_code_request() -> dict[str, Any]:
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 32000,
        "system": [
            {
                "type": "text",
                "text": "x-anthropic-billing-header: cc_version=2.1",
                "cache_control": {"type": "ephemeral"},
            },
            {
                "type": "text",
                "text": "You are Claude Code.",
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "system", "content": "Reply with exactly: claude code works"},
        ],
        "tools": TOOLS_24,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "user_abc_account_def_session_ghi"},
        "stream": True,
    }


def test_a_claude_code_shaped_request_is_streamed_with_thinking_first() -> None:
    headers = {**V2023, "anthropic-beta": CLAUDE_CODE_BETAS, "x-app": "cli"}
    response = call("POST", "/v1/messages?beta=true", json_body=claude_code_request(), headers=headers)
    assert response.status_code == 200, response.text
    events = parse_sse(response.content)
    assert_well_ordered(events)
    message = accumulate(events)
    assert (
        block_types(message) == ["thinking", "text"] and message["content"][1]["text"] == "claude code works"
    )
    assert isinstance(message["content"][0]["signature"], str) and message["content"][0]["signature"]


def test_beta_values_shaped_like_beta_names_are_ignored_and_others_are_a_400() -> None:
    for value in (
        CLAUDE_CODE_BETAS,
        "made-up-feature-2099-01-01",
        " files-api-2025-04-14 , ",
        "claude-code-20250219",
    ):
        assert post(headers={**V2023, "anthropic-beta": value}).status_code == 200, value
    for value, named in (("bogus", "bogus"), ("effort-2025-11-24,not a beta", "not a beta"), ("x-1", "x-1")):
        response = post(headers={**V2023, "anthropic-beta": value})
        assert_error(
            response,
            400,
            "invalid_request_error",
            f"Unexpected value(s) `{named}` for the `anthropic-beta` header",
        )
    assert_error(fget("", "/v1/models", {**V2023, "anthropic-beta": "bogus"}), 400, "invalid_request_error")
