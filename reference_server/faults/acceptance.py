"""Faults that refuse or mangle valid requests, caught by the acceptance checks: shapes real clients send.

Hooks: `validate` rejections (400, or a crash as 500) of valid inputs, and a `message` rewrite of non-ASCII text.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ApiError, internal, invalid_request, not_found
from ..hooks import Fault
from .common import blocks, messages, reject_field, rejecting, with_content

NON_ASCII = re.compile(r"[^\x00-\x7f]")

# ----- validate hooks: (body, endpoint) -> error or None ---------------------------------------------------


def reject_block(kind: str, crash: bool = False) -> Any:
    """Any `kind` block (in a message or a tool_result) gets 400, or 500 api_error when `crash`."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        for path, _, block in blocks(body):
            if block.get("type") == kind:
                return (
                    internal()
                    if crash
                    else invalid_request(f"{path}: {kind} content blocks are not supported")
                )
        return None

    return hook


def reject_cache_control_on_tool_result(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for path, _, block in blocks(body):
        if block.get("type") == "tool_result" and block.get("cache_control") is not None:
            return invalid_request(f"{path}.tool_result.cache_control: Extra inputs are not permitted")
    return None


def crash_on_leading_system_role(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A role: system message before the first user turn crashes the layer (500 api_error)."""
    for message in messages(body):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            return None
        if role == "system":
            return internal()
    return None


def reject_consecutive_roles(body: dict[str, Any], endpoint: str) -> ApiError | None:
    roles = [message.get("role") if isinstance(message, dict) else None for message in messages(body)]
    for first, second in zip(roles, roles[1:], strict=False):
        if first == second and first in ("user", "assistant"):
            return invalid_request(
                f'messages: roles must alternate between "user" and "assistant", but found multiple "{first}" roles in a row'
            )
    return None


def reject_prefill(crash: bool) -> Any:
    """An assistant message last (a prefill) gets 400, or 500 api_error when `crash`."""

    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        conversation = messages(body)
        last = conversation[-1] if conversation else None
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


# ----- the Message ------------------------------------------------------------------------------------------


def mangle_non_ascii(message: dict[str, Any]) -> dict[str, Any]:
    content = []
    for block in message["content"]:
        for key in ("text", "thinking"):
            if block.get("type") == key and isinstance(block.get(key), str):
                block = {**block, key: NON_ASCII.sub("?", block[key])}
        content.append(block)
    return with_content(message, content)


def catalogue_of_one(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A server with a fixed model catalogue (the target's model only): any other model is 404, as the real API
    answers a model it does not serve."""
    model = body.get("model")
    if isinstance(model, str) and model != "reference-model":
        return not_found(f"model: {model}")
    return None


FAULTS = [
    rejecting(
        "reject-consecutive-roles",
        "Consecutive same-role messages get 400 (roles must alternate).",
        reject_consecutive_roles,
    ),
    rejecting(
        "prefill-500",
        "An assistant message last (a prefill) crashes the server (500).",
        reject_prefill(crash=True),
    ),
    rejecting(
        "reject-prefill", "An assistant message last (a prefill) gets 400.", reject_prefill(crash=False)
    ),
    rejecting("reject-images", "Any image block gets 400.", reject_block("image")),
    rejecting("images-500", "Any image block crashes the server (500).", reject_block("image", crash=True)),
    rejecting("reject-documents", "Any document block gets 400.", reject_block("document")),
    rejecting(
        "documents-500",
        "Any document block crashes the server (500).",
        reject_block("document", crash=True),
    ),
    rejecting(
        "reject-metadata", "metadata gets 400 'Extra inputs are not permitted'.", reject_field("metadata")
    ),
    rejecting(
        "reject-cache-control-on-tool-result",
        "cache_control on a tool_result block gets 400.",
        reject_cache_control_on_tool_result,
    ),
    rejecting(
        "leading-system-role-500",
        "A role: system message before the first user turn crashes the server (500 api_error).",
        crash_on_leading_system_role,
    ),
    rejecting("reject-over-16-tools", "More than 16 tools get 400.", at_most("tools", 16)),
    rejecting(
        "reject-context-management",
        "context_management gets 400 'Extra inputs are not permitted'.",
        reject_field("context_management"),
    ),
    rejecting(
        "reject-multiple-stop-sequences",
        "More than one stop sequence gets 400.",
        at_most("stop_sequences", 1),
    ),
    Fault(
        "mangle-non-ascii",
        "Every non-ASCII character of generated text becomes '?' (streamed and not).",
        "fault",
        message=mangle_non_ascii,
    ),
    rejecting("narrow-model-catalogue", "Only the target's own model is served: any other model (Claude Code's "
              "default among them) gets the API's 404 for a model it does not serve.", catalogue_of_one),
]
