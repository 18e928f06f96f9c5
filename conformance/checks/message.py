"""Checks of the non-streaming Message: headers, schema, id, stop fields, usage, content, directives."""

from __future__ import annotations

from conformance import schemas
from conformance.checks.common import (
    contains_words,
    controlled_miss,
    id_findings,
    media_type_findings,
    message_text,
    require_message,
    short,
    text_probe,
)
from conformance.engine import Context, check, fail, finding, strict, warn
from conformance.vocabulary import STOP_REASONS

PROBE = "text"


OWNER = "message/schema"  # reports a text probe answered with no JSON Message; the other checks of it are skipped


def _message(ctx: Context, *, rule: str = ""):
    body, findings = require_message(text_probe(ctx, PROBE), rule=rule)
    return body, ctx.needs(findings, OWNER, "no Message from the text probe")


@check("message/content-type-json", rule="MSG-CONTENT-TYPE", tier="cheap")
def content_type_json(ctx: Context):
    """A non-streaming response is application/json."""
    ex = text_probe(ctx, PROBE)
    _, findings = _message(ctx)
    return findings or media_type_findings(ex, "application/json")


@check("message/schema", rule="MSG-SCHEMA", tier="cheap")
def message_schema(ctx: Context):
    """The Message validates against the SDK-derived, tightened schema."""
    body, findings = _message(ctx)
    if body is None:
        return findings
    return [fail("valid against message.schema.json", err.message, err.path)
            for err in schemas.validate("message", body)]


@check("message/id", rule="MSG-ID", tier="cheap")
def message_id(ctx: Context):
    """Message.id is a non-empty string (msg_ prefix expected)."""
    body, findings = _message(ctx)
    if body is None:
        return findings
    return id_findings(body.get("id"), "$.id", "msg_")


@check("message/stop-reason", rule="MSG-STOP-REASON", tier="cheap")
def stop_reason(ctx: Context):
    """stop_reason and stop_sequence are present; a natural end is end_turn with stop_sequence null."""
    body, findings = _message(ctx)
    if body is None:
        return findings
    out = []
    for key in ("stop_reason", "stop_sequence"):
        if key not in body:
            out.append(fail(f"key {key} present (null allowed only for stop_sequence)",
                            "key missing", f"$.{key}"))
    reason = body.get("stop_reason")
    if "stop_reason" in body and reason not in STOP_REASONS:
        out.append(fail(f"one of {', '.join(STOP_REASONS)}", short(reason), "$.stop_reason"))
    elif reason is not None and reason != "end_turn":
        out.append(fail("end_turn for a short reply that ended naturally", short(reason),
                        "$.stop_reason"))
    if body.get("stop_sequence") is not None and reason != "stop_sequence":
        out.append(fail("stop_sequence null unless stop_reason is stop_sequence",
                        short(body.get("stop_sequence")), "$.stop_sequence"))
    return out


def usage_findings(usage: object, where: str, *, rule: str = "") -> list:
    if not isinstance(usage, dict):
        return [fail("a usage object", short(usage), where, rule=rule)]
    out = []
    for key in ("input_tokens", "output_tokens"):
        value = usage.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            out.append(fail("an integer >= 0", short(value) if key in usage else "missing", f"{where}.{key}", rule=rule))
    if isinstance(usage.get("input_tokens"), int) and usage.get("input_tokens") == 0:
        out.append(fail("input_tokens > 0 for a non-empty prompt", "0", f"{where}.input_tokens", rule=rule))
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if key in usage and usage[key] is not None and (not isinstance(usage[key], int) or isinstance(usage[key], bool)):
            out.append(fail("an integer when present", short(usage[key]), f"{where}.{key}", rule=rule))
    return out


@check("message/usage", rule="MSG-USAGE", tier="cheap")
def usage(ctx: Context):
    """usage carries integer input and output token counts, input > 0."""
    body, findings = _message(ctx)
    if body is None:
        return findings
    return usage_findings(body.get("usage"), "$.usage")


@check("message/no-empty-text-blocks", rule="MSG-NO-EMPTY-TEXT", tier="cheap")
def no_empty_text(ctx: Context):
    """No text block with empty text (clients that replay it get a 400)."""
    body, findings = _message(ctx)
    if body is None:
        return findings
    content = body.get("content") if isinstance(body.get("content"), list) else []
    return [strict("non-empty text in every text block", "text \"\"", f"$.content[{i}].text")
            for i, block in enumerate(content)
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text") == ""]


@check("message/request-id-header", rule="MSG-REQUEST-ID", tier="cheap")
def request_id_header(ctx: Context):
    """A successful response carries a request-id header."""
    ex = text_probe(ctx, PROBE)
    _, findings = _message(ctx)
    if findings:
        return findings
    if not ex.request_id:
        return [strict("a request-id header (the SDK exposes it as _request_id)", "no request-id header")]
    return []


@check("message/follows-directive", rule="MSG-DIRECTIVE", tier="cheap")
def follows_directive(ctx: Context):
    """The reply contains the nonce words the user asked for."""
    words = ctx.probes.text_words(PROBE)
    first, accepted = ctx.content_exchange(
        PROBE, lambda: ctx.request(ctx.probes.text_body(PROBE)),
        lambda ex: ex.ok and contains_words(message_text(ex.json if isinstance(ex.json, dict) else None), words))
    body, findings = require_message(first)
    if body is None:
        return findings
    if accepted is None:
        return [ctx_finding(ctx, f"text containing {' '.join(words)!r}",
                            short(message_text(body)), "$.content")]
    return []


def ctx_finding(ctx: Context, expected: str, got: str, where: str = "", *, rule: str = ""):
    return finding(ctx.content_verdict(), expected, got, where, rule=rule)


@check("message/max-tokens-stop", rule="MSG-MAX-TOKENS", tier="cheap")
def max_tokens_stop(ctx: Context):
    """Hitting max_tokens stops with stop_reason max_tokens and output_tokens <= max_tokens."""
    words = ctx.probes.max_tokens_words()
    limit = 5

    def build():
        return ctx.request({"model": ctx.target.model, "max_tokens": limit,
                            "messages": [{"role": "user", "content": "Reply with exactly: " + " ".join(words)}]})

    body, findings = require_message(ctx.exchange("max-tokens", build))
    if body is None:
        return findings
    out = []
    used = (body.get("usage") or {}).get("output_tokens") if isinstance(body.get("usage"), dict) else None
    if body.get("stop_reason") != "max_tokens" and isinstance(used, int) and used < limit:
        out.append(warn("stop_reason max_tokens (max_tokens=5, a 30-word reply asked for)",
                        f"{short(body.get('stop_reason'))} after {used} output tokens (under the limit: the reply "
                        "ended on its own)", "$.stop_reason"))
    elif body.get("stop_reason") != "max_tokens":
        out.append(fail("stop_reason max_tokens (max_tokens=5, a 30-word reply asked for)",
                        short(body.get("stop_reason")), "$.stop_reason"))
    if isinstance(used, int) and used > limit:
        out.append(fail(f"usage.output_tokens <= {limit}", str(used), "$.usage.output_tokens"))
    return out


@check("message/stop-sequence", rule="MSG-STOP-SEQUENCE", tier="cheap")
def stop_sequence(ctx: Context):
    """A stop sequence ends the reply with stop_reason stop_sequence and the matched string."""
    before, seq, after = ctx.probes.stop_words()
    directive = "Reply with exactly: " + " ".join(before + [seq] + after)

    def build():
        return ctx.request({"model": ctx.target.model, "max_tokens": 64, "stop_sequences": [seq],
                            "messages": [{"role": "user", "content": directive}]})

    def accepted(ex):
        body = ex.json if isinstance(ex.json, dict) else None
        return ex.ok and body is not None and body.get("stop_reason") == "stop_sequence"

    first, ok = ctx.content_exchange("stop-sequence", build, accepted)
    body, findings = require_message(first)
    if body is None:
        return findings
    final = ok.json if ok is not None else body
    out = []
    if final.get("stop_reason") != "stop_sequence":
        expected = f"stop_reason stop_sequence (stop_sequences=[{short(seq)}])"
        if seq in message_text(final):  # the model said it and the target did not stop: stop_sequences ignored
            return [fail(expected, f"{short(final.get('stop_reason'))} with {short(seq)} in the text",
                         "$.stop_reason")]
        # The reply neither stopped as reported nor said the sequence: a control without stop_sequences tells
        # whether the model says these words (then the layer cut the reply and mislabelled it, or lost the request).
        out.append(controlled_miss(ctx, expected, f"{short(final.get('stop_reason'))}, text "
                                   f"{short(message_text(final))}", "$.stop_reason", before + [seq] + after,
                                   "with stop_sequences", reply=final))
        return out
    if final.get("stop_sequence") != seq:
        out.append(fail(f"stop_sequence {short(seq)}", short(final.get("stop_sequence")),
                        "$.stop_sequence"))
    if seq in message_text(final):
        out.append(fail("the text ends before the stop sequence",
                        short(message_text(final)), "$.content"))
    return out
