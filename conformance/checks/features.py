"""Checks of the late-2026 features gateways break today: structured outputs, server tools, tool search, adaptive
thinking with effort, cache ttl, context_management with its beta, the 2026-10-21 content rules, and Claude Code's
`HEAD /` probe.

An optional feature the target does not offer is unsupported when declined cleanly (a 4xx in the Anthropic envelope,
or the real API's model-gated 400). What fails is what breaks clients: a 5xx, another error body, a 400 only a layer
gives (a schema that does not know the field: "Extra inputs are not permitted"; a server tool validated as a custom
one: "input_schema: Field required"), or a 200 that ignored the feature (judged against a control).
"""

from __future__ import annotations

import json
import re

from conformance.checks.acceptance import accepted
from conformance.checks.common import (
    controlled_miss,
    error_detail,
    feature_model,
    message_text,
    model_gated,
    require_message,
    short,
    unserved_feature_model,
)
from conformance.checks.headers import rejected_by_the_api
from conformance.engine import Context, HarnessError, check, fail, warn
from conformance.model_table import row_for
from conformance.probes import reply_with
from conformance.verdicts import Finding
from conformance.wire import Exchange, WireRequest

VERSION_2026 = "2026-10-21"
CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"
# The real API's schema knows these fields, so its answer never says they are unknown: only a layer's does.
UNKNOWN_FIELD = re.compile(r"extra inputs are not permitted|extra_forbidden|unknown field|unrecognized", re.IGNORECASE)
MISSING_SCHEMA = re.compile(r"input_schema\W{0,4}(field required|is required|required|missing)|"
                            r"(missing|required)\W{1,10}(field\W{0,4})?input_schema", re.IGNORECASE)
# typed tools without input_schema (anthropic.types.ToolUnionParam, SDK 2.16)
SERVER_TOOLS = {
    "web-search": {"type": "web_search_20250305", "name": "web_search", "max_uses": 1},
    "text-editor": {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    "bash": {"type": "bash_20250124", "name": "bash"},
}
ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
                 "additionalProperties": False}


def _layer_refusal(ex: Exchange, refusals: tuple[tuple[str, re.Pattern, str], ...]) -> list[Finding]:
    """A failure when a 4xx names a field in words only a layer uses: (field, pattern, what it means) in turn."""
    detail = error_detail(ex)
    for field, pattern, meaning in refusals:
        if ex.status is not None and 400 <= ex.status < 500 and field in detail and pattern.search(detail):
            return [fail("HTTP 200, or a clean refusal the real API could give",
                         f"HTTP {ex.status} {detail[:200]} ({meaning})")]
    return []


UNKNOWN = "a layer whose schema does not know {} refused it; the API's schema has it"
SCHEMA_DEMANDED = ("input_schema", MISSING_SCHEMA, "a layer validated a typed tool as a custom tool; typed tools have "
                   "no input_schema")


def _optional(ctx: Context, name: str, build, feature: str, *refusals: tuple[str, re.Pattern, str]) -> list[Finding]:
    """The probe is answered with a Message; a clean refusal (or the model-gated 400) is unsupported, a layer's
    refusal (`refusals`) a failure."""
    first = ctx.exchange(name, build)
    model_gated(first, feature)
    return _layer_refusal(first, refusals) or accepted(ctx, name, build, None, feature)


def _text_body(ctx: Context, key: str, **extra) -> dict:
    words = ctx.probes.text_words(key)
    return {"model": ctx.target.model, "max_tokens": 64, "messages": [{"role": "user", "content": reply_with(words)}],
            **extra}


@check("features/structured-output", rule="FEAT-STRUCTURED-OUTPUT", tier="cheap")
def structured_output(ctx: Context):
    """output_config.format (json_schema) is honoured: the reply text is JSON valid against the schema."""
    words = ctx.probes.text_words("structured")
    output_config = {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
    body = {**_text_body(ctx, "structured"), "output_config": output_config}

    def build():
        return ctx.request(body)

    first, good = ctx.content_exchange("structured-output", build, lambda ex: ex.ok and not _json_problem(ex))
    model_gated(first, "structured outputs")
    if not first.ok:
        refusal = ("output_config", UNKNOWN_FIELD, UNKNOWN.format("output_config.format"))
        return _layer_refusal(first, (refusal,)) or accepted(
            ctx, "structured-output", build, None, "structured outputs")
    reply, findings = require_message(first)
    if reply is None or good is not None:
        return findings
    if reply.get("stop_reason") == "refusal":
        return [warn("a reply that is JSON valid against output_config.format.schema",
                     "stop_reason refusal (the model declined: no proof the layer lost anything)", "$.stop_reason")]
    return [controlled_miss(ctx, "a reply that is JSON valid against output_config.format.schema",
                            f"{short(message_text(reply))} ({_json_problem(first)})", "$.content", words,
                            "with output_config.format", reply=reply)]


def _json_problem(ex: Exchange) -> str:
    """Why the reply text is not JSON valid against ANSWER_SCHEMA ("" when it is)."""
    from jsonschema import Draft202012Validator

    text = message_text(ex.json if isinstance(ex.json, dict) else None)
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    error = next(iter(Draft202012Validator(ANSWER_SCHEMA).iter_errors(value)), None)
    return f"not valid against the schema: {error.message}" if error else ""


@check("features/server-tool", rule="FEAT-SERVER-TOOLS", tier="cheap", params=tuple(SERVER_TOOLS))
def server_tool(ctx: Context, kind: str):
    """A typed (server or Anthropic-defined) tool without input_schema is accepted or cleanly unsupported."""
    name = "server-tool-" + kind
    body = _text_body(ctx, name, tools=[SERVER_TOOLS[kind]])
    return _optional(ctx, name, lambda: ctx.request(body), f"the {SERVER_TOOLS[kind]['type']} tool",
                     SCHEMA_DEMANDED)


@check("features/defer-loading", rule="FEAT-TOOL-SEARCH", tier="cheap")
def defer_loading(ctx: Context):
    """A tool with defer_loading: true, beside the tool search tool, is accepted or cleanly unsupported."""
    deferred = {**ctx.probes.tool("deferred").tool, "defer_loading": True}
    search = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    body = _text_body(ctx, "defer-loading", tools=[search, deferred])
    return _optional(ctx, "defer-loading", lambda: ctx.request(body), "tool search (defer_loading)",
                     ("defer_loading", UNKNOWN_FIELD, UNKNOWN.format("defer_loading")), SCHEMA_DEMANDED)


# the 4xx of a layer whose schema knows only the older thinking types ("Input should be 'enabled' or 'disabled'")
OLD_THINKING_TYPES = re.compile(r"\benabled\b.{0,20}\bdisabled\b|input should be|unknown variant|not one of|"
                                r"invalid (value|tag|enum)", re.IGNORECASE)


@check("features/adaptive-effort", rule="FEAT-ADAPTIVE-EFFORT", tier="cheap")
def adaptive_effort(ctx: Context):
    """thinking {type: adaptive} with output_config.effort (what Claude Code sends every model) is accepted: a
    Message, or the model's documented 400. A layer's schema refusing either field fails, as does any 4xx where
    the model's row says it takes both. Where the target's model refuses adaptive thinking by its row, the probe names
    Claude Code's default model, which Claude Code as it comes sends it with."""
    model = feature_model(ctx, ctx.target.model_row.accepts_thinking("adaptive"))
    row = row_for(model)
    words = ctx.probes.text_words("adaptive-effort")
    body = {"model": model, "max_tokens": 512, "thinking": {"type": "adaptive"},
            "messages": [{"role": "user", "content": reply_with(words)}]}
    if row.effort_supported is not False:  # "low": every documented level list has it, and it costs least
        body["output_config"] = {"effort": "low"}

    def build():
        return ctx.request(body)

    first = ctx.exchange("adaptive-effort", build)
    unserved_feature_model(ctx, first, model, "adaptive thinking with effort")
    model_gated(first, "adaptive thinking with effort")
    refusals = (("output_config", UNKNOWN_FIELD, UNKNOWN.format("output_config")),
                ("thinking", UNKNOWN_FIELD, UNKNOWN.format("thinking")),
                ("thinking", OLD_THINKING_TYPES, "a layer whose schema knows only thinking types enabled and disabled "
                 "refused adaptive"))
    if found := _layer_refusal(first, refusals):
        return found
    if first.status is not None and 400 <= first.status < 500 and row.accepts_thinking("adaptive") is True \
            and row.effort_supported is True:
        return [fail(f"a Message: the {row.describe()} row takes adaptive thinking and effort",
                     f"HTTP {first.status} {error_detail(first)[:200]}")]
    return accepted(ctx, "adaptive-effort", build, words, "adaptive thinking with effort")


@check("features/cache-ttl", rule="FEAT-CACHE-TTL", tier="cheap")
def cache_ttl(ctx: Context):
    """cache_control with ttl "1h" (a system block) and "5m" (the user turn) is accepted."""
    words = ctx.probes.text_words("cache-ttl")
    system = [{"type": "text", "text": "You are a conformance probe.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    turn = {"role": "user", "content": [{"type": "text", "text": reply_with(words),
                                         "cache_control": {"type": "ephemeral", "ttl": "5m"}}]}
    body = {"model": ctx.target.model, "max_tokens": 64, "system": system, "messages": [turn]}
    return _optional(ctx, "cache-ttl", lambda: ctx.request(body), "cache_control ttl",
                     ("ttl", UNKNOWN_FIELD, UNKNOWN.format("cache_control.ttl")))


@check("features/context-management", rule="FEAT-CONTEXT-MANAGEMENT", tier="cheap")
def context_management(ctx: Context):
    """context_management with its anthropic-beta is accepted; a 400 saying the field is unknown means the layer
    dropped the beta (or the field's schema) on the way."""
    edits = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    body = _text_body(ctx, "context-management", context_management=edits)
    build = lambda: ctx.request(body, headers=(("anthropic-beta", CONTEXT_MANAGEMENT_BETA),))  # noqa: E731
    return _optional(ctx, "context-management", build, "context management",
                     ("context_management", UNKNOWN_FIELD, "the field arrived without its beta, or a layer's schema "
                      "does not know it: the API gives this 400 to context_management without "
                      f"anthropic-beta: {CONTEXT_MANAGEMENT_BETA}"))


def _rejected_2026(ctx: Context, name: str, messages: list[dict], what: str) -> list[Finding]:
    body = {"model": ctx.target.model, "max_tokens": 16, "messages": messages}
    ex = ctx.exchange(name, lambda: ctx.request(body, version=VERSION_2026))
    return rejected_by_the_api(ex, what)


@check("features/version-2026-assistant-document", rule="FEAT-2026-ASSISTANT-DOCUMENT", tier="free")
def assistant_document_2026(ctx: Context):
    """Under anthropic-version 2026-10-21, a document block in an assistant turn is rejected with 400."""
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "A short note."}}
    messages = [{"role": "user", "content": "Read this note."}, {"role": "assistant", "content": [document]},
                {"role": "user", "content": "Reply with exactly: ok"}]
    return _rejected_2026(ctx, "2026-assistant-document", messages, "a document in an assistant turn under 2026-10-21")


@check("features/version-2026-user-citations", rule="FEAT-2026-USER-CITATIONS", tier="free")
def user_citations_2026(ctx: Context):
    """Under anthropic-version 2026-10-21, a user text block with non-empty citations is rejected with 400."""
    citation = {"type": "char_location", "cited_text": "A short note.", "document_index": 0, "document_title": None,
                "start_char_index": 0, "end_char_index": 13}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Reply with exactly: ok", "citations": [citation]}]}]
    return _rejected_2026(ctx, "2026-user-citations", messages, "citations in a user text block under 2026-10-21")


@check("features/head-root", rule="FEAT-HEAD-ROOT", tier="free")
def head_root(ctx: Context):
    """HEAD / (Claude Code's connectivity probe, without key or version) is answered below 500, without hanging."""
    # the connection is closed after it: a target that sends a body with its answer to HEAD (it must not) would
    # otherwise leave that body in a kept-alive connection, to be read as the status line of the next exchange
    request = WireRequest(method="HEAD", path="/", auth="none", version=None,
                          headers=(("user-agent", "Bun/1.4.0"), ("accept", "*/*"), ("connection", "close")))
    ex = ctx.session.exchange("head-root", lambda: request, ctx.remaining())
    ctx.used.append(ex)
    if ex.error and ex.status is None and "timed out" not in ex.error:
        raise HarnessError(f"exchange {ex.name!r}: {ex.error}")
    if ex.error:
        return [warn("an answer to HEAD / (any status below 500)", f"no answer: {ex.error}")]
    if ex.status is not None and ex.status >= 500:
        detail = error_detail(ex)
        return [warn("an answer to HEAD / below 500 (Claude Code reads a failing base URL as down)",
                     f"HTTP {ex.status} {detail[:120]}".rstrip())]
    return []

