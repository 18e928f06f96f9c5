"""Faults of extended thinking, caught by the thinking checks: the block, its signature, streamed or replayed.

Hooks: a `responder` setting, `json_message`, `stream_message` and `events` rewrites, a `validate` rejection.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from ..streaming import SseEvent
from .common import blocks, data_of, rejecting, settings, with_content


def reject_thinking_replay(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for path, role, block in blocks(body):
        if role == "assistant" and block.get("type") in ("thinking", "redacted_thinking"):
            return invalid_request(
                f"{path}.type: Input tag '{block['type']}' is not supported in assistant messages"
            )
    return None


def thinking_without_signature(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {k: v for k, v in b.items() if k != "signature"} if b.get("type") == "thinking" else b
        for b in message["content"]
    ]
    return with_content(message, content)


def thinking_as_text(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {"type": "text", "text": b.get("thinking", "")} if b.get("type") == "thinking" else b
        for b in message["content"]
    ]
    return with_content(message, content)


def drop_signature_deltas(events: list[SseEvent]) -> list[SseEvent]:
    return [
        e
        for e in events
        if not (
            isinstance(data_of(e).get("delta"), dict) and data_of(e)["delta"].get("type") == "signature_delta"
        )
    ]


FAULTS = [
    rejecting(
        "reject-thinking-replay", "Assistant turns with thinking blocks get 400.", reject_thinking_replay
    ),
    Fault(
        "thinking-ignored",
        "No thinking block, even when thinking is requested.",
        "fault",
        responder=settings(thinking=False),
    ),
    Fault(
        "thinking-without-signature",
        "Non-stream thinking blocks lack the signature key.",
        "fault",
        json_message=thinking_without_signature,
    ),
    Fault(
        "sse-no-signature-delta",
        "Thinking is streamed without a signature_delta.",
        "fault",
        events=drop_signature_deltas,
    ),
    Fault(
        "sse-thinking-as-text",
        "A thinking block is streamed as a text block with text_delta.",
        "fault",
        stream_message=thinking_as_text,
    ),
]
