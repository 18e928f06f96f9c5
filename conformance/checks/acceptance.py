"""Checks that valid but less common requests are accepted (and answered): shapes real clients send."""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from collections.abc import Callable

from conformance.checks.bad_requests import rejected
from conformance.checks.common import (
    contains_words,
    controlled_miss,
    message_text,
    model_gated,
    require_message,
    short,
    tool_uses,
)
from conformance.data import load_json
from conformance.engine import Context, Unsupported, check, fail, finding
from conformance.probes import CLAUDE_CODE_DEFAULT_MODEL, claude_code_headers_for, reply_with
from conformance.verdicts import Finding
from conformance.wire import Exchange, WireRequest

# Output tokens of the expensive acceptance probes: a three-word reply, and Claude Code's request with room for its
# adaptive thinking. With thinking and the long stream, the expensive tier asks for under 4,000 tokens in all.
MEDIA_MAX_TOKENS = 32
# the replica's own max_tokens (Claude Code sends 64,000 to its default model, 32,000 to one it does not know),
# capped for cost
CLAUDE_CODE_MAX_TOKENS = 384


def tiny_png() -> bytes:
    """A valid 8x8 grey PNG, built here (signature, IHDR, IDAT, IEND with their CRCs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * 8 for _ in range(8))  # filter byte 0, then 8 grey pixels
    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)  # 8x8, 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def tiny_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing `text` (ASCII), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 20 40 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def declined(ex: Exchange) -> str | None:
    """The target's clean refusal (a 4xx with the Anthropic envelope, or a 404/405), described; else None."""
    body = ex.json
    error = body.get("error") if isinstance(body, dict) and body.get("type") == "error" else None
    if ex.status in (400, 404, 405, 415, 422) and isinstance(error, dict):
        return f"HTTP {ex.status} {error.get('type')}: {error.get('message')}"
    return None


def accepted(ctx: Context, name: str, build: Callable[[], WireRequest], words: list[str] | None,
             feature: str = "", *, rule: str = "") -> list[Finding]:
    """The probe is answered 200 with a Message (and, if `words`, one containing them); a clean refusal of an
    optional `feature` is unsupported, of anything else a failure."""

    def ok(ex: Exchange) -> bool:
        return ex.ok and (not words or contains_words(message_text(ex.json if isinstance(ex.json, dict) else None),
                                                      words))

    first, good = ctx.content_exchange(name, build, ok)
    if feature and (refusal := declined(first)):
        raise Unsupported(f"{feature}: the target declined it cleanly ({short(refusal, 160)})")
    body, findings = require_message(first, rule=rule)
    if body is None:
        return findings
    if words and good is None:
        ascii_words = all(word.isascii() for word in words)
        return [controlled_miss(ctx, f"a reply containing {' '.join(words)!r}", short(message_text(body)),
                                "$.content", words, f"in the {name!r} probe",
                                None if ascii_words else ctx.probes.text_words(name + ".control"), reply=body, rule=rule)]
    return []


def _block_then_directive(ctx: Context, key: str, block: dict, feature: str, *, rule: str = "") -> list[Finding]:
    """A user turn of one content block followed by a "reply with" directive is accepted and answered."""
    words = ctx.probes.text_words(key)
    messages = [{"role": "user", "content": [block, {"type": "text", "text": reply_with(words)}]}]
    return accepted(ctx, key, _text_request(ctx, key, messages, max_tokens=MEDIA_MAX_TOKENS), words, feature, rule=rule)


def _text_request(ctx: Context, key: str, messages: list[dict], **extra) -> Callable[[], WireRequest]:
    return lambda: ctx.request({"model": ctx.target.model, "max_tokens": 64, "messages": messages, **extra})


@check("acceptance/consecutive-user-turns", rule="ACC-CONSECUTIVE-TURNS", tier="cheap")
def consecutive_user_turns(ctx: Context):
    """Two user turns in a row are accepted (the API merges them)."""
    words = ctx.probes.text_words("consecutive")
    messages = [{"role": "user", "content": "Hello."}, {"role": "user", "content": reply_with(words)}]
    return accepted(ctx, "consecutive", _text_request(ctx, "consecutive", messages), words)


@check("acceptance/assistant-prefill", rule="ACC-PREFILL", tier="cheap", feature="prefill")
def assistant_prefill(ctx: Context):
    """An assistant turn at the end (prefill) is accepted and continued."""
    words = ctx.probes.text_words("prefill")
    messages = [{"role": "user", "content": reply_with(words)}, {"role": "assistant", "content": words[0]}]
    return accepted(ctx, "prefill", _text_request(ctx, "prefill", messages), words[1:], "prefill")


@check("acceptance/image-base64", rule="ACC-IMAGE", tier="expensive", feature="images")
def image_base64(ctx: Context):
    """A base64 PNG image block next to the text is accepted."""
    png = base64.b64encode(tiny_png()).decode()
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    return _block_then_directive(ctx, "image", block, "images")


@check("acceptance/document-text", rule="ACC-DOCUMENT", tier="expensive", feature="documents")
def document_text(ctx: Context):
    """A plain-text document block is accepted."""
    block = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                            "data": "A short note for the conformance probe."}}
    return _block_then_directive(ctx, "document-text", block, "documents")


@check("acceptance/document-pdf", rule="ACC-DOCUMENT", tier="expensive", feature="documents")
def document_pdf(ctx: Context):
    """A base64 PDF document block is accepted."""
    data = base64.b64encode(tiny_pdf("conformance probe")).decode()
    block = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}
    return _block_then_directive(ctx, "document-pdf", block, "documents")


@check("acceptance/metadata-user-id", rule="ACC-METADATA", tier="cheap")
def metadata_user_id(ctx: Context):
    """metadata.user_id (as Claude Code sends it) is accepted."""
    words = ctx.probes.text_words("metadata")
    user_id = json.dumps({"session": ctx.session.nonces.word("session")})
    return accepted(ctx, "metadata", _text_request(ctx, "metadata", [{"role": "user", "content": reply_with(words)}],
                                                   metadata={"user_id": user_id}), words)


@check("acceptance/cache-control-everywhere", rule="ACC-CACHE-CONTROL", tier="cheap")
def cache_control_everywhere(ctx: Context):
    """cache_control on a system block, a tool, a text block and a tool_result (four breakpoints) is accepted."""
    spec = ctx.probes.tool("cache")
    words = ctx.probes.tool_result_words("cache")
    ephemeral = {"type": "ephemeral"}
    tool_id = "toolu_" + ctx.session.nonces.word("cache.id")
    messages = [
        {"role": "user", "content": [{"type": "text", "text": f"Call the tool {spec.name} with input "
                                      f"{json.dumps(spec.arguments)}\nAfter the tool returns, reply with exactly the "
                                      "tool result.", "cache_control": ephemeral}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": spec.name,
                                           "input": spec.arguments}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": " ".join(words),
                                      "cache_control": ephemeral}]},
    ]
    build = _text_request(ctx, "cache", messages, tools=[{**spec.tool, "cache_control": ephemeral}],
                          system=[{"type": "text", "text": "You are a conformance probe.", "cache_control": ephemeral}])
    return accepted(ctx, "cache-control", build, words)


@check("acceptance/system-role-first", rule="ACC-SYSTEM-FIRST", tier="cheap")
def system_role_first(ctx: Context):
    """A role: system message before the first user turn is rejected cleanly (400 invalid_request_error, as the
    real API does) or accepted and honoured; never a crash or another error shape."""
    words = ctx.probes.text_words("system-first")
    messages = [{"role": "system", "content": reply_with(words)}, {"role": "user", "content": "Hello."}]
    first = ctx.exchange("system-first", _text_request(ctx, "system-first", messages))
    model_gated(first, "role: system messages")
    if first.status is not None and 400 <= first.status < 500:  # the real API: 400 "use the top-level 'system' ..."
        return rejected(first, 400, "invalid_request_error", "a role: system message first")
    return accepted(ctx, "system-first", _text_request(ctx, "system-first", messages), words)


@check("acceptance/many-tools", rule="ACC-MANY-TOOLS", tier="cheap")
def many_tools(ctx: Context):
    """24 tools (as Claude Code sends) are accepted, and the directed one is called."""
    specs = [ctx.probes.tool(f"many.{i}") for i in range(24)]
    target = specs[17]
    text = f"Call the tool {target.name} with input {json.dumps(target.arguments)}"

    def build():
        return ctx.request({"model": ctx.target.model, "max_tokens": 256, "tools": [s.tool for s in specs],
                            "messages": [{"role": "user", "content": text}]})

    def ok(ex):
        return ex.ok and any(b.get("name") == target.name for b in tool_uses(ex.json if isinstance(ex.json, dict)
                                                                             else None))

    first, good = ctx.content_exchange("many-tools", build, ok)
    body, findings = require_message(first)
    if body is None:
        return findings
    if good is None:
        return [finding(ctx.content_verdict(), f"a tool_use calling {target.name}",
                        short([b.get("name") for b in tool_uses(body)] or message_text(body)), "$.content")]
    return []


def claude_code_session_id(ctx: Context) -> str:
    """This run's X-Claude-Code-Session-Id, also the session_id in metadata.user_id (a UUID, as Claude Code sends)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "claude-code-session:" + ctx.session.nonces.word("cc-session")))


def claude_code_body(ctx: Context, words: list[str], role_system: bool = True) -> dict:
    """The Claude Code request body from fixtures/requests/claude-code.json, with this run's nonces; as Claude Code
    sends the target's model: the capture as it is for its default model, else the form it sends a model it does not
    know (effort high, max_tokens 32000, no per-message output_config); without its role: system messages when
    `role_system` is false (what Claude Code sends a model that does not take them); its thinking and effort as the
    target model's row takes them (the capture's adaptive thinking where the row does not say)."""
    from conformance.model_table import BUDGET_TOKENS, thinking_fragment

    template = json.dumps(load_json("fixtures", "requests/claude-code.json")["body"])
    body = json.loads(template.replace("{{MODEL}}", ctx.target.model).replace("{{DIRECTIVE}}", reply_with(words))
                      .replace("{{USER_ID}}", ctx.session.nonces.word("cc-user"))
                      .replace("{{SESSION_ID}}", claude_code_session_id(ctx)))
    if ctx.target.model != CLAUDE_CODE_DEFAULT_MODEL:  # docs/claude-code-request.md: `--model reference-model`
        body["max_tokens"], body["output_config"] = 32000, {"effort": "high"}
        for message in body["messages"]:
            if isinstance(message, dict) and message.get("role") == "system":
                message.pop("output_config", None)
    body["max_tokens"] = min(body["max_tokens"], CLAUDE_CODE_MAX_TOKENS)
    row = ctx.target.model_row
    effort = body.get("output_config", {}).get("effort")
    if row.thinking_mode == "enabled":  # room for the budget and the reply
        body["max_tokens"] += BUDGET_TOKENS
    if (fragment := thinking_fragment(row, body["max_tokens"], effort)) is not None:
        if fragment["thinking"]["type"] != body["thinking"]["type"]:  # same type: the capture's, with its display
            body["thinking"] = fragment["thinking"]
        if "output_config" in fragment:
            body["output_config"] = fragment["output_config"]
        elif row.effort_supported is False or row.effort_levels is not None:  # the row says it does not take it
            body.pop("output_config", None)
            for message in body["messages"]:
                if isinstance(message, dict):
                    message.pop("output_config", None)
    if not role_system:
        body["messages"] = [m for m in body["messages"] if not (isinstance(m, dict) and m.get("role") == "system")]
    return body


def claude_code_headers(ctx: Context) -> tuple[tuple[str, str], ...]:
    """The headers Claude Code sends with the target's model (its User-Agent, X-Stainless-* set, anthropic-beta,
    x-app ...) for this run."""
    return (*claude_code_headers_for(ctx.target.model), ("x-claude-code-session-id", claude_code_session_id(ctx)))


@check("acceptance/claude-code-request", rule="ACC-CLAUDE-CODE", tier="expensive", feature="thinking")
def claude_code_request(ctx: Context):
    """Claude Code's streamed request as it sends the target's model (12 tools, one deferred; system blocks with its
    attribution block; a role: system message with content blocks where the model's row takes them; its thinking and
    effort as the row takes them; context_management, metadata, its User-Agent, headers and anthropic-beta set,
    ?beta=true) gets a clean stream."""
    words = ctx.probes.text_words("claude-code")

    def build(role_system: bool = True):
        return ctx.request(claude_code_body(ctx, words, role_system), path="/v1/messages?beta=true",
                           version="2023-06-01", headers=claude_code_headers(ctx))

    def ok(ex):
        return ex.ok and contains_words(ex.stream.text, words)

    row = ctx.target.model_row
    if row.system_messages is False:  # Claude Code sends such a model no role: system message: neither does the replica
        first, good = ctx.content_exchange("claude-code-no-role-system", lambda: build(role_system=False), ok)
    else:
        first, good = ctx.content_exchange("claude-code", build, ok)
        try:
            model_gated(first, "role: system messages")
        except Unsupported:  # a model the row does not know to take them: the replica too sends none then
            if row.system_messages is True:
                raise
            first, good = ctx.content_exchange("claude-code-no-role-system", lambda: build(role_system=False), ok)
    model_gated(first, f"Claude Code's thinking settings on the {row.describe()} row")
    refusal = declined(first)
    mode = claude_code_body(ctx, words)["thinking"]["type"]
    if refusal and row.accepts_thinking(mode) is not True and any(w in refusal.lower() for w in ("thinking", "effort")):
        # a model the row does not know to take adaptive thinking or effort: Claude Code sends it other settings
        raise Unsupported(f"the model declines Claude Code's thinking settings ({short(refusal, 160)})")
    if not first.ok:
        body = first.body[:160].decode("utf-8", "replace")
        return [fail("HTTP 200 text/event-stream", f"HTTP {first.status}: {body}")]
    validator = first.stream
    out = [fail(v.expected, v.got, f"{v.where} [{v.rule}]")
           for v in validator.violations[:10]]
    if good is None:
        out.append(controlled_miss(ctx, f"streamed text containing {' '.join(words)!r}",
                                   short(validator.text), "accumulated text", words, "in Claude Code's request",
                                   reply=validator.message, tool_call_ok=True))
    return out


@check("acceptance/claude-code-default-model", rule="ACC-CLAUDE-CODE-MODEL", tier="cheap")
def claude_code_default_model(ctx: Context):
    """Claude Code's default model (what it sends without --model or ANTHROPIC_MODEL) is served: a Message. A clean
    refusal of that model is unsupported, a deployment's choice; Claude Code then works only when told a model the
    target serves."""
    words = ctx.probes.text_words("claude-code-default-model")
    body = {"model": CLAUDE_CODE_DEFAULT_MODEL, "max_tokens": 64,
            "messages": [{"role": "user", "content": reply_with(words)}]}
    first = ctx.exchange("claude-code-default-model", lambda: ctx.request(body))
    if refusal := declined(first):
        raise Unsupported(f"the target does not serve Claude Code's default model {CLAUDE_CODE_DEFAULT_MODEL} "
                          f"({short(refusal, 160)}): Claude Code works only with --model or ANTHROPIC_MODEL naming "
                          "a model the target serves")
    _, findings = require_message(first)
    return findings  # the words are not judged: the model may think its 64 tokens away


@check("acceptance/multiple-stop-sequences", rule="ACC-STOP-SEQUENCES", tier="cheap")
def multiple_stop_sequences(ctx: Context):
    """Several stop_sequences are accepted; the one that occurs ends the reply."""
    before, seq, after = ctx.probes.stop_words()
    other = ctx.session.nonces.word("stop.other").upper()
    directive = "Reply with exactly: " + " ".join(before + [seq] + after)

    def build():
        return ctx.request({"model": ctx.target.model, "max_tokens": 64, "stop_sequences": [other, seq],
                            "messages": [{"role": "user", "content": directive}]})

    def ok(ex):
        return ex.ok and isinstance(ex.json, dict) and ex.json.get("stop_sequence") == seq

    first, good = ctx.content_exchange("multiple-stop-sequences", build, ok)
    body, findings = require_message(first)
    if body is None:
        return findings
    if good is None:
        expected = f"stop_reason stop_sequence, stop_sequence {short(seq)}"
        got = f"{short(body.get('stop_reason'))}, {short(body.get('stop_sequence'))}"
        if seq in message_text(body):  # the model said it and the target did not stop: stop_sequences lost
            return [fail(expected, f"{got} with {short(seq)} in the text", "$.stop_sequence")]
        return [controlled_miss(ctx, expected, got, "$.stop_sequence", before + [seq] + after,
                                "with two stop_sequences", reply=body)]
    return []


@check("acceptance/unicode-text", rule="ACC-UNICODE", tier="cheap")
def unicode_text(ctx: Context):
    """Non-ASCII text (accents, CJK, emoji) goes through unchanged."""
    words = ["café", "naïve", "雪花", "❄️", "🎉"] + ctx.probes.text_words("unicode")[:1]
    return accepted(ctx, "unicode", _text_request(ctx, "unicode", [{"role": "user", "content": reply_with(words)}]),
                    words)
