"""Validation of `messages`: roles, content blocks and tool_use/tool_result pairing, with the API's 400 messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conversation import turns
from .validation_common import (
    TOOL_ID,
    VERSION_2026,
    Context,
    cache_control,
    dictionary,
    fail,
    one_of,
    string,
)

ROLES = ("user", "assistant", "system")
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
BlockCheck = Callable[[dict[str, Any], str, str, Context], None]


def _text_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    string(block.get("text"), f"{path}.text")
    if ctx.enforces("empty-text-block"):
        if not block["text"]:
            fail("messages: text content blocks must be non-empty")
        if not block["text"].strip():
            fail("messages: text content blocks must contain non-whitespace text")
    citations = block.get("citations")
    if citations is not None and not isinstance(citations, list):
        fail(f"{path}.citations: Input should be a valid list")
    if citations and role == "user" and ctx.version == VERSION_2026 and ctx.enforces("content-2026"):
        fail(f"{path}.citations: citations in user text blocks are not accepted in {VERSION_2026}")


def _source_block(kinds: tuple[str, ...], base64_types: tuple[str, ...] | None) -> BlockCheck:
    def check(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
        source = block.get("source")
        if source is None:
            fail(f"{path}.source: Field required")
        dictionary(source, f"{path}.source")
        one_of(source.get("type"), f"{path}.source.type", kinds)
        if source["type"] == "base64":
            string(source.get("data"), f"{path}.source.data")
            if base64_types is None:
                string(source.get("media_type"), f"{path}.source.media_type")
            else:
                one_of(source.get("media_type"), f"{path}.source.media_type", base64_types)
        elif source["type"] == "text":
            string(source.get("data"), f"{path}.source.data")
        elif source["type"] == "url":
            string(source.get("url"), f"{path}.source.url")
        elif source["type"] == "file":
            string(source.get("file_id"), f"{path}.source.file_id")
        in_2026 = ctx.version == VERSION_2026 and ctx.enforces("content-2026")
        if block.get("type") == "document" and role == "assistant" and in_2026:
            fail(f"{path}: document blocks are not accepted in assistant messages in {VERSION_2026}")

    return check


def _search_result_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    string(block.get("source"), f"{path}.source")
    string(block.get("title"), f"{path}.title")
    content = block.get("content")
    if not isinstance(content, list):
        fail(f"{path}.content: Input should be a valid list")
    for number, item in enumerate(content):
        content_block(item, f"{path}.content.{number}", role, ctx, ("text",))


def _thinking_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    string(block.get("thinking"), f"{path}.thinking")
    string(block.get("signature"), f"{path}.signature")


def _redacted_thinking_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    string(block.get("data"), f"{path}.data")


def _tool_use_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    if role != "assistant":
        fail(f"{path}: tool_use blocks are only allowed in assistant messages")
    string(block.get("id"), f"{path}.id")
    if not TOOL_ID.match(block["id"]):
        fail(f"{path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    string(block.get("name"), f"{path}.name", non_empty=True)
    if "input" not in block:
        fail(f"{path}.input: Field required")
    dictionary(block["input"], f"{path}.input")


def _tool_result_block(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    if role != "user":
        fail(f"{path}: tool_result blocks are only allowed in user messages")
    string(block.get("tool_use_id"), f"{path}.tool_use_id")
    if not TOOL_ID.match(block["tool_use_id"]):
        fail(f"{path}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    if "is_error" in block and not isinstance(block["is_error"], bool):
        fail(f"{path}.is_error: Input should be a valid boolean")
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        fail(f"{path}.content: Input should be a valid string or a list of content blocks")
    for number, item in enumerate(content):
        content_block(item, f"{path}.content.{number}", role, ctx, TOOL_RESULT_CONTENT)


def _accept(block: dict[str, Any], path: str, role: str, ctx: Context) -> None:
    """Blocks the fake model does not look inside (server tools, containers, compaction)."""


BLOCK_TYPES: dict[str, BlockCheck] = {
    "text": _text_block,
    "image": _source_block(("base64", "url", "file"), IMAGE_MEDIA_TYPES),
    "document": _source_block(("base64", "text", "content", "url", "file"), None),
    "search_result": _search_result_block,
    "thinking": _thinking_block,
    "redacted_thinking": _redacted_thinking_block,
    "tool_use": _tool_use_block,
    "tool_result": _tool_result_block,
    "tool_reference": _accept,
    "server_tool_use": _accept,
    "web_search_tool_result": _accept,
    "web_fetch_tool_result": _accept,
    "code_execution_tool_result": _accept,
    "bash_code_execution_tool_result": _accept,
    "text_editor_code_execution_tool_result": _accept,
    "tool_search_tool_result": _accept,
    "mcp_tool_use": _accept,
    "mcp_tool_result": _accept,
    "container_upload": _accept,
    "compaction": _accept,
}
MESSAGE_CONTENT = tuple(kind for kind in BLOCK_TYPES if kind != "tool_reference")
TOOL_RESULT_CONTENT = ("text", "image", "document", "search_result", "tool_reference")


def content_block(value: Any, path: str, role: str, ctx: Context, allowed: tuple[str, ...]) -> None:
    """Validate one content block of one of the `allowed` types."""
    dictionary(value, path)
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        expected = ", ".join(f"'{item}'" for item in allowed)
        fail(f"{path}: Input tag '{kind}' found using 'type' does not match the expected tags: {expected}")
    BLOCK_TYPES[kind](value, path, role, ctx)
    cache_control(value, path, ctx)


def messages(value: Any, ctx: Context) -> None:
    """The `messages` field: a non-empty list of well-formed messages whose tool calls pair up."""
    if not isinstance(value, list):
        fail("messages: Input should be a valid list")
    if not value and ctx.enforces("empty-messages"):
        fail("messages: at least one message is required")
    for number, message in enumerate(value):
        path = f"messages.{number}"
        dictionary(message, path)
        if "role" not in message:
            fail(f"{path}.role: Field required")
        role = message["role"]
        if not isinstance(role, str) or role not in ROLES:
            if not ctx.enforces("unknown-role"):
                continue  # the layer drops what it does not know
            fail(f'{path}.role: Unexpected role "{role}". Allowed roles are "user", "assistant" or "system".')
        if "content" not in message:
            fail(f"{path}.content: Field required")
        content = message["content"]
        final_assistant = role == "assistant" and number == len(value) - 1
        if not isinstance(content, (str, list)):
            fail(f"{path}.content: Input should be a valid string or a list of content blocks")
        if isinstance(content, str):
            if final_assistant or not ctx.enforces("empty-text-block"):
                continue
            if not content:
                fail(
                    f"{path}: all messages must have non-empty content except for the final assistant message"
                )
            if not content.strip():
                fail("messages: text content blocks must contain non-whitespace text")
            continue
        if not content and not final_assistant:
            fail(f"{path}: all messages must have non-empty content except for the final assistant message")
        allowed = ("text",) if role == "system" else MESSAGE_CONTENT
        for index, item in enumerate(content):
            content_block(item, f"{path}.content.{index}", role, ctx, allowed)
    _tool_pairing(value, ctx)


def _tool_pairing(messages: list[Any], ctx: Context) -> None:
    """Every tool_use is answered in the next user turn, and every tool_result answers the previous turn."""
    conversation = turns(messages)
    for number, turn in enumerate(conversation):
        previous = conversation[number - 1] if number > 0 else None
        asked = {b["id"] for b in previous.blocks if b.get("type") == "tool_use"} if previous else set()
        if turn.role == "user" and ctx.enforces("orphan-tool-result"):
            for item, origin in zip(turn.blocks, turn.origins, strict=True):
                if item.get("type") == "tool_result" and item["tool_use_id"] not in asked:
                    fail(
                        f"messages.{origin}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{item['tool_use_id']}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )
        if turn.role != "assistant" or not ctx.enforces("unanswered-tool-use"):
            continue
        if number + 1 >= len(conversation):
            continue  # a final assistant turn (prefill) is continued, not answered
        following = conversation[number + 1].blocks
        answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
        missing = [b["id"] for b in turn.blocks if b.get("type") == "tool_use" and b["id"] not in answered]
        if missing:
            fail(
                f"messages.{turn.origins[-1]}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
