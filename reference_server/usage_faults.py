"""Fault hooks that make usage impossible, and that misplace or leave out a stream's pings and errors."""

from __future__ import annotations

from typing import Any

from .event_faults import edit
from .streaming import SseEvent, event


def _usage(message: dict[str, Any], **changes: Any) -> dict[str, Any]:
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return message
    return {**message, "usage": {**usage, **changes}}


def _tokens(message: dict[str, Any], key: str) -> int:
    usage = message.get("usage")
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) else 0


def output_one(message: dict[str, Any]) -> dict[str, Any]:
    """output_tokens is 1 whatever the reply (a layer that counts one token per message)."""
    return _usage(message, output_tokens=1)


def input_short_zero(message: dict[str, Any]) -> dict[str, Any]:
    """input_tokens undercounts by 2, so a one-word prompt reports 0 (as llmock's len(text) // 4 does for "hi")."""
    return _usage(message, input_tokens=max(0, _tokens(message, "input_tokens") - 2))


def constant(message: dict[str, Any]) -> dict[str, Any]:
    """The same usage for every request, whatever its prompt and reply (as llm-mock-api's 10 in / 5 out)."""
    return _usage(message, input_tokens=10, output_tokens=5)


def output_is_total(message: dict[str, Any]) -> dict[str, Any]:
    """output_tokens carries input plus output (an OpenAI total_tokens taken for completion_tokens)."""
    return _usage(message, output_tokens=_tokens(message, "input_tokens") + _tokens(message, "output_tokens"))


def _zero_output(data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data.get("usage"), dict):
        data["usage"]["output_tokens"] = 0
    return data


delta_output_zero = edit("message_delta", _zero_output)  # every message_delta reports usage.output_tokens 0


def ping_before_start(events: list[SseEvent]) -> list[SseEvent]:
    """A ping first, then the stream (as mock-ai-api sends it)."""
    return [event({"type": "ping"}), *events]


def request_error_first(events: list[SseEvent]) -> list[SseEvent]:
    """The 200 stream holds one error event, a request error the API answers with an HTTP 400 before any stream."""
    error = {"type": "invalid_request_error", "message": "messages: the request was refused after the stream began"}
    return [event({"type": "error", "error": error})]


def no_pings(events: list[SseEvent]) -> list[SseEvent]:
    return [item for item in events if not (isinstance(item.data, dict) and item.data.get("type") == "ping")]
