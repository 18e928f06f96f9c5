"""Request validation for /v1/messages and count_tokens, table-driven, with the real API's 400 messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ApiError, invalid_request
from .validation_common import (
    MAX_CACHE_BREAKPOINTS,
    TOOL_NAME,
    VERSION_2026,
    Context,
    Invalid,
    cache_control,
    dictionary,
    fail,
    is_int,
    is_number,
    one_of,
    string,
)
from .validation_content import content_block, messages

SAMPLING_FIELDS = ("temperature", "top_p", "top_k")


def _model(value: Any, ctx: Context) -> None:
    string(value, "model", non_empty=True)


def _max_tokens(value: Any, ctx: Context) -> None:
    if isinstance(value, str) and not ctx.enforces("max-tokens-string"):
        return
    if not is_int(value):
        fail("max_tokens: Input should be a valid integer")
    if value < 0 and ctx.enforces("max-tokens-negative"):
        fail("max_tokens: Input should be greater than or equal to 0")


def _system(value: Any, ctx: Context) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        fail("system: Input should be a valid string or a list of text blocks")
    for number, block in enumerate(value):
        content_block(block, f"system.{number}", "system", ctx, ("text",))


def _tools(value: Any, ctx: Context) -> None:
    if not isinstance(value, list):
        fail("tools: Input should be a valid list")
    for number, tool in enumerate(value):
        path = f"tools.{number}"
        dictionary(tool, path)
        string(tool.get("name"), f"{path}.name")
        if tool.get("type") in (None, "custom"):
            if not TOOL_NAME.match(tool["name"]) and ctx.enforces("tool-name"):
                fail(f"{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if "input_schema" not in tool:
                fail(f"{path}.input_schema: Field required")
            dictionary(tool["input_schema"], f"{path}.input_schema")
            one_of(tool["input_schema"].get("type"), f"{path}.input_schema.type", ("object",))
        cache_control(tool, path, ctx)
        if tool["name"] in ctx.tool_names:
            fail("tools: Tool names must be unique.")
        ctx.tool_names.append(tool["name"])


def _tool_choice(value: Any, ctx: Context) -> None:
    dictionary(value, "tool_choice")
    one_of(value.get("type"), "tool_choice.type", ("auto", "any", "tool", "none"))
    if "disable_parallel_tool_use" in value and not isinstance(value["disable_parallel_tool_use"], bool):
        fail("tool_choice.disable_parallel_tool_use: Input should be a valid boolean")
    if value["type"] == "tool":
        string(value.get("name"), "tool_choice.name")
        tools = ctx.body.get("tools") if isinstance(ctx.body.get("tools"), list) else []
        names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
        if value["name"] not in names and ctx.enforces("tool-choice-name"):
            fail(f"tool_choice.name: Tool '{value['name']}' not found in the request's tools")


def _stop_sequences(value: Any, ctx: Context) -> None:
    if not isinstance(value, list):
        fail("stop_sequences: Input should be a valid list")
    for number, item in enumerate(value):
        string(item, f"stop_sequences.{number}")


def _stream(value: Any, ctx: Context) -> None:
    if not isinstance(value, bool):
        fail("stream: Input should be a valid boolean")


def _metadata(value: Any, ctx: Context) -> None:
    dictionary(value, "metadata")
    if value.get("user_id") is not None:
        string(value["user_id"], "metadata.user_id")


def _thinking(value: Any, ctx: Context) -> None:
    dictionary(value, "thinking")
    one_of(value.get("type"), "thinking.type", ("enabled", "disabled", "adaptive", "between_tools"))
    if "display" in value and value["display"] is not None:
        one_of(value["display"], "thinking.display", ("summarized", "omitted"))
    if value["type"] != "enabled":
        return
    budget = value.get("budget_tokens")
    if not is_int(budget):
        fail(
            "thinking.enabled.budget_tokens: Field required"
            if budget is None
            else "thinking.enabled.budget_tokens: Input should be a valid integer"
        )
    if budget < 1024 and ctx.enforces("thinking-budget"):
        fail("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    max_tokens = ctx.body.get("max_tokens")
    if ctx.endpoint == "messages" and is_int(max_tokens) and budget >= max_tokens:
        fail("max_tokens: `max_tokens` must be greater than `thinking.budget_tokens`.")


def _unit_interval(name: str) -> Callable[[Any, Context], None]:
    def check(value: Any, ctx: Context) -> None:
        if not is_number(value):
            fail(f"{name}: Input should be a valid number")
        if not 0 <= value <= 1:
            fail(f"{name}: Input should be between 0 and 1")

    return check


def _top_k(value: Any, ctx: Context) -> None:
    if not is_int(value) or value < 0:
        fail("top_k: Input should be a non-negative integer")


def _choice(name: str, allowed: tuple[str, ...]) -> Callable[[Any, Context], None]:
    return lambda value, ctx: one_of(value, name, allowed)


def _anything(value: Any, ctx: Context) -> None:
    """Fields the fake accepts without looking inside (containers, MCP servers, output config...)."""


FIELDS: dict[str, Callable[[Any, Context], None]] = {
    "model": _model,
    "max_tokens": _max_tokens,
    "messages": messages,
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


def _extra_fields(body: dict[str, Any], ctx: Context) -> None:
    for name in body:
        known = name in FIELDS and not (ctx.endpoint == "count_tokens" and name in NOT_IN_COUNT_TOKENS)
        if not known and ctx.enforces("unknown-fields"):
            fail(f"{name}: Extra inputs are not permitted")
        if name in SAMPLING_FIELDS and ctx.version == VERSION_2026 and ctx.enforces("sampling-2026"):
            fail(f"{name}: Extra inputs are not permitted")


def validate(
    body: dict[str, Any],
    endpoint: str = "messages",
    version: str = "2023-06-01",
    relaxed: frozenset[str] = frozenset(),
) -> ApiError | None:
    """The 400 error for an invalid request body of `endpoint` ("messages" or "count_tokens"), or None.

    `relaxed` names standard rules a fault switched off (validation_common.RELAXABLE).
    """
    ctx = Context(endpoint, version, body, relaxed)
    try:
        _extra_fields(body, ctx)
        for name in REQUIRED[endpoint]:
            if name not in body:
                fail(f"{name}: Field required")
        for name, check in FIELDS.items():
            if name in body and body[name] is not None or name in REQUIRED[endpoint]:
                check(body[name], ctx)
        if ctx.breakpoints > MAX_CACHE_BREAKPOINTS and ctx.enforces("cache-breakpoints"):
            limit, found = MAX_CACHE_BREAKPOINTS, ctx.breakpoints
            fail(f"A maximum of {limit} blocks with cache_control may be provided. Found {found}.")
    except Invalid as failure:
        return invalid_request(str(failure))
    return None
