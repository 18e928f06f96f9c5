"""Gateway mode, translating gateways (Anthropic in, OpenAI Chat Completions out): finish_reason, tool call ids,
usage, a 429 and a stream error mapped back to the Anthropic forms (the upstream's OpenAI answers against the
client's Anthropic ones)."""

from __future__ import annotations

import json
from typing import Any

from conformance.checks.gateway import short, upstream_record
from conformance.checks.gateway_stream import client_events
from conformance.engine import Context, Skip, check, fail, warn
from conformance.gateway.link import Sent, control, link, probe, translating_only
from conformance.gateway.records import Record
from conformance.probes import call_tool_text

# OpenAI finish_reason -> the Anthropic stop_reason a translating gateway must map it to
FINISH_TO_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def tool_probe(ctx: Context) -> tuple[Sent, Any]:
    spec = ctx.probes.tool("gateway-translate")

    def build(nonce_token: str):
        body = {"model": ctx.target.model, "max_tokens": 256, "tools": [spec.tool],
                "tool_choice": ctx.probes.tool_choice(spec),
                "messages": [{"role": "user", "content": call_tool_text(spec) + "\n" + nonce_token}]}
        return ctx.request(body)

    return link(ctx).send(ctx, "translate-tool", build), spec


def answered(ctx: Context, sent: Sent, what: str) -> Record:
    record, findings = upstream_record(ctx, sent, what)
    if record is None:
        raise Skip(f"not judged: {findings[0].got}")
    return sent.last


def stream_control(ctx: Context) -> Sent:
    """A plain stream through the gateway: the control that says whether the gateway streams at all."""
    sent = probe(ctx, "translate-stream", stream=True, max_tokens=64)
    answered(ctx, sent, "a plain stream probe")
    ex = sent.exchange
    if ex.status != 200 or "event-stream" not in (ex.headers.get("content-type") or ""):
        raise Skip(f"not judged: the gateway answers a plain stream request with HTTP {ex.status} "
                   f"{ex.headers.get('content-type') or 'no content-type'}, not a 200 event stream")
    return sent


def openai_chunks(record: Record) -> list[Any]:
    """The JSON data of the upstream's streamed chunks (without `[DONE]`)."""
    out = []
    for _, _, data in record.events():
        if data.strip() == "[DONE]":
            continue
        try:
            out.append(json.loads(data))
        except ValueError:
            continue
    return out


def upstream_completion(record: Record) -> dict[str, Any]:
    """The upstream's chat.completion: its JSON answer, or its streamed chunks put together (a gateway may stream
    from the upstream while it answers its client in one piece)."""
    if isinstance(record.response_json, dict):
        return record.response_json
    chunks = [c for c in openai_chunks(record) if isinstance(c, dict)]
    if not chunks:
        return {}
    text, finish, usage, calls = "", None, None, {}
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {} if isinstance(choice, dict) else {}
            text += delta.get("content") or ""
            finish = choice.get("finish_reason") or finish
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                               "function": {"name": "", "arguments": ""}})
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function") or {}
                slot["function"]["name"] += function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [calls[key] for key in sorted(calls)]
    out: dict[str, Any] = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def upstream_choice(record: Record) -> dict[str, Any]:
    choices = upstream_completion(record).get("choices") or [{}]
    return choices[0] if isinstance(choices[0], dict) else {}


@check("gateway/translate-finish-reason", rule="GW-TR-FINISH", tier="cheap", params=tuple(FINISH_TO_STOP))
def finish_reason(ctx: Context, reason: str):
    """The upstream's finish_reason becomes the Anthropic stop_reason (stop, tool_calls, length)."""
    translating_only(ctx)
    if reason == "stop":
        sent = control(ctx)
    elif reason == "tool_calls":
        sent = tool_probe(ctx)[0]
    else:
        sent = probe(ctx, "translate-length", "length")
    record = answered(ctx, sent, f"a probe the upstream ends with {reason}")
    if upstream_choice(record).get("finish_reason") != reason:
        raise Skip(f"not judged: the upstream ended with {upstream_choice(record).get('finish_reason')!r}")
    body = sent.exchange.json if isinstance(sent.exchange.json, dict) else {}
    if sent.exchange.status != 200 or body.get("type") != "message":
        return [fail(f"HTTP 200 message with stop_reason {FINISH_TO_STOP[reason]} (the upstream "
                     f"answered 200, finish_reason {reason})", f"HTTP {sent.exchange.status} "
                     f"{short(sent.exchange.body.decode('utf-8', 'replace'))}", "response")]
    if body.get("stop_reason") != FINISH_TO_STOP[reason]:
        return [fail(f"stop_reason {FINISH_TO_STOP[reason]} (upstream finish_reason {reason})",
                     repr(body.get("stop_reason")), f"HTTP {sent.exchange.status} message")]
    return []


@check("gateway/translate-tool-ids", rule="GW-TR-TOOL-IDS", tier="cheap")
def tool_ids(ctx: Context):
    """A tool call comes back as tool_use (name and input kept), and its id maps back to the upstream's call id."""
    translating_only(ctx)
    sent, spec = tool_probe(ctx)
    record = answered(ctx, sent, "a tool probe")
    calls = (upstream_choice(record).get("message") or {}).get("tool_calls") or []
    if not calls:
        raise Skip("not judged: the upstream made no tool call")
    call = calls[0]
    body = sent.exchange.json if isinstance(sent.exchange.json, dict) else {}
    uses = [b for b in body.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_use"]
    if not uses:
        return [fail(f"a tool_use block for the upstream's call {call['id']}",
                     short(body.get("content")), "message content")]
    use = uses[0]
    arguments = json.loads(call["function"]["arguments"])
    if use.get("name") != call["function"]["name"] or use.get("input") != arguments:
        return [fail(f"tool_use {call['function']['name']} {short(arguments)}",
                     f"tool_use {use.get('name')} {short(use.get('input'))}", "message content[0]")]

    def build(nonce_token: str):
        messages = [{"role": "user", "content": call_tool_text(spec)},
                    {"role": "assistant", "content": body["content"]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.get("id"),
                                                  "content": "done " + nonce_token}]}]
        return ctx.request({"model": ctx.target.model, "max_tokens": 64, "tools": [spec.tool], "messages": messages})

    second = link(ctx).send(ctx, "translate-tool-result", build)
    back, findings = upstream_record(ctx, second, "the tool result")
    if back is None:
        return findings
    upstream_messages = (back.json or {}).get("messages") or []
    results = [m for m in upstream_messages if isinstance(m, dict) and m.get("role") == "tool"]
    got = results[0].get("tool_call_id") if results else None
    if got != call["id"]:
        return [fail(f"tool_call_id {call['id']} (the upstream's own id) in the tool message",
                     repr(got) if results else "no role: tool message", "upstream request messages")]
    return []


@check("gateway/translate-usage", rule="GW-TR-USAGE", tier="cheap", params=("json", "stream"))
def usage(ctx: Context, mode: str):
    """prompt_tokens and completion_tokens become input_tokens and output_tokens (a message, and a stream's
    message_start / message_delta usage when the gateway asked the upstream for stream usage)."""
    translating_only(ctx)
    if mode == "json":
        sent = control(ctx)
        record = answered(ctx, sent, "a plain probe")
        upstream = upstream_completion(record).get("usage")
        if not isinstance(upstream, dict):
            raise Skip("not judged: the upstream's answer carried no usage")
        body = sent.exchange.json if isinstance(sent.exchange.json, dict) else {}
        if sent.exchange.status != 200 or body.get("type") != "message":
            return [fail("HTTP 200 message with usage", f"HTTP {sent.exchange.status} "
                         f"{short(sent.exchange.body.decode('utf-8', 'replace'))}", "response")]
        client = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        wanted = {"input_tokens": upstream.get("prompt_tokens"), "output_tokens": upstream.get("completion_tokens")}
        got = {key: client.get(key) for key in wanted}
        if got != wanted:
            return [fail(short(wanted), short(got), "message usage")]
        return []
    sent = stream_control(ctx)
    record = sent.last
    upstream = upstream_completion(record).get("usage")
    if not isinstance(upstream, dict):
        options = (record.json or {}).get("stream_options") if isinstance(record.json, dict) else None
        if not (isinstance(options, dict) and options.get("include_usage")):
            return [warn("stream_options.include_usage in the upstream request (OpenAI streams carry "
                         "usage only when asked), so that the stream's usage is the upstream's",
                         f"stream_options: {short(options) if options is not None else 'missing'}",
                         "upstream request body")]
        raise Skip("not judged: the upstream's stream carried no usage")
    events = client_events(sent)
    start = next((d for n, d in events if isinstance(d, dict) and d.get("type") == "message_start"), {})
    delta = [d for n, d in events if isinstance(d, dict) and d.get("type") == "message_delta"]
    first = ((start.get("message") or {}).get("usage") or {}) if isinstance(start, dict) else {}
    last = (delta[-1].get("usage") or {}) if delta else {}
    findings = []
    if last.get("output_tokens") != upstream.get("completion_tokens"):
        findings.append(fail(f"output_tokens {upstream.get('completion_tokens')} (completion_tokens)",
                             f"output_tokens {last.get('output_tokens')!r}" if delta else "no message_delta",
                             "stream message_delta usage"))
    input_tokens = last["input_tokens"] if "input_tokens" in last else first.get("input_tokens")
    if input_tokens != upstream.get("prompt_tokens"):
        findings.append(fail(f"input_tokens {upstream.get('prompt_tokens')} (prompt_tokens)",
                             f"input_tokens {input_tokens!r}", "stream message_delta (or message_start) usage"))
    return findings


@check("gateway/translate-rate-limit", rule="GW-TR-RATE-LIMIT", tier="cheap")
def rate_limit(ctx: Context):
    """The upstream's 429 becomes a 429 rate_limit_error carrying the upstream's retry-after."""
    translating_only(ctx)
    sent = probe(ctx, "translate-429", "rate-limit")
    record = answered(ctx, sent, "a probe the upstream answers 429")
    ex = sent.exchange
    error = (ex.json or {}).get("error") if isinstance(ex.json, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    findings = []
    if ex.status != 429 or kind != "rate_limit_error":
        findings.append(fail("HTTP 429 rate_limit_error", f"HTTP {ex.status} {kind!r}",
                             "response"))
    wanted = record.response_header("retry-after")
    if ex.headers.get("retry-after") != wanted:
        findings.append(fail(f"retry-after: {wanted}",
                             ex.headers.get("retry-after") or "no retry-after", "response headers"))
    return findings


@check("gateway/translate-stream-error", rule="GW-TR-STREAM-ERROR", tier="cheap")
def stream_error(ctx: Context):
    """An upstream stream error becomes an Anthropic `error` event, with no `data: [DONE]` after it."""
    translating_only(ctx)
    stream_control(ctx)  # a gateway that does not stream at all is not judged on how its streams end
    sent = probe(ctx, "translate-stream-error", "stream-error", stream=True, max_tokens=64)
    answered(ctx, sent, "a stream the upstream cuts with an error")
    record = sent.last
    cut = any(isinstance(c, dict) and "error" in c for c in openai_chunks(record))
    if record.status != 200 or not cut:
        raise Skip(f"not judged: the upstream did not cut a stream with an error chunk (HTTP {record.status}; the "
                   f"gateway asked for {'a stream' if (record.json or {}).get('stream') is True else 'no stream'})")
    if sent.exchange.status != 200:
        return [fail("HTTP 200 stream ending in an error event (the upstream's stream had "
                     "begun)", f"HTTP {sent.exchange.status}", "response status")]
    names = [name or (data.get("type") if isinstance(data, dict) else None) for name, data in client_events(sent)
             if data != "[DONE]"]
    findings = []
    if "error" not in names:
        findings.append(fail("an `error` event after the upstream's stream error",
                             ", ".join(str(n) for n in names[-4:]) or "no events", "client stream"))
    elif names[-1] != "error":
        findings.append(fail("nothing after the `error` event",
                             ", ".join(str(n) for n in names[names.index('error'):]), "client stream"))
    if b"[DONE]" in sent.exchange.body:
        findings.append(fail("no data: [DONE] (an Anthropic stream has none)",
                             "data: [DONE]", "client stream"))
    return findings
