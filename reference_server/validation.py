"""Request validation for /v1/messages and count_tokens, table-driven, with the real API's 400 messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .conversation import turns
from .errors import ApiError, invalid_request

VERSION_2026 = "2026-10-21"
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MAX_CACHE_BREAKPOINTS = 4
ROLES = ("user", "assistant", "system")
SAMPLING_FIELDS = ("temperature", "top_p", "top_k")


class Invalid(Exception):
    """A validation failure; its message is the API's error message."""


@dataclass
class _Context:
    endpoint: str
    version: str
    body: dict[str, Any]
    breakpoints: int = 0
    tool_names: list[str] = field(default_factory=list)


def _fail(message: str) -> None:
    raise Invalid(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(value: Any, path: str, *, non_empty: bool = False) -> None:
    if not isinstance(value, str):
        _fail(f"{path}: Input should be a valid string")
    if non_empty and not value:
        _fail(f"{path}: String should have at least 1 character")


def _dict(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(f"{path}: Input should be a valid dictionary")


def _one_of(value: Any, path: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(f"{path}: Input should be " + " or ".join(f"'{item}'" for item in allowed))


def _cache_control(holder: dict[str, Any], path: str, ctx: _Context) -> None:
    if holder.get("cache_control") is None:
        return
    control = holder["cache_control"]
    _dict(control, f"{path}.cache_control")
    _one_of(control.get("type"), f"{path}.cache_control.type", ("ephemeral",))
    if "ttl" in control:
        _one_of(control["ttl"], f"{path}.cache_control.ttl", ("5m", "1h"))
    ctx.breakpoints += 1


# ----- content blocks -------------------------------------------------------------------------------


def _text_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    _string(block.get("text"), f"{path}.text")
    if not block["text"]:
        _fail("messages: text content blocks must be non-empty")
    if not block["text"].strip():
        _fail("messages: text content blocks must contain non-whitespace text")
    citations = block.get("citations")
    if citations is not None and not isinstance(citations, list):
        _fail(f"{path}.citations: Input should be a valid list")
    if citations and role == "user" and ctx.version == VERSION_2026:
        _fail(f"{path}.citations: citations in user text blocks are not accepted in {VERSION_2026}")


def _source_block(kinds: tuple[str, ...]) -> Callable[[dict[str, Any], str, str, _Context], None]:
    def check(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
        source = block.get("source")
        if source is None:
            _fail(f"{path}.source: Field required")
        _dict(source, f"{path}.source")
        _one_of(source.get("type"), f"{path}.source.type", kinds)
        if source["type"] == "base64":
            _string(source.get("data"), f"{path}.source.data")
            _string(source.get("media_type"), f"{path}.source.media_type")
        elif source["type"] == "url":
            _string(source.get("url"), f"{path}.source.url")
        elif source["type"] == "file":
            _string(source.get("file_id"), f"{path}.source.file_id")
        if block.get("type") == "document" and role == "assistant" and ctx.version == VERSION_2026:
            _fail(f"{path}: document blocks are not accepted in assistant messages in {VERSION_2026}")

    return check


def _search_result_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    _string(block.get("source"), f"{path}.source")
    _string(block.get("title"), f"{path}.title")
    content = block.get("content")
    if not isinstance(content, list):
        _fail(f"{path}.content: Input should be a valid list")
    for number, item in enumerate(content):
        _block(item, f"{path}.content.{number}", role, ctx, ("text",))


def _thinking_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    _string(block.get("thinking"), f"{path}.thinking")
    _string(block.get("signature"), f"{path}.signature")


def _redacted_thinking_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    _string(block.get("data"), f"{path}.data")


def _tool_use_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    if role != "assistant":
        _fail(f"{path}: tool_use blocks are only allowed in assistant messages")
    _string(block.get("id"), f"{path}.id")
    if not TOOL_ID.match(block["id"]):
        _fail(f"{path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    _string(block.get("name"), f"{path}.name", non_empty=True)
    if "input" not in block:
        _fail(f"{path}.input: Field required")
    _dict(block["input"], f"{path}.input")


def _tool_result_block(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    if role != "user":
        _fail(f"{path}: tool_result blocks are only allowed in user messages")
    _string(block.get("tool_use_id"), f"{path}.tool_use_id")
    if not TOOL_ID.match(block["tool_use_id"]):
        _fail(f"{path}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    if "is_error" in block and not isinstance(block["is_error"], bool):
        _fail(f"{path}.is_error: Input should be a valid boolean")
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        _fail(f"{path}.content: Input should be a valid string or a list of content blocks")
    for number, item in enumerate(content):
        _block(item, f"{path}.content.{number}", role, ctx, TOOL_RESULT_CONTENT)


def _accept(block: dict[str, Any], path: str, role: str, ctx: _Context) -> None:
    """Blocks the fake model does not look inside (server tools, containers, compaction)."""


BLOCK_TYPES: dict[str, Callable[[dict[str, Any], str, str, _Context], None]] = {
    "text": _text_block,
    "image": _source_block(("base64", "url", "file")),
    "document": _source_block(("base64", "text", "content", "url", "file")),
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


def _block(block: Any, path: str, role: str, ctx: _Context, allowed: tuple[str, ...]) -> None:
    _dict(block, path)
    kind = block.get("type")
    if kind not in allowed:
        expected = ", ".join(f"'{item}'" for item in allowed)
        _fail(f"{path}: Input tag '{kind}' found using 'type' does not match the expected tags: {expected}")
    BLOCK_TYPES[kind](block, path, role, ctx)
    _cache_control(block, path, ctx)


# ----- messages -------------------------------------------------------------------------------------


def _messages(value: Any, ctx: _Context) -> None:
    if not isinstance(value, list):
        _fail("messages: Input should be a valid list")
    if not value:
        _fail("messages: at least one message is required")
    for number, message in enumerate(value):
        path = f"messages.{number}"
        _dict(message, path)
        if "role" not in message:
            _fail(f"{path}.role: Field required")
        role = message["role"]
        if role not in ROLES:
            _fail(
                f'{path}.role: Unexpected role "{role}". Allowed roles are "user", "assistant" or "system".'
            )
        if "content" not in message:
            _fail(f"{path}.content: Field required")
        content = message["content"]
        final_assistant = role == "assistant" and number == len(value) - 1
        if not isinstance(content, (str, list)):
            _fail(f"{path}.content: Input should be a valid string or a list of content blocks")
        if not content and not final_assistant:
            _fail(f"{path}: all messages must have non-empty content except for the final assistant message")
        if isinstance(content, str):
            if content and not content.strip() and not final_assistant:
                _fail("messages: text content blocks must contain non-whitespace text")
            continue
        allowed = ("text",) if role == "system" else MESSAGE_CONTENT
        for index, block in enumerate(content):
            _block(block, f"{path}.content.{index}", role, ctx, allowed)
    _tool_pairing(value)


def _tool_pairing(messages: list[Any]) -> None:
    """Every tool_use is answered in the next user turn, and every tool_result answers the previous turn."""
    conversation = turns(messages)
    for number, turn in enumerate(conversation):
        previous = conversation[number - 1] if number > 0 else None
        asked = {b["id"] for b in previous.blocks if b.get("type") == "tool_use"} if previous else set()
        if turn.role == "user":
            for block, origin in zip(turn.blocks, turn.origins, strict=True):
                if block.get("type") == "tool_result" and block["tool_use_id"] not in asked:
                    _fail(
                        f"messages.{origin}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block['tool_use_id']}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )
        if turn.role != "assistant" or number + 1 >= len(conversation):
            continue
        answered = {
            b.get("tool_use_id") for b in conversation[number + 1].blocks if b.get("type") == "tool_result"
        }
        missing = [b["id"] for b in turn.blocks if b.get("type") == "tool_use" and b["id"] not in answered]
        if missing:
            _fail(
                f"messages.{turn.origins[-1]}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )


# ----- other top-level fields -------------------------------------------------------------------------


def _model(value: Any, ctx: _Context) -> None:
    _string(value, "model", non_empty=True)


def _max_tokens(value: Any, ctx: _Context) -> None:
    if not _is_int(value):
        _fail("max_tokens: Input should be a valid integer")
    if value < 0:
        _fail("max_tokens: Input should be greater than or equal to 0")


def _system(value: Any, ctx: _Context) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        _fail("system: Input should be a valid string or a list of text blocks")
    for number, block in enumerate(value):
        _block(block, f"system.{number}", "system", ctx, ("text",))


def _tools(value: Any, ctx: _Context) -> None:
    if not isinstance(value, list):
        _fail("tools: Input should be a valid list")
    for number, tool in enumerate(value):
        path = f"tools.{number}"
        _dict(tool, path)
        _string(tool.get("name"), f"{path}.name")
        if tool.get("type") in (None, "custom"):
            if not TOOL_NAME.match(tool["name"]):
                _fail(f"{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if "input_schema" not in tool:
                _fail(f"{path}.input_schema: Field required")
            _dict(tool["input_schema"], f"{path}.input_schema")
            _one_of(tool["input_schema"].get("type"), f"{path}.input_schema.type", ("object",))
        _cache_control(tool, path, ctx)
        if tool["name"] in ctx.tool_names:
            _fail("tools: Tool names must be unique.")
        ctx.tool_names.append(tool["name"])


def _tool_choice(value: Any, ctx: _Context) -> None:
    _dict(value, "tool_choice")
    _one_of(value.get("type"), "tool_choice.type", ("auto", "any", "tool", "none"))
    if "disable_parallel_tool_use" in value and not isinstance(value["disable_parallel_tool_use"], bool):
        _fail("tool_choice.disable_parallel_tool_use: Input should be a valid boolean")
    if value["type"] == "tool":
        _string(value.get("name"), "tool_choice.name")
        tools = ctx.body.get("tools") if isinstance(ctx.body.get("tools"), list) else []
        if value["name"] not in [tool.get("name") for tool in tools if isinstance(tool, dict)]:
            _fail(f"tool_choice.name: Tool '{value['name']}' not found in the request's tools")


def _stop_sequences(value: Any, ctx: _Context) -> None:
    if not isinstance(value, list):
        _fail("stop_sequences: Input should be a valid list")
    for number, item in enumerate(value):
        _string(item, f"stop_sequences.{number}")


def _stream(value: Any, ctx: _Context) -> None:
    if not isinstance(value, bool):
        _fail("stream: Input should be a valid boolean")


def _metadata(value: Any, ctx: _Context) -> None:
    _dict(value, "metadata")
    if value.get("user_id") is not None:
        _string(value["user_id"], "metadata.user_id")


def _thinking(value: Any, ctx: _Context) -> None:
    _dict(value, "thinking")
    _one_of(value.get("type"), "thinking.type", ("enabled", "disabled", "adaptive", "between_tools"))
    if "display" in value and value["display"] is not None:
        _one_of(value["display"], "thinking.display", ("summarized", "omitted"))
    if value["type"] != "enabled":
        return
    budget = value.get("budget_tokens")
    if not _is_int(budget):
        _fail(
            "thinking.enabled.budget_tokens: Field required"
            if budget is None
            else "thinking.enabled.budget_tokens: Input should be a valid integer"
        )
    if budget < 1024:
        _fail("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    max_tokens = ctx.body.get("max_tokens")
    if ctx.endpoint == "messages" and _is_int(max_tokens) and budget >= max_tokens:
        _fail("max_tokens: `max_tokens` must be greater than `thinking.budget_tokens`.")


def _unit_interval(name: str) -> Callable[[Any, _Context], None]:
    def check(value: Any, ctx: _Context) -> None:
        if not _is_number(value):
            _fail(f"{name}: Input should be a valid number")
        if not 0 <= value <= 1:
            _fail(f"{name}: Input should be between 0 and 1")

    return check


def _top_k(value: Any, ctx: _Context) -> None:
    if not _is_int(value) or value < 0:
        _fail("top_k: Input should be a non-negative integer")


def _choice(name: str, allowed: tuple[str, ...]) -> Callable[[Any, _Context], None]:
    return lambda value, ctx: _one_of(value, name, allowed)


def _anything(value: Any, ctx: _Context) -> None:
    """Fields the fake accepts without looking inside (containers, MCP servers, output config...)."""


FIELDS: dict[str, Callable[[Any, _Context], None]] = {
    "model": _model,
    "max_tokens": _max_tokens,
    "messages": _messages,
    "system": _system,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "stop_sequences": _stop_sequences,
    "stream": _stream,
    "metadata": _metadata,
    "thinking": _thinking,
    "temperature": _unit_interval("temperature"),
    "top_p": _unit_interval("top_p"),
    "top_k": _top_k,
    "service_tier": _choice("service_tier", ("auto", "standard_only")),
    "speed": _choice("speed", ("standard", "fast")),
    "cache_control": _anything,
    "container": _anything,
    "context_management": _anything,
    "diagnostics": _anything,
    "inference_geo": _anything,
    "mcp_servers": _anything,
    "output_config": _anything,
    "output_format": _anything,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "messages": ("model", "max_tokens", "messages"),
    "count_tokens": ("model", "messages"),
}
NOT_IN_COUNT_TOKENS = frozenset(
    {
        "max_tokens",
        "stream",
        "stop_sequences",
        "metadata",
        "service_tier",
        "container",
        "inference_geo",
        "diagnostics",
    }
)


def validate(
    body: dict[str, Any], endpoint: str = "messages", version: str = "2023-06-01"
) -> ApiError | None:
    """The 400 error for an invalid request body of `endpoint` ("messages" or "count_tokens"), or None."""
    ctx = _Context(endpoint, version, body)
    try:
        for name in body:
            known = name in FIELDS and not (endpoint == "count_tokens" and name in NOT_IN_COUNT_TOKENS)
            if not known or (name in SAMPLING_FIELDS and version == VERSION_2026):
                _fail(f"{name}: Extra inputs are not permitted")
        for name in REQUIRED[endpoint]:
            if name not in body:
                _fail(f"{name}: Field required")
        for name in FIELDS:
            if name in body and body[name] is not None or name in REQUIRED[endpoint]:
                FIELDS[name](body[name], ctx)
        if ctx.breakpoints > MAX_CACHE_BREAKPOINTS:
            limit, found = MAX_CACHE_BREAKPOINTS, ctx.breakpoints
            _fail(f"A maximum of {limit} blocks with cache_control may be provided. Found {found}.")
    except Invalid as failure:
        return invalid_request(str(failure))
    return None
