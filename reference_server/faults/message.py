"""Faults of the non-streaming Message and the model behind it, caught by the message checks.

Hooks: `json_message` and `message` rewrites of the Message, `responder` settings the model ignores, a content-type.
"""

from __future__ import annotations

from typing import Any

from ..hooks import Fault
from ..ids import derived_hex
from .common import content_type, settings, without


def with_value(key: str, value: Any) -> Any:
    return lambda message: {**message, key: value}


def zero_input(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "usage": {**message["usage"], "input_tokens": 0}}


def chatcmpl_id(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "id": "chatcmpl-" + derived_hex(str(message.get("id")), "chatcmpl")}


def prepend_empty_text(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "content": [{"type": "text", "text": ""}, *message["content"]]}


FAULTS = [
    Fault(
        "json-as-text-plain",
        "JSON responses are served as text/plain.",
        "fault",
        response_headers=content_type("json", "text/plain; charset=utf-8"),
    ),
    Fault("message-missing-type", "The Message has no type field.", "fault", json_message=without("type")),
    Fault(
        "message-no-stop-sequence-key",
        "The Message has no stop_sequence key.",
        "fault",
        json_message=without("stop_sequence"),
    ),
    Fault("usage-zero-input", "usage.input_tokens is 0 (also in message_start).", "fault", message=zero_input),
    Fault("message-id-null", "The Message id is null.", "fault", json_message=with_value("id", None)),
    Fault("message-id-chatcmpl", "The Message id is an OpenAI chatcmpl- id.", "fault", json_message=chatcmpl_id),
    Fault(
        "empty-text-block",
        "An empty text block is prepended to non-stream content.",
        "fault",
        json_message=prepend_empty_text,
    ),
    Fault(
        "model-echoes-prompt",
        "The model answers every text request by quoting the last user turn back (as some fakes do).",
        "fault",
        responder=settings(echo_prompt=True),
    ),
    Fault(
        "ignore-user-directives",
        "Instructions in user turns are ignored (system ones still work).",
        "fault",
        responder=settings(user_directives=False),
    ),
    Fault("max-tokens-ignored", "max_tokens never truncates the output.", "fault", responder=settings(max_tokens=False)),
    Fault(
        "stop-sequences-ignored", "stop_sequences are ignored.", "fault", responder=settings(stop_sequences=False)
    ),
]
