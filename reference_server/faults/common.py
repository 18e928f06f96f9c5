"""Helpers the fault areas share: fault constructors, hook makers, and readers of bodies, Messages and events."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

from ..errors import ApiError, invalid_request, not_found
from ..hooks import Fault
from ..streaming import SseEvent

# ----- fault constructors -----------------------------------------------------------------------------------


def switched_off(name: str, description: str, *rules: str, **hooks: Any) -> Fault:
    """A fault that switches standard rules off (and may add hooks)."""
    return Fault(name, description, "fault", relax=frozenset(rules), **hooks)


def rejecting(name: str, description: str, hook: Any) -> Fault:
    """A fault whose validate hook rejects a valid request."""
    return Fault(name, description, "fault", validate=hook)


# ----- hook makers ------------------------------------------------------------------------------------------


def settings(**changes: bool) -> Any:
    """A responder hook: the model's settings with `changes`."""
    return lambda settings: dataclasses.replace(settings, **changes)


def framing(**changes: Any) -> Any:
    """A framing hook: the stream's framing with `changes`."""
    return lambda framing: dataclasses.replace(framing, **changes)


def content_type(kind: str, value: str) -> Any:
    """A response_headers hook: `value` as the content-type of `kind` responses ("json" or "sse")."""

    def hook(headers: dict[str, str], response_kind: str) -> dict[str, str]:
        return {**headers, "content-type": value} if response_kind == kind else headers

    return hook


def reject_field(name: str) -> Any:
    """The top-level `name` gets the real API's unknown-field 400."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        return invalid_request(f"{name}: Extra inputs are not permitted") if name in body else None

    return hook


def route_404(*endpoints: str) -> Any:
    """Every request to one of `endpoints` gets an Anthropic-shaped 404 (the route does not exist)."""
    return lambda info: not_found("Not Found") if info.endpoint in endpoints else None


def route_unserved(status: int, raw_body: Any, media_type: str, *endpoints: str) -> Any:
    """Every request to one of `endpoints` gets `status` with a body that is not Anthropic's (a web framework's own
    answer for a route it does not have, as most layers that skip an optional endpoint give)."""
    error = ApiError(status, "not_found_error", "Not Found", raw_body=raw_body, media_type=media_type)
    return lambda info: error if info.endpoint in endpoints else None


# ----- the request body -------------------------------------------------------------------------------------


def messages(body: dict[str, Any]) -> list[Any]:
    """The body's messages, or [] when they are not a list."""
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def contents(body: dict[str, Any]) -> Iterator[tuple[int, Any, list[Any]]]:
    """(number, message, content) for every message; content is [] unless the message has a list of blocks."""
    for number, message in enumerate(messages(body)):
        content = message.get("content") if isinstance(message, dict) else None
        yield number, message, content if isinstance(content, list) else []


def blocks(body: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(path, role, block) for every content block of every message, tool_result contents included."""
    for number, message, content in contents(body):
        for index, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            path = f"messages.{number}.content.{index}"
            yield path, message.get("role"), block
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for position, item in enumerate(inner if isinstance(inner, list) else []):
                if isinstance(item, dict):
                    yield f"{path}.content.{position}", message.get("role"), item


# ----- the Message ------------------------------------------------------------------------------------------


def without(key: str) -> Any:
    """A Message hook: the Message without `key`."""
    return lambda message: {k: v for k, v in message.items() if k != key}


def with_content(message: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    return {**message, "content": content}


# ----- the event list ---------------------------------------------------------------------------------------


def data_of(item: SseEvent) -> dict[str, Any]:
    """An event's data when it is an object, else {}."""
    return item.data if isinstance(item.data, dict) else {}


def is_type(item: SseEvent, kind: str) -> bool:
    return data_of(item).get("type") == kind


def delta_type(item: SseEvent) -> str | None:
    """The delta type of a content_block_delta event, or None."""
    delta = data_of(item).get("delta")
    return delta.get("type") if is_type(item, "content_block_delta") and isinstance(delta, dict) else None


def edit(kind: str, change: Any) -> Any:
    """An events hook that rewrites the data of every event of type `kind`."""

    def hook(events: list[SseEvent]) -> list[SseEvent]:
        return [SseEvent(e.name, change(copy.deepcopy(e.data))) if is_type(e, kind) else e for e in events]

    return hook


def drop(kind: str) -> Any:
    """An events hook that leaves out every event of type `kind`."""
    return lambda events: [e for e in events if not is_type(e, kind)]


def pop(*path: str) -> Any:
    """A change for `edit`: the event data without the key at `path`."""

    def change(data: dict[str, Any]) -> dict[str, Any]:
        holder = data
        for key in path[:-1]:
            holder = holder.get(key, {})
        holder.pop(path[-1], None)
        return data

    return change
