"""Faults where the stream and the non-stream answer disagree, caught by the parity checks.

Hooks: `stream_message` rewrites, applied to the streamed Message only (the non-stream one stays right).
"""

from __future__ import annotations

import json
from typing import Any

from ..hooks import Fault
from .common import with_content


def tool_input_extra_key(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {**b, "input": {**b["input"], "extra": True}} if b.get("type") == "tool_use" else b
        for b in message["content"]
    ]
    return with_content(message, content)


def output_tokens_doubled(message: dict[str, Any]) -> dict[str, Any]:
    usage = message.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
        return message
    return {**message, "usage": {**usage, "output_tokens": usage["output_tokens"] * 2}}


def tool_calls_as_text(message: dict[str, Any]) -> dict[str, Any]:
    if not any(b.get("type") == "tool_use" for b in message["content"]):
        return message
    content = [
        {"type": "text", "text": json.dumps({"name": b["name"], "input": b["input"]})}
        if b.get("type") == "tool_use"
        else b
        for b in message["content"]
    ]
    stop_reason = "end_turn" if message.get("stop_reason") == "tool_use" else message.get("stop_reason")
    return {**message, "content": content, "stop_reason": stop_reason}


FAULTS = [
    Fault(
        "sse-tool-input-differs",
        'The streamed tool input carries an extra key "extra": true.',
        "fault",
        stream_message=tool_input_extra_key,
    ),
    Fault(
        "sse-output-tokens-doubled",
        "message_delta usage.output_tokens is twice the non-stream value.",
        "fault",
        stream_message=output_tokens_doubled,
    ),
    Fault(
        "sse-tool-as-text",
        "Streamed tool calls come as a text block holding the call's JSON, with stop_reason end_turn.",
        "fault",
        stream_message=tool_calls_as_text,
    ),
]
