"""Faults of tool use, caught by the tools checks: calls, ids, stop_reason, tool_choice, inputs and results.

Hooks: `message` and `json_message` rewrites of tool_use blocks, `responder` settings, `validate` rejections.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from ..ids import derived_hex
from .common import contents, rejecting, settings, with_content

# ----- the Message ------------------------------------------------------------------------------------------


def end_turn_for_tools(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "stop_reason": "end_turn"} if message.get("stop_reason") == "tool_use" else message


def map_tool_uses(change: Any) -> Any:
    def hook(message: dict[str, Any]) -> dict[str, Any]:
        return with_content(message, [change(dict(b)) if b.get("type") == "tool_use" else b for b in message["content"]])

    return hook


def tool_id(prefix: str) -> Any:
    return map_tool_uses(lambda block: {**block, "id": prefix + derived_hex(block["id"], prefix, 24)})


def tool_input_as_string(block: dict[str, Any]) -> dict[str, Any]:
    return {**block, "input": json.dumps(block["input"])}


def duplicate_tool_ids(message: dict[str, Any]) -> dict[str, Any]:
    ids = [block["id"] for block in message["content"] if block.get("type") == "tool_use"]
    if not ids:
        return message
    content = [{**b, "id": ids[0]} if b.get("type") == "tool_use" else b for b in message["content"]]
    return with_content(message, content)


# ----- validate hooks: (body, endpoint) -> error or None ---------------------------------------------------


def reject_tool_result_blocks(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, _, content in contents(body):
        for index, block in enumerate(content):
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_result"
                and isinstance(block.get("content"), list)
            ):
                return invalid_request(
                    f"messages.{number}.content.{index}.content: Input should be a valid string"
                )
    return None


def reject_multiple_tool_results(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, _, content in contents(body):
        if sum(isinstance(b, dict) and b.get("type") == "tool_result" for b in content) > 1:
            return invalid_request(
                f"messages.{number}.content: only one tool_result block is allowed per message"
            )
    return None


FAULTS = [
    Fault(
        "tool-call-end-turn",
        "A turn ending in tool calls has stop_reason end_turn.",
        "fault",
        message=end_turn_for_tools,
    ),
    Fault(
        "tools-ignored",
        "tools and tool_choice are ignored; the reply is text.",
        "fault",
        responder=settings(tools=False),
    ),
    Fault(
        "tool-id-dotted",
        "tool_use ids are call.<hex>, outside the allowed pattern.",
        "fault",
        message=tool_id("call."),
    ),
    Fault("tool-id-openai", "tool_use ids are OpenAI-style call_<hex>.", "fault", message=tool_id("call_")),
    Fault(
        "tool-input-as-string",
        "Non-stream tool_use.input is a JSON string.",
        "fault",
        json_message=map_tool_uses(tool_input_as_string),
    ),
    Fault(
        "tool-result-ignored",
        "tool_result blocks never reach the model.",
        "fault",
        responder=settings(tool_results=False),
    ),
    Fault(
        "tool-result-blocks-rejected",
        "A tool_result with block-array content gets 400.",
        "fault",
        validate=reject_tool_result_blocks,
    ),
    rejecting(
        "reject-multiple-tool-results",
        "A user message with more than one tool_result gets 400.",
        reject_multiple_tool_results,
    ),
    Fault(
        "auto-never-calls-tools",
        "Under tool_choice auto (or none given) tools are never called.",
        "fault",
        responder=settings(auto_tool_calls=False),
    ),
    Fault(
        "ignore-tool-choice",
        "tool_choice is ignored (behaves as auto).",
        "fault",
        responder=settings(tool_choice=False),
    ),
    Fault(
        "ignore-tool-choice-none",
        "tool_choice none is treated as auto.",
        "fault",
        responder=settings(tool_choice_none=False),
    ),
    Fault(
        "no-parallel-tool-calls",
        "Only the first call directive is honoured (no parallel tool calls).",
        "fault",
        responder=settings(parallel_calls=False),
    ),
    Fault(
        "ignore-disable-parallel",
        "disable_parallel_tool_use is ignored.",
        "fault",
        responder=settings(disable_parallel=False),
    ),
    Fault(
        "duplicate-tool-ids",
        "Every tool_use block of a message gets the same id.",
        "fault",
        message=duplicate_tool_ids,
    ),
]
