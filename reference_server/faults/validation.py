"""Faults of request validation, caught by the validation checks: invalid requests answered, or refused wrongly.

Hooks: `relax`ed standard rules (validation_common.RELAXABLE), the `error` status rewrite, a `validate` 400.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import models
from ..errors import ApiError, invalid_request
from ..hooks import Fault
from .common import switched_off


def status_422(error: ApiError) -> ApiError:
    if error.status == 400 and error.type == "invalid_request_error":
        return dataclasses.replace(error, status=422)
    return error


def unknown_model_400(body: dict[str, Any], endpoint: str) -> ApiError | None:
    model = body.get("model")
    if isinstance(model, str) and model and not models.known(model):
        return invalid_request(f"Invalid model name passed in model={model}")
    return None


FAULTS = [
    # validation switched off: the request is answered as if it were valid
    switched_off(
        "accept-empty-messages",
        "An empty messages array is answered (with the default reply).",
        "empty-messages",
    ),
    switched_off(
        "accept-unknown-role",
        "A message with an unknown role (tool) is accepted and ignored.",
        "unknown-role",
    ),
    switched_off("accept-empty-text-block", "Empty text blocks are accepted.", "empty-text-block"),
    switched_off(
        "accept-orphan-tool-result", "A tool_result answering no tool_use is accepted.", "orphan-tool-result"
    ),
    switched_off(
        "accept-unanswered-tool-use",
        "A tool_use without a tool_result in the next user turn is accepted.",
        "unanswered-tool-use",
    ),
    switched_off("accept-bad-tool-name", "Tool names outside ^[a-zA-Z0-9_-]{1,128}$ are accepted.", "tool-name"),
    switched_off(
        "ignore-unknown-fields", "Unknown top-level fields are ignored instead of rejected.", "unknown-fields"
    ),
    switched_off(
        "accept-five-cache-breakpoints",
        "More than 4 cache_control breakpoints are accepted.",
        "cache-breakpoints",
    ),
    switched_off("accept-negative-max-tokens", "A negative max_tokens is accepted.", "max-tokens-negative"),
    switched_off("accept-string-max-tokens", "max_tokens given as a string is accepted.", "max-tokens-string"),
    switched_off(
        "accept-tool-choice-unknown-tool",
        "tool_choice naming a tool that is not in tools is accepted (treated as auto).",
        "tool-choice-name",
    ),
    switched_off(
        "accept-small-thinking-budget", "thinking.budget_tokens under 1024 is accepted.", "thinking-budget"
    ),
    # wrong statuses
    Fault(
        "validation-422",
        "Every 400 invalid_request_error is sent as 422 (same envelope).",
        "fault",
        error=status_422,
    ),
    switched_off(
        "unknown-model-400",
        "An unknown model gets 400 invalid_request_error 'Invalid model name' instead of 404.",
        "unknown-model",
        validate=unknown_model_400,
    ),
    switched_off("unknown-model-200", "An unknown model is answered normally.", "unknown-model"),
    switched_off("no-size-limit", "No 413: bodies over the size cap are answered normally.", "body-size"),
]
