"""Fault hooks on auth, headers, error bodies, the request body and the Message."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from .auth import bearer_token, check_key, presented_keys
from .errors import ApiError, internal, invalid_request, not_found
from .hooks import RequestInfo
from .ids import derived_hex

# ----- auth, headers and errors ------------------------------------------------------------------------


def bearer_only(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    if bearer_token(headers) is None:
        message = "Missing authentication token"
        return ApiError(401, "authentication_error", message, raw_body={"error": message})
    return check_key(headers, expected, x_api_key=False)


def bearer_first(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    """Authorization: Bearer is read first when present (a layer that prefers it over x-api-key)."""
    if bearer_token(headers) is not None:
        return check_key(headers, expected, x_api_key=False)
    return check_key(headers, expected)


def x_api_key_only(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    return check_key(headers, expected, bearer=False)


def no_auth(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    return None


def wrong_key_403(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    error = check_key(headers, expected)
    if error is not None and presented_keys(headers):
        return ApiError(
            403, "permission_error", "Your API key does not have permission to use this resource."
        )
    return error


def openai_error(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": None, "code": str(error.status)}}


def pascal_error_type(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    body = copy.deepcopy(body)
    if isinstance(body.get("error"), dict):
        body["error"]["type"] = "".join(part.capitalize() for part in error.type.split("_"))
    return body


def drop_body_request_id(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def drop_request_id_header(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != "request-id"}


def content_type(kind: str, value: str) -> Any:
    def hook(headers: dict[str, str], response_kind: str) -> dict[str, str]:
        return {**headers, "content-type": value} if response_kind == kind else headers

    return hook


def beta_query_404(info: RequestInfo) -> ApiError | None:
    betas = parse_qs(info.query).get("beta", [])
    return not_found("Not Found") if "true" in betas else None


def only_version_2026(info: RequestInfo) -> ApiError | None:
    if info.headers.get("anthropic-version") == "2023-06-01":
        return invalid_request("anthropic-version: 2023-06-01 is no longer supported; use 2026-10-21")
    return None


def only_version_2023(info: RequestInfo) -> ApiError | None:
    if info.headers.get("anthropic-version") == "2026-10-21":
        return invalid_request("anthropic-version: 2026-10-21 is not supported; use 2023-06-01")
    return None


def reject_betas(info: RequestInfo) -> ApiError | None:
    beta = info.headers.get("anthropic-beta")
    if beta is None:
        return None
    return invalid_request(f"Unexpected value(s) `{beta}` for the `anthropic-beta` header.")


# ----- request handling -----------------------------------------------------------------------------------


def default(field: str, value: Any, endpoint: str = "") -> Any:
    def hook(body: dict[str, Any], request_endpoint: str) -> dict[str, Any]:
        if endpoint and request_endpoint != endpoint:
            return body
        return {field: value, **body}

    return hook


def crash_on_missing_messages(body: dict[str, Any], endpoint: str) -> ApiError | None:
    return internal("Internal server error") if "messages" not in body else None


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def reject_tool_result_blocks(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, message in enumerate(_messages(body)):
        content = message.get("content") if isinstance(message, dict) else None
        for index, block in enumerate(content if isinstance(content, list) else []):
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_result"
                and isinstance(block.get("content"), list)
            ):
                return invalid_request(
                    f"messages.{number}.content.{index}.content: Input should be a valid string"
                )
    return None


def reject_role_system(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, message in enumerate(_messages(body)):
        if isinstance(message, dict) and message.get("role") == "system":
            return invalid_request(f"messages.{number}.role: Input should be 'user' or 'assistant'")
    return None


def settings(**changes: bool) -> Any:
    return lambda settings: dataclasses.replace(settings, **changes)


# ----- the Message --------------------------------------------------------------------------------------


def without(key: str) -> Any:
    return lambda message: {k: v for k, v in message.items() if k != key}


def with_value(key: str, value: Any) -> Any:
    return lambda message: {**message, key: value}


def zero_input(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "usage": {**message["usage"], "input_tokens": 0}}


def chatcmpl_id(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "id": "chatcmpl-" + derived_hex(str(message.get("id")), "chatcmpl")}


def prepend_empty_text(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "content": [{"type": "text", "text": ""}, *message["content"]]}


def end_turn_for_tools(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "stop_reason": "end_turn"} if message.get("stop_reason") == "tool_use" else message


def map_tool_uses(change: Any) -> Any:
    def hook(message: dict[str, Any]) -> dict[str, Any]:
        content = [change(dict(b)) if b.get("type") == "tool_use" else b for b in message["content"]]
        return {**message, "content": content}

    return hook


def tool_id(prefix: str) -> Any:
    return map_tool_uses(lambda block: {**block, "id": prefix + derived_hex(block["id"], prefix, 24)})


def split_first_text(message: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    done = False
    for block in message["content"]:
        text = block.get("text", "") if block.get("type") == "text" else ""
        middle = _split_point(text)
        if done or middle is None:
            content.append(block)
            continue
        content += [{**block, "text": text[:middle]}, {**block, "text": text[middle:]}]
        done = True
    return {**message, "content": content}


def _split_point(text: str) -> int | None:
    words = text.split()
    if len(words) >= 2:
        position = text.find(words[0]) + len(words[0])
        for word in words[1 : (len(words) + 1) // 2]:
            position = text.find(word, position) + len(word)
        return position
    stripped = text.strip()
    return text.find(stripped) + len(stripped) // 2 if len(stripped) >= 2 else None


EXTRA = "x_reference_extra"


def extra_in_message(message: dict[str, Any]) -> dict[str, Any]:
    content = [{**block, EXTRA: "block"} for block in message["content"]]
    return {**message, EXTRA: "message", "usage": {**message["usage"], EXTRA: "usage"}, "content": content}


def framing(**changes: Any) -> Any:
    return lambda framing: dataclasses.replace(framing, **changes)


def tool_input_as_string(block: dict[str, Any]) -> dict[str, Any]:
    return {**block, "input": json.dumps(block["input"])}
