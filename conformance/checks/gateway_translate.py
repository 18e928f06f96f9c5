"""Gateway mode, translating gateways (Anthropic in, OpenAI Chat Completions out): finish_reason, tool call ids,
usage, a 429 and a stream error mapped back to the Anthropic forms (the upstream's OpenAI answers against the
client's Anthropic ones)."""

from __future__ import annotations

import json
from typing import Any

from conformance.checks.gateway import short, upstream_record
from conformance.checks.gateway_stream import client_events
from conformance.engine import Context, Skip, check, fail
from conformance.gateway.link import Sent, control, link, probe, translating_only
from conformance.gateway.records import Record
from conformance.probes import call_tool_text

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def tool_probe(ctx: Context) -> tuple[Sent, Any]:
    spec = ctx.probes.tool("gateway-translate")

    def build(nonce_token: str):
        body = {"model": ctx.target.model, "max_tokens": 256, "tools": [spec.tool],
                "tool_choice": {"type": "tool", "name": spec.name},
                "messages": [{"role": "user", "content": call_tool_text(spec) + "\n" + nonce_token}]}
        return ctx.request(body)

    return link(ctx).send(ctx, "translate-tool", build), spec


def answered(ctx: Context, sent: Sent, what: str, rule: str) -> Record:
    record, findings = upstream_record(ctx, sent, what, rule)
    if record is None:
        raise Skip(f"not judged: {findings[0].got}")
    return sent.last


def upstream_choice(record: Record) -> dict[str, Any]:
    body = record.response_json if isinstance(record.response_json, dict) else {}
    choices = body.get("choices") or [{}]
    return choices[0] if isinstance(choices[0], dict) else {}


@check("gateway/translate-finish-reason", rule="GW-TR-FINISH", tier="cheap", params=tuple(STOP_REASONS))
def finish_reason(ctx: Context, reason: str):
    """The upstream's finish_reason becomes the Anthropic stop_reason (stop, tool_calls, length)."""
    translating_only(ctx)
    if reason == "stop":
        sent = control(ctx)
    elif reason == "tool_calls":
        sent = tool_probe(ctx)[0]
    else:
        sent = probe(ctx, "translate-length", "length")
    record = answered(ctx, sent, f"a probe the upstream ends with {reason}", "GW-TR-FINISH")
    if upstream_choice(record).get("finish_reason") != reason:
        raise Skip(f"not judged: the upstream ended with {upstream_choice(record).get('finish_reason')!r}")
    body = sent.exchange.json if isinstance(sent.exchange.json, dict) else {}
    if body.get("stop_reason") != STOP_REASONS[reason]:
        return [fail(f"stop_reason {STOP_REASONS[reason]} (upstream finish_reason {reason})",
                     repr(body.get("stop_reason")), f"HTTP {sent.exchange.status} message", rule="GW-TR-FINISH")]
    return []


@check("gateway/translate-tool-ids", rule="GW-TR-TOOL-IDS", tier="cheap")
def tool_ids(ctx: Context):
    """A tool call comes back as tool_use (name and input kept), and its id maps back to the upstream's call id."""
    translating_only(ctx)
    sent, spec = tool_probe(ctx)
    record = answered(ctx, sent, "a tool probe", "GW-TR-TOOL-IDS")
    calls = (upstream_choice(record).get("message") or {}).get("tool_calls") or []
    if not calls:
        raise Skip("not judged: the upstream made no tool call")
    call = calls[0]
    body = sent.exchange.json if isinstance(sent.exchange.json, dict) else {}
    uses = [b for b in body.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_use"]
    if not uses:
        return [fail(f"a tool_use block for the upstream's call {call['id']}",
                     short(body.get("content")), "message content", rule="GW-TR-TOOL-IDS")]
    use = uses[0]
    arguments = json.loads(call["function"]["arguments"])
    if use.get("name") != call["function"]["name"] or use.get("input") != arguments:
        return [fail(f"tool_use {call['function']['name']} {short(arguments)}",
                     f"tool_use {use.get('name')} {short(use.get('input'))}", "message content[0]", rule="GW-TR-TOOL-IDS")]

    def build(nonce_token: str):
        messages = [{"role": "user", "content": call_tool_text(spec)},
                    {"role": "assistant", "content": body["content"]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.get("id"),
                                                  "content": "done " + nonce_token}]}]
        return ctx.request({"model": ctx.target.model, "max_tokens": 64, "tools": [spec.tool], "messages": messages})

    second = link(ctx).send(ctx, "translate-tool-result", build)
    back, findings = upstream_record(ctx, second, "the tool result", "GW-TR-TOOL-IDS")
    if back is None:
        return findings
    upstream_messages = (back.json or {}).get("messages") or []
    results = [m for m in upstream_messages if isinstance(m, dict) and m.get("role") == "tool"]
    got = results[0].get("tool_call_id") if results else None
    if got != call["id"]:
        return [fail(f"tool_call_id {call['id']} (the upstream's own id) in the tool message",
                     repr(got) if results else "no role: tool message", "upstream request messages", rule="GW-TR-TOOL-IDS")]
    return []


@check("gateway/translate-usage", rule="GW-TR-USAGE", tier="cheap")
def usage(ctx: Context):
    """prompt_tokens and completion_tokens become input_tokens and output_tokens."""
    translating_only(ctx)
    sent = control(ctx)
    record = answered(ctx, sent, "a plain probe", "GW-TR-USAGE")
    upstream = (record.response_json or {}).get("usage") or {}
    client = (sent.exchange.json or {}).get("usage") or {} if isinstance(sent.exchange.json, dict) else {}
    wanted = {"input_tokens": upstream.get("prompt_tokens"), "output_tokens": upstream.get("completion_tokens")}
    got = {key: client.get(key) for key in wanted}
    if got != wanted:
        return [fail(short(wanted), short(got), "message usage", rule="GW-TR-USAGE")]
    return []


@check("gateway/translate-rate-limit", rule="GW-TR-RATE-LIMIT", tier="cheap")
def rate_limit(ctx: Context):
    """The upstream's 429 becomes a 429 rate_limit_error carrying the upstream's retry-after."""
    translating_only(ctx)
    sent = probe(ctx, "translate-429", "rate-limit")
    record = answered(ctx, sent, "a probe the upstream answers 429", "GW-TR-RATE-LIMIT")
    ex = sent.exchange
    error = (ex.json or {}).get("error") if isinstance(ex.json, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    findings = []
    if ex.status != 429 or kind != "rate_limit_error":
        findings.append(fail("HTTP 429 rate_limit_error", f"HTTP {ex.status} {kind!r}",
                             "response", rule="GW-TR-RATE-LIMIT"))
    wanted = record.response_header("retry-after")
    if ex.headers.get("retry-after") != wanted:
        findings.append(fail(f"retry-after: {wanted}",
                             ex.headers.get("retry-after") or "no retry-after", "response headers", rule="GW-TR-RATE-LIMIT"))
    return findings


@check("gateway/translate-stream-error", rule="GW-TR-STREAM-ERROR", tier="cheap")
def stream_error(ctx: Context):
    """An upstream stream error becomes an Anthropic `error` event, with no `data: [DONE]` after it."""
    translating_only(ctx)
    sent = probe(ctx, "translate-stream-error", "stream-error", stream=True, max_tokens=64)
    answered(ctx, sent, "a stream the upstream cuts with an error", "GW-TR-STREAM-ERROR")
    if sent.exchange.status != 200:
        return [fail("HTTP 200 stream ending in an error event",
                     f"HTTP {sent.exchange.status}", "response status", rule="GW-TR-STREAM-ERROR")]
    names = [name or (data.get("type") if isinstance(data, dict) else None) for name, data in client_events(sent)]
    findings = []
    if "error" not in names:
        findings.append(fail("an `error` event after the upstream's stream error",
                             ", ".join(str(n) for n in names[-4:]) or "no events", "client stream",
                             rule="GW-TR-STREAM-ERROR"))
    elif names[-1] != "error":
        findings.append(fail("nothing after the `error` event",
                             ", ".join(str(n) for n in names[names.index('error'):]), "client stream",
                             rule="GW-TR-STREAM-ERROR"))
    if b"[DONE]" in sent.exchange.body:
        findings.append(fail("no data: [DONE] (an Anthropic stream has none)",
                             "data: [DONE]", "client stream", rule="GW-TR-STREAM-ERROR"))
    return findings
