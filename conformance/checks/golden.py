"""Checks that compare a target's answers with the shapes of documented real-API transcripts (the golden corpus)."""

from __future__ import annotations

import json

from conformance import transcripts
from conformance.checks.bad_requests import bad_request
from conformance.checks.common import merge_text_runs, text_probe
from conformance.checks.streaming import OWNERS, TOOL_PROBE, stream_exchange, stream_ok
from conformance.data import data_dir
from conformance.engine import Context, check, fail, strict
from conformance.verdicts import Finding, Verdict
from conformance.wire import Exchange, WireRequest


def golden(name: str) -> dict:
    return json.loads((data_dir("fixtures") / "transcripts" / f"{name}.json").read_text(encoding="utf-8"))


def golden_shape(name: str) -> dict:
    """The shape of a documented transcript, through the same normalisation as a live exchange."""
    doc = golden(name)
    stream = "sse" in doc
    exchange = Exchange(name=name, request=WireRequest(body=doc.get("request")), url="", status=doc["status"],
                        headers={"content-type": "text/event-stream" if stream else "application/json"},
                        body=doc["sse"].encode() if stream else json.dumps(doc["body"]).encode())
    return transcripts.shape(transcripts.normalise(exchange))


def merged_text_blocks(shape: dict) -> tuple[list[str], list[str]]:
    """Event sequence and block types with consecutive text blocks merged: several text blocks are a legal way to
    say one thing."""
    events, blocks = list(shape.get("events", [])), list(shape.get("blocks", []))
    segment = ["content_block_start", "content_block_delta(text_delta)*", "content_block_stop"]
    out: list[str] = []
    i = 0
    while i < len(events):
        if events[i:i + 3] == segment and out[-3:] == segment:
            i += 3
            continue
        out.append(events[i])
        i += 1
    return out, merge_text_runs(blocks)


THINKING_BLOCKS = ("thinking", "redacted_thinking")


def without_leading_thinking(events: list[str], blocks: list[str]) -> tuple[list[str], list[str]]:
    """Event sequence and block types without a first thinking block: models whose thinking is on by default (their
    row in fixtures/models.json says "on" or "always_on") answer a plain request with one, which the documented basic
    transcripts, from models that do not, lack."""
    if not blocks or blocks[0] not in THINKING_BLOCKS:
        return events, blocks
    if "content_block_start" in events and "content_block_stop" in events:
        start, stop = events.index("content_block_start"), events.index("content_block_stop")
        events = events[:start] + events[stop + 1:]
    return events, blocks[1:]


def shape_findings(ctx: Context, ex: Exchange, name: str, *, sequence: bool, rule: str = "") -> list[Finding]:
    """Differences from the golden transcript: a different event sequence or block types fail; a field the real
    API sends but the target omits is a strict failure the clients survive; extra fields are fine."""
    actual = transcripts.shape(transcripts.normalise(ex, ctx.target))
    expected = golden_shape(name)
    out: list[Finding] = []
    if actual.get("status") != expected.get("status"):
        findings = [fail(f"HTTP {expected.get('status')} as in the golden {name}", f"HTTP {actual.get('status')}",
                         rule=rule)]
        # a shared probe answered with no 200 is reported once, by the check that owns the probe
        if expected.get("status") != 200 or ex.name not in {*OWNERS, "text"}:
            return findings
        if ex.name == "text":
            return ctx.needs(findings, "message/schema", "no 200 answer to the 'text' probe")
        return stream_ok(ctx, ex, rule=rule)
    if sequence:
        (got_events, got_blocks), (want_events, want_blocks) = merged_text_blocks(actual), merged_text_blocks(expected)
        if ctx.target.model_row.thinking_default != "off":  # a model that thinks unasked may start with its thinking
            got_events, got_blocks = without_leading_thinking(got_events, got_blocks)
        if got_events != want_events:
            out.append(fail(f"the event sequence of golden {name}: {' '.join(want_events)}",
                            " ".join(got_events), "event sequence (pings left out, deltas collapsed)", rule=rule))
        if got_blocks != want_blocks:
            out.append(fail(f"content blocks {want_blocks} as in golden {name}", str(got_blocks), "block types", rule=rule))
    for where, paths in expected.get("paths", {}).items():
        if where == "headers" or where not in actual.get("paths", {}):
            continue  # a label the target's answer does not have at all is the sequence's business
        missing = sorted(set(paths) - set(actual["paths"][where]))
        if missing:
            out.append(strict(f"the fields golden {name} has in {where}", f"missing {', '.join(missing[:6])}"
                              + (" ..." if len(missing) > 6 else ""), where, compat=Verdict.PASS, rule=rule))
    return out


@check("golden/message-shape", rule="GOLDEN-SHAPE", tier="cheap")
def message_shape(ctx: Context):
    """A non-streamed text answer has the shape of the documented basic message."""
    return shape_findings(ctx, ctx.use(text_probe(ctx, "text")), "message-text-basic", sequence=True)


@check("golden/stream-shape", rule="GOLDEN-SHAPE", tier="cheap")
def stream_shape(ctx: Context):
    """A streamed text answer has the event sequence and fields of the documented basic stream."""
    return shape_findings(ctx, stream_exchange(ctx), "stream-text-basic", sequence=True)


@check("golden/tool-stream-shape", rule="GOLDEN-SHAPE", tier="cheap")
def tool_stream_shape(ctx: Context):
    """A streamed tool call has the fields of the documented tool-use stream (its text preamble is the model's)."""
    return shape_findings(ctx, stream_exchange(ctx, TOOL_PROBE), "stream-tool-use", sequence=False)


@check("golden/error-shape", rule="GOLDEN-SHAPE", tier="free")
def error_shape(ctx: Context):
    """A 401 has the fields of the documented authentication error."""
    return shape_findings(ctx, bad_request(ctx, "auth-missing"), "error-401-authentication", sequence=False)


@check("golden/models-shape", rule="GOLDEN-SHAPE", tier="free", feature="models")
def models_shape(ctx: Context):
    """GET /v1/models has the fields of the documented models page."""
    from conformance.checks.models import get

    return shape_findings(ctx, get(ctx, "models", "/v1/models"), "models-list", sequence=False)
