"""Faults of request handling: validation switched off, wrong statuses, and valid inputs rejected."""

from __future__ import annotations

from typing import Any

from . import request_faults as rq
from .hooks import Fault


def _relax(name: str, description: str, *rules: str, **hooks: Any) -> Fault:
    """A fault that switches standard rules off (and may add hooks)."""
    return Fault(name, description, "fault", relax=frozenset(rules), **hooks)


def _reject(name: str, description: str, hook: Any) -> Fault:
    """A fault whose validate hook rejects a valid request."""
    return Fault(name, description, "fault", validate=hook)


REGISTRY = [
    # validation switched off: the request is answered as if it were valid
    _relax(
        "accept-empty-messages",
        "An empty messages array is answered (with the default reply).",
        "empty-messages",
    ),
    _relax(
        "accept-unknown-role",
        "A message with an unknown role (tool) is accepted and ignored.",
        "unknown-role",
    ),
    _relax("accept-empty-text-block", "Empty text blocks are accepted.", "empty-text-block"),
    _relax(
        "accept-orphan-tool-result", "A tool_result answering no tool_use is accepted.", "orphan-tool-result"
    ),
    _relax(
        "accept-unanswered-tool-use",
        "A tool_use without a tool_result in the next user turn is accepted.",
        "unanswered-tool-use",
    ),
    _relax("accept-bad-tool-name", "Tool names outside ^[a-zA-Z0-9_-]{1,128}$ are accepted.", "tool-name"),
    _relax(
        "ignore-unknown-fields", "Unknown top-level fields are ignored instead of rejected.", "unknown-fields"
    ),
    _relax(
        "accept-five-cache-breakpoints",
        "More than 4 cache_control breakpoints are accepted.",
        "cache-breakpoints",
    ),
    _relax("accept-negative-max-tokens", "A negative max_tokens is accepted.", "max-tokens-negative"),
    _relax("accept-string-max-tokens", "max_tokens given as a string is accepted.", "max-tokens-string"),
    _relax(
        "accept-tool-choice-unknown-tool",
        "tool_choice naming a tool that is not in tools is accepted (treated as auto).",
        "tool-choice-name",
    ),
    _relax(
        "accept-small-thinking-budget", "thinking.budget_tokens under 1024 is accepted.", "thinking-budget"
    ),
    _relax("version-optional", "A missing anthropic-version header is accepted.", "anthropic-version"),
    _relax(
        "accept-temperature-2026",
        "temperature, top_p and top_k are accepted under 2026-10-21.",
        "sampling-2026",
    ),
    # wrong statuses and error shapes
    Fault(
        "validation-422",
        "Every 400 invalid_request_error is sent as 422 (same envelope).",
        "fault",
        error=rq.status_422,
    ),
    _relax(
        "unknown-model-400",
        "An unknown model gets 400 invalid_request_error 'Invalid model name' instead of 404.",
        "unknown-model",
        validate=rq.unknown_model_400,
    ),
    _relax("unknown-model-200", "An unknown model is answered normally.", "unknown-model"),
    _relax("no-size-limit", "No 413: bodies over the size cap are answered normally.", "body-size"),
    _reject(
        "crash-on-messages-object",
        "messages given as an object crashes the server (500 api_error).",
        rq.crash_on_messages_object,
    ),
    Fault("not-found-html", "Unknown paths get a text/html 404 page.", "fault", route=rq.not_found_html),
    Fault(
        "request-id-body-null",
        'Error bodies carry "request_id": null (the header is unchanged).',
        "fault",
        error_body=rq.null_request_id,
    ),
    Fault(
        "request-id-uuid",
        "The request id is a bare UUID (no req_ prefix), in headers and bodies.",
        "fault",
        request_id=rq.uuid_request_id,
    ),
    Fault(
        "unknown-beta-500",
        "An anthropic-beta value that does not look like name-YYYY-MM-DD gets 500 api_error.",
        "fault",
        headers=rq.malformed_beta_500,
    ),
    # valid inputs rejected
    _reject(
        "reject-consecutive-roles",
        "Consecutive same-role messages get 400 (roles must alternate).",
        rq.reject_consecutive_roles,
    ),
    _reject(
        "prefill-500",
        "An assistant message last (a prefill) crashes the server (500).",
        rq.reject_prefill(crash=True),
    ),
    _reject(
        "reject-prefill", "An assistant message last (a prefill) gets 400.", rq.reject_prefill(crash=False)
    ),
    _reject("reject-images", "Any image block gets 400.", rq.reject_block("image")),
    # what the real API answers for a model that does not offer a feature: the checks call it unsupported
    _reject("model-without-role-system", "A model without role: system messages: 400 \"role 'system' is not "
            "supported on this model\".", rq.model_without_role_system),
    _reject("model-without-temperature", "A model without sampling parameters: temperature gets 400 "
            "\"`temperature` is deprecated for this model.\" in every version.", rq.model_without_temperature),
    _reject("reject-streaming", "stream: true gets 400 invalid_request_error (the layer never streams).",
            rq.reject_streaming),
    _reject("images-500", "Any image block crashes the server (500).", rq.reject_block("image", crash=True)),
    _reject("reject-documents", "Any document block gets 400.", rq.reject_block("document")),
    _reject(
        "documents-500",
        "Any document block crashes the server (500).",
        rq.reject_block("document", crash=True),
    ),
    _reject(
        "reject-thinking-replay", "Assistant turns with thinking blocks get 400.", rq.reject_thinking_replay
    ),
    _reject(
        "reject-metadata", "metadata gets 400 'Extra inputs are not permitted'.", rq.reject_field("metadata")
    ),
    _reject(
        "reject-cache-control-on-tool-result",
        "cache_control on a tool_result block gets 400.",
        rq.reject_cache_control_on_tool_result,
    ),
    _reject(
        "leading-system-role-500",
        "A role: system message before the first user turn crashes the server (500 api_error).",
        rq.crash_on_leading_system_role,
    ),
    _reject("reject-over-16-tools", "More than 16 tools get 400.", rq.at_most("tools", 16)),
    _reject(
        "reject-context-management",
        "context_management gets 400 'Extra inputs are not permitted'.",
        rq.reject_field("context_management"),
    ),
    _reject(
        "reject-multiple-stop-sequences",
        "More than one stop sequence gets 400.",
        rq.at_most("stop_sequences", 1),
    ),
    _reject(
        "reject-temperature", "temperature gets 400 in every API version.", rq.reject_field("temperature")
    ),
    _reject(
        "reject-multiple-tool-results",
        "A user message with more than one tool_result gets 400.",
        rq.reject_multiple_tool_results,
    ),
    Fault(
        "rate-limited-without-retry-after",
        "Every POST /v1/messages gets 429 rate_limit_error, without the retry-after header.",
        "fault",
        route=rq.rate_limited,
        response_headers=rq.drop_retry_after,
    ),
    Fault(
        "rate-limited-without-ratelimit-headers",
        "Every POST /v1/messages gets 429 rate_limit_error with retry-after but no anthropic-ratelimit-* headers.",
        "fault",
        route=rq.rate_limited,
        response_headers=rq.drop_ratelimit_headers,
    ),
    Fault(
        "x-should-retry-invalid",
        "Every response carries x-should-retry: yes (the SDK reads only true or false).",
        "fault",
        response_headers=rq.invalid_should_retry,
    ),
]
