"""The reference server as each model of fixtures/models.json: what the real API accepts and answers, model by model.

A request for a model the table lists is held to that model's row (conformance.model_table): its thinking modes and
effort levels, its sampling parameters, its mid-conversation `role: "system"` support (with the placement rules of
every model), its thinking by default, its default thinking display (`omitted`: signature-only thinking blocks),
and the real API's checks of replayed thinking blocks (an altered signature, a tool loop whose assistant turn lost
its thinking block). Each rejection is the 400 the row documents. A fact the row leaves unknown (null) is accepted.
`reference-model` and ids the table does not list keep the permissive behaviour of the rest of the server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from conformance.model_table import ModelRow, placement, row_for

from .errors import ApiError, invalid_request
from .responder import THINKING_TEXT, sign
from .tokens import first_words

THINKING_TYPES = ("enabled", "adaptive")
SAMPLING = ("temperature", "top_p", "top_k")
SAMPLING_DEFAULTS = {"temperature": 1}  # "a 400 error when set to a non-default value" (model-deprecations)
# Wordings the rows do not carry: the real API's as gateway reports quote them (coverage-2026-12, P-THINK and P-SYS),
# and the replica's own where no report quotes one (always with "this model", as the checks' model_gated reads it).
ROLE_SYSTEM_REJECTED = "role 'system' is not supported on this model"
PLACEMENT = ("messages.{n}: a system message must immediately follow a user turn and be the last message or be "
             "followed by an assistant turn")
EFFORT_UNSUPPORTED = "`output_config.effort` is not supported on this model."
EFFORT_LEVEL = "This model does not support effort level '{effort}'."
TOGETHER = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
EFFORT_ORDER = ("low", "medium", "high", "xhigh", "max")
FORCED_REJECTED = 'tool_choice: type "tool" and "any" are not supported for this model.'
BAD_SIGNATURE = "messages.{n}.content.{i}: Invalid `signature` in `thinking` block"
LOST_THINKING = ("messages.{n}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
                 "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
                 "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
                 "previous turns. To avoid this requirement, disable `thinking`.")


def row(model_id: Any) -> ModelRow | None:
    """The row of a model the table lists; None for reference-model and unknown ids (served permissively)."""
    return _row(model_id) if isinstance(model_id, str) else None


@lru_cache(maxsize=256)
def _row(model_id: str) -> ModelRow | None:  # once per id: the table does not change while the server runs
    found = row_for(model_id)
    return None if found.fallback else found


def check(body: dict[str, Any]) -> ApiError | None:
    """The 400 the real API answers this (otherwise valid) request with on its model, or None."""
    model = row(body.get("model"))
    if model is None:
        return None
    for rule in (_system_messages, _thinking, _effort, _sampling, _forced_tool_choice, _replayed_thinking):
        if (error := rule(body, model)) is not None:
            return error
    return None


def served(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the model reads it: thinking on where the row says it is by default ("on", "always_on": the
    model thinks unasked, adaptively), and its default thinking display made explicit (so `omitted` rows answer
    signature-only thinking blocks unless the request asks `thinking.display: "summarized"`)."""
    model = row(body.get("model"))
    thinking = body.get("thinking")
    if model is not None and thinking is None and model.thinking_default in ("on", "always_on"):
        thinking = {"type": "adaptive"}
        body = {**body, "thinking": thinking}
    if model is None or model.display_default is None or not isinstance(thinking, dict) or thinking.get("display"):
        return body
    return {**body, "thinking": {**thinking, "display": model.display_default}}


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _role(message: Any) -> str | None:
    return message.get("role") if isinstance(message, dict) else None


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _system_messages(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    messages = _messages(body)
    where = [n for n, message in enumerate(messages) if _role(message) == "system"]
    if not where:
        return None
    if where[0] == 0:  # every model: the initial system prompt goes in the top-level `system`
        return invalid_request(placement()["first_wording"])
    if model.system_messages is False:
        return invalid_request(model.system_rejection or ROLE_SYSTEM_REJECTED)
    if model.system_messages is None:
        return None  # unknown: accepted
    for n in where:
        before, after = _role(messages[n - 1]), _role(messages[n + 1]) if n + 1 < len(messages) else None
        server_result = before == "assistant" and any(
            b.get("type", "").endswith("_tool_result") for b in _blocks(messages[n - 1])[-1:])
        if not (before == "user" or server_result) or after not in (None, "assistant"):
            return invalid_request(PLACEMENT.format(n=n))
    return None


def _thinking(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    thinking = body.get("thinking")
    mode = thinking.get("type") if isinstance(thinking, dict) else None
    if not isinstance(mode, str) or model.accepts_thinking(mode) is not False:
        return None
    return invalid_request(model.thinking_rejection(mode) or f'"thinking.type.{mode}" is not supported for this model.')


def _effort(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return None
    if model.effort_supported is False:
        return invalid_request(EFFORT_UNSUPPORTED)
    levels = model.effort_levels
    if levels is not None and effort not in levels:
        return invalid_request(EFFORT_LEVEL.format(effort=effort))
    limit = model.effort_without_thinking
    if limit is not None and effort in EFFORT_ORDER and EFFORT_ORDER.index(effort) > EFFORT_ORDER.index(limit[0]) \
            and _thinking_off(body, model):
        return invalid_request(limit[1].format(effort=effort))
    return None


def _thinking_off(body: dict[str, Any], model: ModelRow) -> bool:
    """Thinking off for this request: disabled, or not asked for on a model whose thinking is off by default."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        return thinking.get("type") == "disabled"
    return thinking is None and model.thinking_default == "off"


def _forced_tool_choice(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    """tool_choice any / tool on a model without forced tool use (messages and count_tokens alike)."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool") and model.forced_tool_choice is False:
        return invalid_request(model.forced_tool_rejection or FORCED_REJECTED)
    return None


def _sampling(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    for name in SAMPLING:
        if name in body and body[name] != SAMPLING_DEFAULTS.get(name) and model.sampling(name) == "rejected":
            wording = model.sampling_rejection or "`temperature` is deprecated for this model."
            return invalid_request(wording.replace("temperature", name))
    if "temperature" in body and "top_p" in body and model.sampling("temperature_with_top_p") == "rejected":
        return invalid_request(TOGETHER)
    return None


def _signed(block: dict[str, Any]) -> bool:
    """Whether a replayed thinking block is one this server issued, unchanged: its signature signs its text, or, for
    a signature-only block (empty text), the hidden thinking (whole or cut by max_tokens)."""
    text, signature = block.get("thinking"), block.get("signature")
    if not isinstance(text, str) or not isinstance(signature, str):
        return True  # a type error: the standard validation's to report
    if text:
        return signature == sign(text)
    return signature in _HIDDEN_SIGNATURES


_HIDDEN_SIGNATURES = frozenset(sign(first_words(THINKING_TEXT, n)) for n in range(len(THINKING_TEXT.split()) + 1))


def _replayed_thinking(body: dict[str, Any], model: ModelRow) -> ApiError | None:
    messages = _messages(body)
    for n, message in enumerate(messages):
        if _role(message) != "assistant":
            continue
        for i, block in enumerate(_blocks(message)):
            if block.get("type") == "thinking" and not _signed(block):
                return invalid_request(BAD_SIGNATURE.format(n=n, i=i))
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
        return None
    # the lastmost tool loop: the last assistant turn, answered by tool results, must start with its thinking
    last = max((n for n, m in enumerate(messages) if _role(m) == "assistant"), default=None)
    if last is None or last + 1 >= len(messages):
        return None
    blocks = _blocks(messages[last])
    answered = any(b.get("type") == "tool_result" for m in messages[last + 1:] for b in _blocks(m))
    if answered and any(b.get("type") == "tool_use" for b in blocks) and blocks[0].get("type") not in (
            "thinking", "redacted_thinking"):
        return invalid_request(LOST_THINKING.format(n=last, found=blocks[0].get("type")))
    return None
