"""Checks that the same request, streamed and not, gives the same result: blocks, stop reason, input, usage."""

from __future__ import annotations

import json

from conformance.checks.common import block_types, expect_ok, merge_text_runs, message_body, short, tool_uses
from conformance.checks.streaming import stream_ok, streamed_message
from conformance.engine import Context, check, fail, finding
from conformance.verdicts import Finding
from conformance.wire import Exchange

USAGE_TOLERANCE = 0.2  # output tokens may differ a little between two generations


def pair(ctx: Context, key: str, body: dict) -> tuple[Exchange, Exchange]:
    plain = ctx.exchange(key, lambda: ctx.request(body))
    streamed = ctx.exchange(key + "-stream", lambda: ctx.request({**body, "stream": True}))
    return plain, streamed


def text_pair(ctx: Context):
    words = ctx.probes.text_words("parity")
    return pair(ctx, "parity-text", {"model": ctx.target.model, "max_tokens": 64,
                                     "messages": [{"role": "user", "content": "Reply with exactly: " + " ".join(words)}]})


def tool_pair(ctx: Context):
    spec = ctx.probes.tool("parity-tool")
    return spec, pair(ctx, "parity-tool", {
        "model": ctx.target.model, "max_tokens": 256, "tools": [spec.tool],
        "tool_choice": ctx.probes.tool_choice(spec),
        "messages": [{"role": "user", "content": f"Call the tool {spec.name} with input {json.dumps(spec.arguments)}"}]})


def max_tokens_pair(ctx: Context):
    return pair(ctx, "parity-max-tokens", {"model": ctx.target.model, "max_tokens": 5, "messages": [
        {"role": "user", "content": "Reply with exactly: " + " ".join(ctx.probes.max_tokens_words())}]})


def both_ok(ctx: Context, plain: Exchange, streamed: Exchange, *, rule: str = "") -> list[Finding]:
    findings = expect_ok(plain, rule=rule) + stream_ok(ctx, streamed, rule=rule)
    if not findings and message_body(plain) is None:
        findings.append(fail("a JSON Message for the non-streamed request", plain.content_type, rule=rule))
    return findings


@check("parity/block-types", rule="PARITY-BLOCKS", tier="cheap")
def parity_block_types(ctx: Context):
    """Streamed and non-streamed answers have the same content block types (text, tool_use)."""
    out = []
    for name, (plain, streamed) in (("text", text_pair(ctx)), ("tool", tool_pair(ctx)[1])):
        findings = both_ok(ctx, plain, streamed)
        if findings:
            out += findings
            continue
        message, missing = streamed_message(ctx, streamed)
        if message is None:
            out += missing
            continue
        a, b = merge_text_runs(block_types(plain.json)), merge_text_runs(block_types(message))
        if a != b:
            out.append(fail(f"streamed block types equal to non-streamed {a}", short(b), f"{name} probe"))
    return out


@check("parity/stop-reason", rule="PARITY-STOP-REASON", tier="cheap")
def parity_stop_reason(ctx: Context):
    """Streamed and non-streamed answers end with the same stop_reason (tool_use, max_tokens)."""
    out = []
    for name, (plain, streamed) in (("tool", tool_pair(ctx)[1]), ("max_tokens", max_tokens_pair(ctx))):
        findings = both_ok(ctx, plain, streamed)
        if findings:
            out += findings
            continue
        a = plain.json.get("stop_reason")
        reasons = streamed.stream.stop_reasons
        b = reasons[-1] if reasons else None
        if a != b:
            out.append(fail(f"streamed stop_reason equal to non-streamed {short(a)}", short(b),
                            f"{name} probe"))
    return out


@check("parity/tool-input", rule="PARITY-TOOL-INPUT", tier="cheap")
def parity_tool_input(ctx: Context):
    """A directed tool call (forced where the model takes that) has the same input streamed (accumulated
    partial_json) and not."""
    spec, (plain, streamed) = tool_pair(ctx)
    findings = both_ok(ctx, plain, streamed)
    if findings:
        return findings
    message, missing = streamed_message(ctx, streamed)
    if message is None:
        return missing
    a = [c.get("input") for c in tool_uses(plain.json) if c.get("name") == spec.name]
    b = [c.get("input") for c in tool_uses(message) if c.get("name") == spec.name]
    if a != b:  # two generations: a difference is the model's unless the non-streamed one is exactly what was asked
        # two single generations: a failure only on a deterministic target (streaming/tool-input retries and
        # judges the stream against its control)
        lost = a == [spec.arguments]
        verdict = ctx.content_verdict()
        why = " (the non-streamed input is exactly the one asked for: the stream changed it)" if lost else ""
        return [finding(verdict, f"streamed input equal to non-streamed {short(a)}",
                        short(b) + why, "tool_use input")]
    return []


@check("parity/usage", rule="PARITY-USAGE", tier="cheap")
def parity_usage(ctx: Context):
    """The same request reports the same input_tokens streamed and not, and output_tokens within tolerance."""
    plain, streamed = text_pair(ctx)
    findings = both_ok(ctx, plain, streamed)
    if findings:
        return findings
    usage = plain.json.get("usage") if isinstance(plain.json.get("usage"), dict) else {}
    message, missing = streamed_message(ctx, streamed)
    if message is None:
        return missing
    live = message.get("usage") if isinstance(message.get("usage"), dict) else {}
    out = []
    if usage.get("input_tokens") != live.get("input_tokens"):
        out.append(fail(f"input_tokens {short(usage.get('input_tokens'))} in both",
                        f"streamed {short(live.get('input_tokens'))}", "usage.input_tokens"))
    a, b = usage.get("output_tokens"), live.get("output_tokens")
    if isinstance(a, int) and isinstance(b, int):
        if abs(a - b) > max(2, USAGE_TOLERANCE * max(a, b)):
            out.append(finding(ctx.content_verdict(), f"output_tokens close to the non-streamed {a} (within 20% or 2)",
                               f"streamed {b}", "usage.output_tokens"))
    return out
