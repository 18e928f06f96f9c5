"""Fault hooks on requests: rejections of valid inputs, crashes, wrong statuses and wrong error shapes."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

from . import betas, models
from .errors import ApiError, internal, invalid_request, not_found
from .hooks import RequestInfo

NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n"
)


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _blocks(body: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(path, role, block) for every content block of every message, tool_result contents included."""
    for number, message in enumerate(_messages(body)):
        content = message.get("content") if isinstance(message, dict) else None
        for index, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict):
                continue
            path = f"messages.{number}.content.{index}"
            yield path, message.get("role"), block
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for position, item in enumerate(inner if isinstance(inner, list) else []):
                if isinstance(item, dict):
                    yield f"{path}.content.{position}", message.get("role"), item


# ----- validate hooks: (body, endpoint) -> error or None ---------------------------------------------------


def reject_block(kind: str, crash: bool = False) -> Any:
    """Any `kind` block (in a message or a tool_result) gets 400, or 500 api_error when `crash`."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        for path, _, block in _blocks(body):
            if block.get("type") == kind:
                return (
                    internal()
                    if crash
                    else invalid_request(f"{path}: {kind} content blocks are not supported")
                )
        return None

    return hook


def reject_thinking_replay(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for path, role, block in _blocks(body):
        if role == "assistant" and block.get("type") in ("thinking", "redacted_thinking"):
            return invalid_request(
                f"{path}.type: Input tag '{block['type']}' is not supported in assistant messages"
            )
    return None


def reject_field(name: str) -> Any:
    """The top-level `name` gets the real API's unknown-field 400."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        return invalid_request(f"{name}: Extra inputs are not permitted") if name in body else None

    return hook


def reject_cache_control_on_tool_result(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for path, _, block in _blocks(body):
        if block.get("type") == "tool_result" and block.get("cache_control") is not None:
            return invalid_request(f"{path}.tool_result.cache_control: Extra inputs are not permitted")
    return None


def crash_on_leading_system_role(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A role: system message before the first user turn crashes the layer (500 api_error)."""
    for message in _messages(body):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            return None
        if role == "system":
            return internal()
    return None


def reject_consecutive_roles(body: dict[str, Any], endpoint: str) -> ApiError | None:
    roles = [message.get("role") if isinstance(message, dict) else None for message in _messages(body)]
    for first, second in zip(roles, roles[1:], strict=False):
        if first == second and first in ("user", "assistant"):
            return invalid_request(
                f'messages: roles must alternate between "user" and "assistant", but found multiple "{first}" roles in a row'
            )
    return None


def model_without_role_system(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A model without mid-conversation system messages: the real API's 400 for a role: system message."""
    if any(isinstance(m, dict) and m.get("role") == "system" for m in _messages(body)):
        return invalid_request("role 'system' is not supported on this model")
    return None


def model_without_temperature(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A model that takes no sampling parameters: the real API's 400 for temperature, in every version."""
    return invalid_request("`temperature` is deprecated for this model.") if "temperature" in body else None


def reject_streaming(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """stream: true gets 400 (a layer that never streams)."""
    if endpoint == "messages" and body.get("stream") is True:
        return invalid_request("stream: streaming is not supported")
    return None


def reject_prefill(crash: bool) -> Any:
    """An assistant message last (a prefill) gets 400, or 500 api_error when `crash`."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        messages = _messages(body)
        last = messages[-1] if messages else None
        if not isinstance(last, dict) or last.get("role") != "assistant":
            return None
        if crash:
            return internal()
        return invalid_request(
            'messages: the final message must use the "user" role; assistant prefill is not supported'
        )

    return hook


def at_most(field: str, limit: int) -> Any:
    """A list-valued top-level field with more than `limit` items gets 400."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        value = body.get(field)
        if isinstance(value, list) and len(value) > limit:
            noun = "item" if limit == 1 else "items"
            return invalid_request(
                f"{field}: List should have at most {limit} {noun} after validation, not {len(value)}"
            )
        return None

    return hook


def reject_multiple_tool_results(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, message in enumerate(_messages(body)):
        content = message.get("content") if isinstance(message, dict) else None
        blocks = content if isinstance(content, list) else []
        if sum(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks) > 1:
            return invalid_request(
                f"messages.{number}.content: only one tool_result block is allowed per message"
            )
    return None


def crash_on_messages_object(body: dict[str, Any], endpoint: str) -> ApiError | None:
    return internal() if isinstance(body.get("messages"), dict) else None


def unknown_model_400(body: dict[str, Any], endpoint: str) -> ApiError | None:
    model = body.get("model")
    if isinstance(model, str) and model and not models.known(model):
        return invalid_request(f"Invalid model name passed in model={model}")
    return None


# ----- headers, routes, errors and ids ----------------------------------------------------------------------


def malformed_beta_500(info: RequestInfo) -> ApiError | None:
    return internal() if betas.malformed(info.headers.get("anthropic-beta")) else None


def not_found_html(info: RequestInfo) -> ApiError | None:
    if info.endpoint:
        return None
    return ApiError(
        404, "not_found_error", "Not Found", raw_body=NOT_FOUND_HTML, media_type="text/html; charset=utf-8"
    )


def route_404(*endpoints: str) -> Any:
    """Every request to one of `endpoints` gets an Anthropic-shaped 404 (the route does not exist)."""
    return lambda info: not_found("Not Found") if info.endpoint in endpoints else None


def route_unserved(status: int, raw_body: Any, media_type: str, *endpoints: str) -> Any:
    """Every request to one of `endpoints` gets `status` with a body that is not Anthropic's (a web framework's own
    answer for a route it does not have, as most layers that skip an optional endpoint give)."""
    error = ApiError(status, "not_found_error", "Not Found", raw_body=raw_body, media_type=media_type)
    return lambda info: error if info.endpoint in endpoints else None


def status_422(error: ApiError) -> ApiError:
    if error.status == 400 and error.type == "invalid_request_error":
        return dataclasses.replace(error, status=422)
    return error


def null_request_id(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {**body, "request_id": None} if "request_id" in body else body


def uuid_request_id() -> str:
    return str(uuid.uuid4())


def rate_limited(info: RequestInfo) -> ApiError | None:
    """Every POST /v1/messages gets 429 rate_limit_error."""
    if info.endpoint != "messages":
        return None
    return ApiError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit.")


def drop_retry_after(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() != "retry-after"}


def drop_ratelimit_headers(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {name: value for name, value in headers.items() if not name.lower().startswith("anthropic-ratelimit-")}


def invalid_should_retry(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {**headers, "x-should-retry": "yes"}
