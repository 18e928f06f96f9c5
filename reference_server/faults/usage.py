"""Faults that make usage impossible, caught by the usage checks: counts no tokenizer could give.

Hooks: `message` rewrites of usage (streamed and not) and an `events` rewrite of message_delta.
"""

from __future__ import annotations

from typing import Any

from ..hooks import Fault
from .common import edit


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


FAULTS = [
    Fault(
        "usage-output-one",
        "usage.output_tokens is 1 whatever the reply (streamed and not).",
        "fault",
        message=output_one,
    ),
    Fault(
        "usage-delta-output-zero",
        "message_delta usage.output_tokens is 0 after the text was streamed.",
        "fault",
        events=edit("message_delta", _zero_output),
    ),
    Fault(
        "usage-input-short-zero",
        "usage.input_tokens undercounts by 2: 0 for a one-word prompt such as 'Hi' (streamed and not).",
        "fault",
        message=input_short_zero,
    ),
    Fault(
        "usage-constant",
        "usage is 10 input and 5 output tokens for every request (streamed and not).",
        "fault",
        message=constant,
    ),
    Fault(
        "usage-output-is-total",
        "usage.output_tokens carries input plus output tokens (streamed and not).",
        "fault",
        message=output_is_total,
    ),
]
