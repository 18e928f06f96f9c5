"""Checks that usage numbers are possible: what every real tokenizer guarantees about input and output counts."""

from __future__ import annotations

import json
import math
import re

from conformance.checks.common import expect_ok, message_body, short, text_probe
from conformance.checks.streaming import PROBE as STREAM_PROBE
from conformance.checks.streaming import stream_exchange, stream_ok
from conformance.engine import Blocked, Context, check, fail, strict
from conformance.verdicts import Finding
from conformance.wire import Exchange

# A real tokenizer never packs more than this many characters into one token on average: BPE vocabularies of
# 100k-200k entries average about 4 characters per token on English and 2-4 on random nonce words like the probes'.
# Their longest entries are runs of one repeated character (spaces, "===="), which length() counts once.
MAX_CHARS_PER_TOKEN = 12
# Nor does one need more than one token per UTF-8 byte: a byte-level tokenizer (or one with byte fallback) has a
# token for every byte. SLACK covers the tokens a reply costs beyond its text: the end of the turn, a stop sequence
# that was generated and cut off.
SLACK = 32
SHORT_PROMPT = "Hi"  # the shortest prompt a user sends; a len(text) // 4 estimate makes it 0 tokens
FILLER_WORDS = 300  # words the long prompt has beyond a directive: its input must grow by hundreds of tokens
REPLY_WORDS = 12  # nonce words the long prompt asks for: a reply long enough to bound output_tokens from below
TEXT_STOPS = ("end_turn", "max_tokens", "stop_sequence")  # replies whose every generated token is in their text
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)


def length(text: str) -> int:
    """Characters of `text`, a run of one repeated character counted once (a tokenizer may take a run whole)."""
    return len(_REPEATS.sub(r"\1", text))


def short_exchange(ctx: Context) -> Exchange:
    return ctx.exchange("usage-short", lambda: ctx.request({
        "model": ctx.target.model, "max_tokens": 16, "messages": [{"role": "user", "content": SHORT_PROMPT}]}))


def long_prompt(ctx: Context) -> str:
    filler = " ".join(ctx.session.nonces.words("usage-filler", FILLER_WORDS))
    reply = " ".join(ctx.session.nonces.words("usage-reply", REPLY_WORDS))
    return f"Here is a list of words to ignore: {filler}\nReply with exactly: {reply}"


def long_exchange(ctx: Context) -> Exchange:
    return ctx.exchange("usage-long", lambda: ctx.request({
        "model": ctx.target.model, "max_tokens": 64, "messages": [{"role": "user", "content": long_prompt(ctx)}]}))


def no_usage(ctx: Context, what: str, key: str) -> list[Finding]:
    """An answer without an integer usage.`key`: message/usage reports that when the shared text probe lacks it too
    (this check is skipped, naming it); otherwise it is this check's own finding."""
    text = text_probe(ctx, "text")
    usage = (message_body(text) or {}).get("usage") if text.ok else None
    if text.ok and _int(usage.get(key) if isinstance(usage, dict) else None) is None:
        raise Blocked("message/usage", f"no integer usage.{key} in {what}; message/usage reports it")
    return [fail(f"usage.{key}: an integer (as the text probe's answer has)", f"none in {what}")]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def input_total(usage: object) -> int | None:
    """input_tokens plus the cache counts (tokens read from or written to a cache are input tokens too)."""
    if not isinstance(usage, dict) or _int(usage.get("input_tokens")) is None:
        return None
    return sum(_int(usage.get(key)) or 0
               for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def reply_length(content: object) -> tuple[int, bool]:
    """The length of what a reply generated visibly (text, thinking, tool input JSON), and whether it is text only
    (no block that may cost hidden tokens: thinking, tool calls, anything newer)."""
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    pieces, text_only = [], True
    for block in blocks:
        kind = block.get("type")
        text_only = text_only and kind == "text"
        if kind == "text" and isinstance(block.get("text"), str):
            pieces.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            pieces.append(block["thinking"])
        elif kind in ("tool_use", "server_tool_use") and isinstance(block.get("input"), dict):
            pieces.append(json.dumps(block["input"], ensure_ascii=False, separators=(",", ":")))
    return sum(length(piece) for piece in pieces), text_only


def output_bounds(content: object, stop_reason: object) -> tuple[int, int | None, int]:
    """(least, most or None, reply length) output_tokens may be for a reply: most is None where hidden tokens are
    possible (not text only, or an unusual stop)."""
    size, text_only = reply_length(content)
    least = max(1 if size else 0, size // MAX_CHARS_PER_TOKEN)
    most = None
    if text_only and stop_reason in TEXT_STOPS and isinstance(content, list):
        text = "".join(b.get("text", "") for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
        most = len(text.encode("utf-8", "replace")) + SLACK
    return least, most, size


def output_findings(tokens: int, content: object, stop_reason: object, where: str, *, rule: str = "") -> list[Finding]:
    """A finding when `tokens` output tokens are impossible for the reply: a strict failure, a compat warning (clients
    display and bill the number, they do not act on it)."""
    least, most, size = output_bounds(content, stop_reason)
    if tokens < least:
        why = "> 0 for a non-empty reply" if least == 1 else f"at least 1 per {MAX_CHARS_PER_TOKEN} characters"
        return [strict(f"output_tokens >= {least} ({why}; the reply has {size} characters)",
                        str(tokens), where, rule=rule)]
    if most is not None and tokens > most:
        return [strict(f"output_tokens <= {most} (at most 1 per UTF-8 byte of a text-only reply, plus {SLACK})",
                       f"{tokens} for {most - SLACK} bytes of text", where, rule=rule)]
    return []


@check("usage/input-short-prompt", rule="USAGE-INPUT-NONZERO", tier="cheap")
def input_short_prompt(ctx: Context):
    """A two-character prompt ("Hi") reports input_tokens > 0."""
    ex = short_exchange(ctx)
    findings = expect_ok(ex)
    if findings:
        return findings
    usage = (message_body(ex) or {}).get("usage")
    total = input_total(usage)
    if total is None:
        return no_usage(ctx, "the answer to the short prompt", "input_tokens")
    if total <= 0:
        return [fail(f"input_tokens > 0 for the prompt {SHORT_PROMPT!r}", short(usage),
                     "usage-short $.usage")]
    return []


@check("usage/input-grows-with-prompt", rule="USAGE-INPUT-GROWTH", tier="cheap")
def input_grows(ctx: Context):
    """A prompt 300 words longer reports more input tokens, by at least one per 12 added characters."""
    short_ex, long_ex = short_exchange(ctx), long_exchange(ctx)
    findings = expect_ok(short_ex) + expect_ok(long_ex)
    if findings:
        return findings
    usages = [(message_body(ex) or {}).get("usage") for ex in (short_ex, long_ex)]
    small, large = (input_total(u) for u in usages)
    if small is None or large is None:
        return no_usage(ctx, "the answer to the short or the long prompt", "input_tokens")
    added = length(long_prompt(ctx)) - length(SHORT_PROMPT)
    needed = math.ceil(added / MAX_CHARS_PER_TOKEN)
    if large - small < needed:
        return [fail(f"input tokens of the long prompt >= {small} + {needed} (the short prompt's, plus 1 per "
                     f"{MAX_CHARS_PER_TOKEN} of its {added} added characters)",
                     f"{large} (short prompt: {small})", "usage-long $.usage.input_tokens")]
    return []


@check("usage/output-tokens", rule="USAGE-OUTPUT-BOUNDS", tier="cheap")
def output_tokens(ctx: Context):
    """output_tokens is possible for the reply: > 0, 1 per 12 characters at least, 1 per byte of text at most."""
    out: list[Finding] = []
    judged = 0
    for ex in (text_probe(ctx, "text"), short_exchange(ctx), long_exchange(ctx)):
        findings = expect_ok(ex)
        if ex.name == "text":  # the shared text probe with no 200: message/schema reports it
            findings = ctx.needs(findings, "message/schema", "no Message from the text probe")
        if findings:
            out += findings
            continue
        body = message_body(ex) or {}
        tokens = _int((body.get("usage") or {}).get("output_tokens") if isinstance(body.get("usage"), dict) else None)
        if tokens is None:
            continue
        judged += 1
        out += output_findings(tokens, body.get("content"), body.get("stop_reason"),
                               f"{ex.name} $.usage.output_tokens")
    if not judged and not out:
        return no_usage(ctx, "the answers", "output_tokens")
    return out


@check("usage/stream-output-tokens", rule="USAGE-STREAM-OUTPUT", tier="cheap")
def stream_output_tokens(ctx: Context):
    """The final message_delta's output_tokens is possible for the streamed reply (> 0 once text was streamed)."""
    ex = stream_exchange(ctx, STREAM_PROBE)
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    validator = ex.stream
    if not validator.output_tokens and not any((data or {}).get("type") == "message_start"
                                               for _, data in validator.events):
        raise Blocked("streaming/message-start-first", "the stream never began (no message_start); "
                      "streaming/message-start-first reports it")
    if not validator.output_tokens:
        raise Blocked("streaming/message-delta-usage", "no message_delta with an integer usage.output_tokens; "
                      "streaming/message-delta-usage reports it")
    content = (validator.message or {}).get("content", [{"type": "text", "text": validator.text}])
    return output_findings(validator.output_tokens[-1], content,
                           validator.stop_reasons[-1] if validator.stop_reasons else None,
                           "last message_delta $.usage.output_tokens")
