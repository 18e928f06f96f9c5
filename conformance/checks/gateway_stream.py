"""Gateway mode, streams: every SSE event passed back unchanged, pings over the upstream's pause, no buffering, a
mid-stream error, stop reasons and a very long stream (the upstream's events against the client's)."""

from __future__ import annotations

import json
from typing import Any

from conformance.checks.gateway import PAUSE_MS, short, upstream_record
from conformance.engine import Context, Skip, check, fail
from conformance.gateway.link import Sent, pass_through_only, probe
from conformance.gateway.records import Record
from conformance.gateway.upstream import LONG_WORDS
from conformance.sse import SSEDecoder
from conformance.verdicts import Finding


def parsed(name: str | None, data: str) -> tuple[str | None, Any]:
    try:
        return name, json.loads(data)
    except ValueError:
        return name, data


def client_events(sent: Sent) -> list[tuple[str | None, Any]]:
    decoder = SSEDecoder()
    events = decoder.feed(sent.exchange.body) + decoder.close()
    return [parsed(item.event, item.data) for item in events]


def upstream_events(record: Record) -> list[tuple[str | None, Any]]:
    return [parsed(name, data) for _, name, data in record.events()]


def is_ping(event: tuple[str | None, Any]) -> bool:
    return event[0] == "ping" or (isinstance(event[1], dict) and event[1].get("type") == "ping")


def stream_probe(ctx: Context, name: str, directive: str = "", max_tokens: int = 64) -> tuple[Sent, Record]:
    pass_through_only(ctx)
    sent = probe(ctx, name, directive, stream=True, max_tokens=max_tokens)
    record, findings = upstream_record(ctx, sent, "a stream probe")
    if record is None:
        raise Skip(f"not judged: {findings[0].got}")
    record = sent.last
    if record.status != 200 or "event-stream" not in (record.response_header("content-type") or ""):
        raise Skip(f"not judged: the upstream answered HTTP {record.status} (no stream to pass back)")
    if sent.exchange.status != 200:
        raise Skip(f"not judged: the gateway answered HTTP {sent.exchange.status} to a stream the upstream sent")
    return sent, record


def same_events(upstream: list, client: list) -> list[Finding]:
    """The client's events, pings aside (a gateway may add keep-alives), equal the upstream's: names, order, JSON."""
    ours = [e for e in upstream if not is_ping(e)]
    theirs = [e for e in client if not is_ping(e)]
    for index, (want, got) in enumerate(zip(ours, theirs, strict=False)):
        if want != got:
            return [fail(f"{want[0]} {short(want[1])}", f"{got[0]} {short(got[1])}",
                         f"event #{index} (pings aside)")]
    if len(ours) != len(theirs):
        extra = theirs[len(ours):] or ours[len(theirs):]
        return [fail(f"{len(ours)} events (pings aside), as the upstream sent",
                     f"{len(theirs)} events", f"from event #{min(len(ours), len(theirs))}: {extra[0][0]}")]
    return []


@check("gateway/sse-events", rule="GW-BACK-SSE-EVENTS", tier="cheap")
def sse_events(ctx: Context):
    """Every SSE event of the upstream's stream reaches the client unchanged: name, order and JSON data."""
    sent, record = stream_probe(ctx, "stream")
    return same_events(upstream_events(record), client_events(sent))


@check("gateway/pings", rule="GW-BACK-PINGS", tier="cheap")
def pings(ctx: Context):
    """The pings the upstream sends over a pause mid-stream reach the client (idle connections stay alive)."""
    sent, record = stream_probe(ctx, "pause", f"pause-{PAUSE_MS}")
    wanted = sum(1 for e in upstream_events(record) if is_ping(e))
    got = sum(1 for e in client_events(sent) if is_ping(e))
    if got < wanted:
        return [fail(f"{wanted} ping events, as the upstream sent ({wanted - 1} of them over a "
                     f"{PAUSE_MS / 1000:g} s pause)", f"{got} ping events", "client stream")]
    return []


@check("gateway/not-buffered", rule="GW-BACK-NOT-BUFFERED", tier="cheap")
def not_buffered(ctx: Context):
    """The stream is streamed: the events before the upstream's pause reach the client before the pause ends."""
    sent, record = stream_probe(ctx, "pause", f"pause-{PAUSE_MS}")
    times = [at for at, _ in record.chunks]
    upstream_spread = times[-1] - times[0] if len(times) > 1 else 0.0
    pause = PAUSE_MS / 1000
    if upstream_spread < 0.9 * pause:
        raise Skip(f"not judged: the upstream's stream took {upstream_spread:.2f} s, not its {pause:g} s pause")
    chunks = sent.exchange.chunk_times
    spread = chunks[-1] - chunks[0] if len(chunks) > 1 else 0.0
    if spread < 0.5 * pause:
        return [fail(f"the first events at once, the rest {pause:g} s later (the upstream "
                     "paused mid-stream)", f"the whole stream within {spread:.2f} s, {chunks[0]:.2f} s after the "
                     "response headers: buffered", "client stream timing")]
    return []


@check("gateway/stream-error", rule="GW-BACK-STREAM-ERROR", tier="cheap")
def stream_error(ctx: Context):
    """An `error` event the upstream sends mid-stream reaches the client unchanged, and nothing follows it."""
    sent, record = stream_probe(ctx, "stream-error", "stream-error")
    events = client_events(sent)
    findings = same_events(upstream_events(record), events)
    if b"[DONE]" in sent.exchange.body:
        findings.append(fail("no data: [DONE] (an Anthropic stream has none)",
                             "data: [DONE] after the error", "client stream"))
    return findings


def stop_reason_of(events: list) -> Any:
    for name, data in events:
        if name == "message_delta" and isinstance(data, dict):
            return (data.get("delta") or {}).get("stop_reason")
    return None


@check("gateway/stop-reason", rule="GW-BACK-STOP-REASON", tier="cheap", params=("refusal", "pause_turn"))
def stop_reason(ctx: Context, reason: str):
    """The upstream's refusal and pause_turn stop reasons reach the client unchanged (streamed and not)."""
    directive = reason.replace("_", "-")
    sent, record = stream_probe(ctx, "stop-" + directive, directive)
    findings = []
    got = stop_reason_of(client_events(sent))
    if got != reason:
        findings.append(fail(f"stop_reason {reason}", repr(got), "stream message_delta"))
    plain = probe(ctx, "stop-json-" + directive, directive)
    if plain.last is not None and plain.last.status == 200 and plain.exchange.status == 200:
        body = plain.exchange.json if isinstance(plain.exchange.json, dict) else {}
        if body.get("stop_reason") != reason:
            findings.append(fail(f"stop_reason {reason}", repr(body.get("stop_reason")),
                                 "message (not streamed)"))
    return findings


@check("gateway/long-stream", rule="GW-BACK-LONG-STREAM", tier="cheap")
def long_stream(ctx: Context):
    """A very long stream (about a thousand deltas) reaches the client whole and unchanged."""
    # room for the whole stream: a real upstream never answers more output tokens than max_tokens allows
    sent, record = stream_probe(ctx, "long", "long", max_tokens=LONG_WORDS + 64)
    return same_events(upstream_events(record), client_events(sent))
