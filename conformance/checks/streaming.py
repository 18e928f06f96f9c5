"""Checks of the raw SSE stream: framing, event order, deltas, usage, stop, and the accumulated result."""

from __future__ import annotations

import json

from conformance import schemas
from conformance.checks.common import (
    contains_words,
    controlled_miss,
    expect_ok,
    media_type_findings,
    missing_call,
    model_gated,
    short,
)
from conformance.engine import Blocked, Context, Skip, check, fail, finding, strict, warn
from conformance.sse import event_where
from conformance.verdicts import Finding, Verdict
from conformance.vocabulary import KNOWN_EVENTS
from conformance.wire import Exchange

PROBE = "text-stream"
TOOL_PROBE = "tool-stream"
LONG_MAX_TOKENS = 256  # room for the 80 nonce words of the long stream (the expensive tier's budget counts it)
# The check that reports a shared stream probe answered with no 200; every other check of that stream is skipped.
OWNERS = {PROBE: "streaming/content-type", TOOL_PROBE: "streaming/tool-input", "long-stream": "streaming/long-text"}


def stream_exchange(ctx: Context, name: str = PROBE) -> Exchange:
    if name == TOOL_PROBE:
        return ctx.exchange(name, lambda: ctx.request(ctx.probes.tool_body(TOOL_PROBE, stream=True)))
    if name == "long-stream":
        words = ctx.probes.long_words()
        return ctx.exchange(name, lambda: ctx.request({
            "model": ctx.target.model, "max_tokens": LONG_MAX_TOKENS, "stream": True,
            "messages": [{"role": "user", "content": "Reply with exactly: " + " ".join(words)}]}))
    return ctx.exchange(name, lambda: ctx.request(ctx.probes.text_body(name, stream=True)))


def stream_ok(ctx: Context, ex: Exchange, *, rule: str = "") -> list[Finding]:
    """Findings unless the stream probe `ex` is a 2xx: its owner check reports them, the others are skipped. When
    the plain text stream was refused the same way, every stream was: streaming/content-type reports that once."""
    name = ex.name.split("#")[0]
    findings = expect_ok(ex, rule=rule)
    owner = OWNERS.get(name, ctx.check.id)
    if findings and name != PROBE:
        text = stream_exchange(ctx)
        if not text.error and not text.ok and text.status == ex.status:
            owner = OWNERS[PROBE]
    return ctx.needs(findings, owner, f"no 200 stream of the {name!r} probe")


def streamed_message(ctx: Context, ex: Exchange, *, rule: str = "") -> tuple[dict | None, list[Finding]]:
    """The message accumulated from the 200 stream `ex`. A stream without message_start accumulates none: when the
    text stream lacks one too, streaming/message-start-first reports it and this check is skipped; otherwise it is
    this check's own finding."""
    message = ex.stream.message
    if message is not None:
        return message, []
    text = stream_exchange(ctx)
    if text.ok and text.stream.message is None:
        raise Blocked("streaming/message-start-first", f"the {ex.name.split('#')[0]!r} stream has no message_start, "
                      "so no message accumulates; streaming/message-start-first reports it")
    return None, [fail("a message_start, from which the streamed message accumulates", "no message_start",
                       ex.name.split("#")[0], rule=rule)]


def violations(ctx: Context, name: str = PROBE, *, rule: str = "") -> list[Finding]:
    """The state machine's violations of `rule` on the stream `name`, as findings: a failure, or for a deviation the
    official clients read past, a strict failure and a compat warning (`rule`: the running check's by default)."""
    rule = rule or ctx.check.rule
    ex = stream_exchange(ctx, name)
    findings = stream_ok(ctx, ex, rule=rule)
    if findings:
        return findings
    validator = ex.stream
    out = []
    for v, verdict in [*((v, fail) for v in validator.violations_for(rule)),
                       *((v, strict) for v in validator.deviations_for(rule))]:
        out.append(verdict(v.expected, v.got, v.where, rule=rule))
    return out


def _register_order_check(check_id: str, rule: str, summary: str, name: str = PROBE) -> None:
    def run(ctx: Context):
        return violations(ctx, name)

    run.__doc__ = summary
    check(check_id, rule=rule, tier="cheap")(run)


for _id, _rule, _summary in [
    ("streaming/named-events", "SSE-EVENT-FIELD", "Every SSE event has an event: line."),
    ("streaming/event-name-matches-type", "SSE-EVENT-TYPE-MATCH", "event: names equal the data's type."),
    ("streaming/data-is-json", "SSE-DATA-JSON", "Every data: is a JSON object with a type; no [DONE]."),
    ("streaming/framing", "SSE-FRAMING", "The body decodes as UTF-8 SSE and ends on an event boundary."),
    ("streaming/message-start-first", "STREAM-START", "One message_start, and it is the first event."),
    ("streaming/message-start-shape", "STREAM-START-SHAPE", "message_start has empty content, null stop_reason, usage."),
    ("streaming/block-sequence", "STREAM-BLOCK-ORDER", "Blocks start densely from 0, one open at a time."),
    ("streaming/delta-matches-block", "STREAM-DELTA-TYPE", "Each delta type matches its block type."),
    ("streaming/message-delta-usage", "STREAM-DELTA-USAGE", "message_delta carries cumulative usage.output_tokens."),
    ("streaming/final-stop-reason", "STREAM-STOP-REASON", "The last message_delta has a valid stop_reason."),
    ("streaming/message-stop-last", "STREAM-STOP-LAST", "One message_stop, and it is last."),
]:
    _register_order_check(_id, _rule, _summary)


@check("streaming/content-type", rule="SSE-CONTENT-TYPE", tier="cheap")
def content_type(ctx: Context):
    """A stream is served as text/event-stream."""
    ex = stream_exchange(ctx)
    return stream_ok(ctx, ex) or media_type_findings(ex, "text/event-stream")


@check("streaming/event-schema", rule="STREAM-EVENT-SCHEMA", tier="cheap")
def event_schema(ctx: Context):
    """Every event's data validates against its SDK-derived schema."""
    ex = stream_exchange(ctx)
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    out = []
    for event, data in ex.stream.events:
        if data is None or data.get("type") not in KNOWN_EVENTS:
            continue  # framing and unknown events are other checks' business
        for err in schemas.validate("stream-event", data):
            out.append(fail(f"a valid {data.get('type')} event", err.message,
                            event_where(event.index, err.path)))
    return out[:20]


@check("streaming/unknown-events", rule="STREAM-UNKNOWN-EVENT", tier="cheap")
def unknown_events(ctx: Context):
    """Event types outside the documented set are reported as warnings, never failures."""
    ex = stream_exchange(ctx)
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    return [warn(v.expected, v.got, v.where)
            for v in ex.stream.warnings]


def accumulated_text_finding(ctx: Context, name: str, words: list[str], *, rule: str = "") -> list[Finding]:
    def accept(ex: Exchange) -> bool:
        return ex.ok and contains_words(ex.stream.text, words)

    build = {PROBE: lambda: ctx.request(ctx.probes.text_body(PROBE, stream=True))}.get(name)
    if build is None:
        first, accepted = stream_exchange(ctx, name), None
        accepted = first if accept(first) else None
    else:
        first, accepted = ctx.content_exchange(name, build, accept)
    findings = stream_ok(ctx, first, rule=rule)
    if findings:
        return findings
    if accepted is None:
        got = first.stream.text
        return [controlled_miss(ctx, f"accumulated text containing {' '.join(words)[:120]!r}",
                                f"{short(got, 160)} ({len(got.split())} words)", "text_delta accumulation", words,
                                "streamed", reply=first.stream.message, attempts=None if build else 1, rule=rule)]
    return []


@check("streaming/follows-directive", rule="STREAM-DIRECTIVE", tier="cheap")
def follows_directive(ctx: Context):
    """The text accumulated from the deltas is the reply the user asked for."""
    return accumulated_text_finding(ctx, PROBE, ctx.probes.text_words(PROBE))


@check("streaming/long-text", rule="STREAM-LONG", tier="expensive")
def long_text(ctx: Context):
    """A 120-word streamed reply arrives whole, with a clean event sequence."""
    ex = stream_exchange(ctx, "long-stream")
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    out = [fail(v.expected, v.got, f"{v.where} [{v.rule}]")
           for v in ex.stream.violations]
    return out + accumulated_text_finding(ctx, "long-stream", ctx.probes.long_words())


@check("streaming/tool-input", rule="STREAM-TOOL-INPUT", tier="cheap")
def tool_input(ctx: Context):
    """A streamed directed tool call (forced where the model takes that): partial_json strings concatenate to the
    directed input; stop_reason tool_use."""
    ex = stream_exchange(ctx, TOOL_PROBE)
    model_gated(ex, "forced tool use")
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    validator = ex.stream
    message, findings = streamed_message(ctx, ex)
    if message is None:
        return findings
    out = [fail(v.expected, v.got, f"{v.where} [{v.rule}]")
           for v in validator.violations_for("STREAM-TOOL-JSON")]
    spec = ctx.probes.tool(TOOL_PROBE)
    content = message.get("content") if isinstance(message.get("content"), list) else []
    blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
    match = [b for b in blocks if b.get("name") == spec.name]
    if not match:
        kinds = [b.get("type") for b in content if isinstance(b, dict)]
        out.append(missing_call(ctx, spec.name, f"blocks: {short(kinds)}", "accumulated message"))
    elif match[0].get("input") != spec.arguments:
        got = match[0].get("input")
        out.append(finding(Verdict.FAIL, f"input {spec.arguments}", short(got),
                           "accumulated partial_json") if not isinstance(got, dict) else tool_input_miss(ctx, got))
    if (blocks or ctx.probes.forced) and validator.stop_reasons and validator.stop_reasons[-1] != "tool_use":
        out.append(fail("final stop_reason tool_use", short(validator.stop_reasons[-1]),
                        "message_delta $.delta.stop_reason"))
    return out


def tool_input_miss(ctx: Context, got: dict) -> Finding:
    """A streamed call whose input differs from the one asked for, judged against a control: the same request not
    streamed. Its input right on every attempt: the stream (the layer's partial_json) lost it, a failure. Wrong there
    too: the model's, a warning."""
    spec = ctx.probes.tool(TOOL_PROBE)

    def right(ex: Exchange) -> bool:
        calls = [b for b in (ex.json or {}).get("content", []) if isinstance(b, dict) and b.get("type") == "tool_use"
                 and b.get("name") == spec.name] if ex.ok and isinstance(ex.json, dict) else []
        return bool(calls) and calls[0].get("input") == spec.arguments

    name = "control:" + TOOL_PROBE
    tries = 1 if ctx.target.deterministic else ctx.session.content_attempts
    for attempt in range(2, tries + 1):  # the stream again, as often as the control must be right
        again = ctx.exchange(f"{TOOL_PROBE}#retry{attempt}",
                             lambda: ctx.request(ctx.probes.tool_body(TOOL_PROBE, stream=True)))
        content = ((again.stream.message or {}).get("content") or []) if again.ok else []
        calls = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") == spec.name]
        if calls and calls[0].get("input") == spec.arguments:
            return warn(f"input {spec.arguments}", f"{short(got)} (another attempt streamed the "
                        f"input asked for, exchange {again.name!r}: the model's miss)", "accumulated partial_json")
    controls = [ctx.exchange(name if n == 1 else f"{name}#retry{n}", lambda: ctx.request(ctx.probes.tool_body(TOOL_PROBE)))
                for n in range(1, tries + 1)]
    good = controls[-1] if all(right(c) for c in controls) else None
    if good is not None:
        return fail(f"input {spec.arguments}", f"{short(got)} (the same request not streamed "
                    f"gave the input asked for, exchange {good.name!r}: the stream lost it)", "accumulated partial_json")
    return warn(f"input {spec.arguments}", f"{short(got)} (the same request not streamed missed "
                f"it too, exchange {name!r}: the model's miss, not the layer's)", "accumulated partial_json")


@check("streaming/error-event-shape", rule="STREAM-ERROR-EVENT", tier="cheap")
def error_event_shape(ctx: Context):
    """A mid-stream error is an `event: error` with the Anthropic envelope, and it ends the stream."""
    streams = [stream_exchange(ctx, name) for name in (PROBE, TOOL_PROBE)]
    seen = [ex for ex in streams if ex.ok and any(
        (data or {}).get("type") == "error" or event.event == "error" for event, data in ex.stream.events)]
    if not seen:
        raise Skip("no mid-stream error event was observed, so there is nothing to judge")
    return [fail(v.expected, v.got, f"{ex.name} {v.where}")
            for ex in seen for v in ex.stream.violations_for(ctx.check.rule)]


def _stopped_stream(ctx: Context, key: str, expected_reason: str,
                    request: dict, *, rule: str = "") -> tuple[Exchange, list[Finding]]:
    ex = ctx.exchange(key, lambda: ctx.request({**request, "stream": True}))
    findings = stream_ok(ctx, ex, rule=rule)
    if findings:
        return ex, findings
    reasons = ex.stream.stop_reasons
    if not reasons or reasons[-1] != expected_reason:
        return ex, [fail(f"final stop_reason {expected_reason}", short(reasons[-1] if reasons else None),
                         "message_delta $.delta.stop_reason", rule=rule)]
    return ex, []


@check("streaming/stop-sequence", rule="STREAM-STOP-SEQUENCE", tier="cheap")
def stream_stop_sequence(ctx: Context):
    """A streamed reply cut by a stop sequence ends with stop_reason stop_sequence and that stop_sequence."""
    before, seq, after = ctx.probes.stop_words()
    request = {"model": ctx.target.model, "max_tokens": 64, "stop_sequences": [seq],
               "messages": [{"role": "user", "content": "Reply with exactly: " + " ".join(before + [seq] + after)}]}
    ex, out = _stopped_stream(ctx, "stop-sequence-stream", "stop_sequence", request)
    if out and ex.ok and ex.stream.stop_reasons[-1:] == ["end_turn"] and seq not in ex.stream.text:
        # the model never produced the stop sequence: a content miss, not a wrong stop_reason
        return [Finding(ctx.content_verdict(), f.rule, f.expected, f.got, f.where) for f in out]
    if out:
        return out
    deltas = [data for _, data in ex.stream.events if (data or {}).get("type") == "message_delta"]
    got = (deltas[-1].get("delta") or {}).get("stop_sequence") if deltas else None
    if got != seq:
        return [fail(f"message_delta stop_sequence {short(seq)}", short(got),
                     "message_delta $.delta.stop_sequence")]
    return []


@check("streaming/max-tokens", rule="STREAM-MAX-TOKENS", tier="cheap")
def stream_max_tokens(ctx: Context):
    """A streamed reply that reaches max_tokens ends with stop_reason max_tokens."""
    request = {"model": ctx.target.model, "max_tokens": 5, "messages": [
        {"role": "user", "content": "Reply with exactly: " + " ".join(ctx.probes.max_tokens_words())}]}
    ex, findings = _stopped_stream(ctx, "max-tokens-stream", "max_tokens", request)
    used = ex.stream.output_tokens[-1] if findings and ex.ok and ex.stream.output_tokens else None
    if isinstance(used, int) and used < request["max_tokens"]:  # the model ended before the limit: nothing to stop
        return [warn(f.expected, f"{f.got} after {used} output tokens (under max_tokens 5: the reply ended "
                     "on its own)", f.where, rule=f.rule) for f in findings]
    return findings


def start_usage(ctx: Context, *, rule: str = "") -> tuple[object, list[Finding]]:
    """The usage object of the text stream's message_start (None when absent), or why there is no stream."""
    ex = stream_exchange(ctx)
    findings = stream_ok(ctx, ex, rule=rule)
    if findings:
        return None, findings
    start = next((data for _, data in ex.stream.events if (data or {}).get("type") == "message_start"), None)
    if start is None:
        raise Blocked("streaming/message-start-first", "no message_start to read usage from; "
                      "streaming/message-start-first reports it")
    message = (start or {}).get("message")
    return (message.get("usage") if isinstance(message, dict) else None), []


@check("streaming/input-tokens", rule="STREAM-INPUT-TOKENS", tier="cheap")
def stream_input_tokens(ctx: Context):
    """message_start reports usage.input_tokens > 0 for a non-empty prompt (clients bill from it)."""
    usage, findings = start_usage(ctx)
    if findings:
        return findings
    value = usage.get("input_tokens") if isinstance(usage, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return [fail("an integer > 0", short(value), "message_start $.message.usage.input_tokens")]
    return []


@check("streaming/cache-usage-fields", rule="STREAM-CACHE-USAGE", tier="cheap")
def cache_usage_fields(ctx: Context):
    """message_start usage carries cache_creation_input_tokens and cache_read_input_tokens as integers."""
    usage, findings = start_usage(ctx)
    if findings:
        return findings
    if not isinstance(usage, dict):
        raise Blocked("streaming/message-start-shape",
                      "message_start has no usage object; streaming/message-start-shape reports it")
    return [fail("an integer >= 0 (Claude Code reads it)",
                 short(usage.get(key)) if key in usage else "missing", f"message_start $.message.usage.{key}")
            for key in ("cache_creation_input_tokens", "cache_read_input_tokens")
            if not isinstance(usage.get(key), int) or isinstance(usage.get(key), bool) or usage[key] < 0]


@check("streaming/parallel-tools", rule="STREAM-PARALLEL-TOOLS", tier="cheap", feature="parallel-tool-use")
def parallel_tools(ctx: Context):
    """Two streamed tool calls come as two well-ordered tool_use blocks with their inputs."""
    specs = [ctx.probes.tool(f"stream-parallel.{i}") for i in range(2)]
    text = "\n".join(f"Call the tool {s.name} with input {json.dumps(s.arguments)}" for s in specs)
    request = {"model": ctx.target.model, "max_tokens": 256, "stream": True, "tools": [s.tool for s in specs],
               "messages": [{"role": "user", "content": text}]}

    def ok(ex):
        blocks = (ex.stream.message or {}).get("content", []) if ex.ok else []
        return {b.get("name") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"} >= {
            s.name for s in specs}

    first, good = ctx.content_exchange("parallel-stream", lambda: ctx.request(request), ok)
    findings = stream_ok(ctx, first)
    if findings:
        return findings
    validator = first.stream
    if streamed_message(ctx, first)[1]:
        return streamed_message(ctx, first)[1]
    out = [fail(v.expected, v.got, f"{v.where} [{v.rule}]")
           for v in validator.violations_for("STREAM-BLOCK-ORDER", "STREAM-DELTA-TYPE", "STREAM-TOOL-JSON")]
    if good is None and not out:
        blocks = (validator.message or {}).get("content", [])
        out.append(finding(ctx.content_verdict(), "two tool_use blocks, one per tool",
                           short([b.get("name") or b.get("type") for b in blocks if isinstance(b, dict)])))
    return out


@check("streaming/has-ping", rule="STREAM-PING", tier="cheap")
def has_ping(ctx: Context):
    """A stream carries ping events, as the real API's do (proxies and idle timers count on them)."""
    streams = [stream_exchange(ctx, name) for name in (PROBE, TOOL_PROBE)]
    if not any(ex.ok for ex in streams):
        return stream_ok(ctx, streams[0])
    judged = [ex for ex in streams if ex.ok and any((data or {}).get("type") == "message_start"
                                                    for _, data in ex.stream.events)]
    if not judged:  # an error event alone (the API's overload answer) has nothing to keep alive
        raise Blocked("streaming/message-start-first", "no stream began with message_start; "
                      "streaming/message-start-first reports why")
    if any((data or {}).get("type") == "ping" or event.event == "ping"
           for ex in judged for event, data in ex.stream.events):
        return []
    counts = ", ".join(f"{ex.name}: {len(ex.stream.events)} events" for ex in judged)
    return [warn("at least one ping event (the real API sends one early in every stream)",
                 f"no ping in {len(judged)} stream{'s' if len(judged) != 1 else ''} ({counts})")]


@check("streaming/idle-gaps", rule="STREAM-KEEPALIVE", tier="expensive")
def idle_gaps(ctx: Context):
    """A long stream never goes silent for long (the API sends pings; proxies cut idle streams)."""
    ex = stream_exchange(ctx, "long-stream")
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    limit = ctx.session.idle_gap_limit
    if ex.longest_silence > limit:
        return [warn(f"no silence longer than {limit:g} s between stream chunks",
                     f"{ex.longest_silence:.1f} s without a byte", "long stream")]
    return []
