"""Faults of extended thinking, caught by the thinking checks: the block, its signature, streamed or replayed.

Hooks: a `responder` setting, `json_message`, `stream_message` and `events` rewrites, a `validate` rejection.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from ..streaming import SseEvent
from .common import blocks, contents, data_of, reject_field, rejecting, settings, with_content

ADAPTIVE_MODEL = "claude-opus-4-8"  # adaptive-only, signature-only thinking by default: what Claude Code talks to


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


def reject_adaptive(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A layer whose schema knows only the older thinking types (its own 400, not the model's)."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "adaptive":
        return invalid_request("thinking.type: Input should be 'enabled' or 'disabled'")
    return None


def _replayed_thinking(body: dict[str, Any], change: Any) -> dict[str, Any]:
    """The body with `change(block)` applied to each thinking block of the assistant turns (None drops it)."""
    messages = []
    for _, message, content in contents(body):
        if isinstance(message, dict) and message.get("role") == "assistant" and content:
            kept = [change(b) if isinstance(b, dict) and b.get("type") == "thinking" else b for b in content]
            message = {**message, "content": [b for b in kept if b is not None]}
        messages.append(message)
    return {**body, "messages": messages} if isinstance(body.get("messages"), list) else body


def blank_replayed_signature(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """A layer that stores thinking as text and replays the block with an empty signature."""
    return _replayed_thinking(body, lambda block: {**block, "signature": ""})


def drop_empty_thinking(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """A layer that drops content blocks without text: signature-only thinking blocks vanish from the replay."""
    return _replayed_thinking(body, lambda block: block if block.get("thinking") else None)


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
    # layers in front of an adaptive-only model (the self-test judges them on ADAPTIVE_MODEL)
    Fault("reject-adaptive-thinking", f"thinking.type adaptive gets the layer's own 400 (on {ADAPTIVE_MODEL}, which "
          "takes only adaptive).", "fault", validate=reject_adaptive, model=ADAPTIVE_MODEL),
    Fault("reject-output-config", f"output_config (effort) gets 400 \"Extra inputs are not permitted\" (on "
          f"{ADAPTIVE_MODEL}, whose thinking is controlled by effort).", "fault",
          validate=reject_field("output_config"), model=ADAPTIVE_MODEL),
    Fault("thinking-signature-blanked", f"Replayed thinking blocks lose their signature (on {ADAPTIVE_MODEL}: the "
          "API's 400 \"Invalid `signature`\").", "fault", request=blank_replayed_signature, model=ADAPTIVE_MODEL),
    Fault("drop-signature-only-thinking", f"Replayed thinking blocks with empty text (signature-only, the default on "
          f"{ADAPTIVE_MODEL}) are dropped.", "fault", request=drop_empty_thinking, model=ADAPTIVE_MODEL),
]
