"""Features of the late-2026 API the fake serves beside the core contract: structured outputs (output_config.format),
context_management with its beta, and Claude Code's `HEAD /` connectivity probe.

- output_config.format {type: json_schema, schema}: the reply's text is JSON valid against the schema (the real API
  constrains decoding to it; docs: build-with-claude/structured-outputs).
- context_management is a beta body field: without `context-management-2025-06-27` in anthropic-beta the real API
  answers 400 (docs: build-with-claude/context-editing; Claude Code's gateway protocol: a body field and its beta
  travel together). A layer that strips the header gets exactly that answer.
- `HEAD /` (Claude Code's pre-connect, docs/claude-code-request.md) is answered 200 without a body.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError, invalid_request
from .schema_instance import instance

CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"


def betas(header: str | None) -> set[str]:
    """The values of an anthropic-beta header."""
    return {value.strip() for value in (header or "").split(",") if value.strip()}


def validate(body: dict[str, Any], beta_header: str | None) -> ApiError | None:
    """The real API's 400 for a feature field used wrongly, or None."""
    if body.get("context_management") is not None and CONTEXT_MANAGEMENT_BETA not in betas(beta_header):
        return invalid_request("context_management: Extra inputs are not permitted")
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return invalid_request("output_config.format.type: Input should be 'json_schema'")
    if not isinstance(fmt.get("schema"), dict):
        return invalid_request("output_config.format.schema: Input should be a valid dictionary")
    return None


def output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the reply must follow (output_config.format), or None."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    return None


def apply(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """The Message with its text as JSON valid against output_config.format's schema (strings carry the reply the
    fake would have given), when the request asks for structured output and the reply is text."""
    schema = output_schema(body)
    content = message.get("content")
    if schema is None or not isinstance(content, list) or message.get("stop_reason") not in ("end_turn", None):
        return message
    text = "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    rest = [b for b in content if not (isinstance(b, dict) and b.get("type") == "text")]
    structured = json.dumps(instance(schema, text=text.strip() or "example"), ensure_ascii=False)
    return {**message, "content": [*rest, {"type": "text", "text": structured}]}

