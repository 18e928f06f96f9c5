"""Faults of the late-2026 features, caught by the features checks: a layer that validates every tool as a custom
one, rejects defer_loading or a cache ttl, drops output_config.format or the context-management beta, lets the
2026-10-21 content rules through, or crashes on Claude Code's `HEAD /`.

Hooks: `validate` rejections, a `request` rewrite, the `beta` header rewrite, a `route` answer, a relaxed rule.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, internal, invalid_request
from ..features import CONTEXT_MANAGEMENT_BETA, betas
from ..hooks import Fault
from .common import rejecting, switched_off


def _tools(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    tools = body.get("tools")
    return [(n, t) for n, t in enumerate(tools) if isinstance(t, dict)] if isinstance(tools, list) else []


def typed_tools_need_input_schema(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A layer that validates every tool as a custom tool: a typed (server) tool has no input_schema."""
    for number, tool in _tools(body):
        if "input_schema" not in tool:
            return invalid_request(f"tools.{number}.custom.input_schema: Field required")
    return None


def reject_defer_loading(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, tool in _tools(body):
        if "defer_loading" in tool:
            return invalid_request(f"tools.{number}.custom.defer_loading: Extra inputs are not permitted")
    return None


def reject_cache_ttl(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A layer whose schema of cache_control knows only {type: ephemeral}."""
    system = body.get("system") if isinstance(body.get("system"), list) else []
    holders = [(f"system.{n}", b) for n, b in enumerate(system)]
    for number, message in enumerate(body.get("messages") if isinstance(body.get("messages"), list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        holders += [(f"messages.{number}.content.{i}", b) for i, b in enumerate(content if isinstance(content, list)
                                                                                 else [])]
    for path, block in holders:
        control = block.get("cache_control") if isinstance(block, dict) else None
        if isinstance(control, dict) and "ttl" in control:
            return invalid_request(f"{path}.cache_control.ephemeral.ttl: Extra inputs are not permitted")
    return None


def drop_output_format(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """A layer that forwards output_config without its format (the answer comes back as free text)."""
    config = body.get("output_config")
    if not isinstance(config, dict) or "format" not in config:
        return body
    rest = {k: v for k, v in config.items() if k != "format"}
    return {k: v for k, v in {**body, "output_config": rest}.items() if not (k == "output_config" and not rest)}


def drop_context_management_beta(header: str | None) -> str | None:
    kept = [value for value in betas(header) if value != CONTEXT_MANAGEMENT_BETA]
    return ",".join(sorted(kept)) or None


FAULTS = [
    rejecting("typed-tools-need-input-schema", "Every tool is validated as a custom tool: a server tool (web search, "
              "text editor, bash) gets 400 'input_schema: Field required'.", typed_tools_need_input_schema),
    rejecting("reject-defer-loading", "A tool with defer_loading gets 400 'Extra inputs are not permitted'.",
              reject_defer_loading),
    rejecting("reject-cache-ttl", "cache_control with a ttl gets 400 'Extra inputs are not permitted'.",
              reject_cache_ttl),
    Fault("output-format-dropped", "output_config.format is not forwarded: the reply is free text, not JSON.",
          "fault", request=drop_output_format),
    Fault("context-management-beta-dropped", "The context-management beta is stripped from anthropic-beta while "
          "context_management is kept: the upstream answers 400.", "fault", beta=drop_context_management_beta),
    switched_off("accept-2026-content-rules", "Under 2026-10-21, a document in an assistant turn and citations in "
                 "user text are accepted.", "content-2026"),
    Fault("head-root-500", "HEAD / (Claude Code's connectivity probe) gets 500.", "fault",
          route=lambda info: internal() if info.endpoint == "root" else None),
]
