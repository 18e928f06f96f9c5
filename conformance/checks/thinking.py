"""Checks of extended thinking: a thinking block with a signature, signature_delta when streamed, parity, replay.

The probe asks for thinking the way the target model's row says (fixtures/models.json): `adaptive` with
`output_config.effort` on adaptive models, `enabled` with `budget_tokens` on models that take it and on models the
table does not know (the long-standing form compatible layers implement). The model's documented 400 for that form
is `unsupported`; another refusal is `unsupported` only where the row does not say the model accepts the form.
"""

from __future__ import annotations

from conformance.checks.acceptance import declined
from conformance.checks.common import (
    block_types,
    contains_words,
    controlled_miss,
    message_text,
    model_gated,
    require_message,
    short,
)
from conformance.checks.streaming import stream_ok, streamed_message
from conformance.engine import Blocked, Context, Unsupported, check, fail, finding
from conformance.model_table import thinking_fragment
from conformance.probes import reply_with
from conformance.verdicts import Finding
from conformance.wire import Exchange

THINKING = {"type": "enabled", "budget_tokens": 1024}  # the API's minimum budget
THINKING_MAX_TOKENS = 1072  # the budget and room for a short reply: max_tokens must exceed budget_tokens
EFFORT = "high"  # the effort a probe asks for where the row lists no default (every effort-taking model has it)


def thinking_fields(ctx: Context, max_tokens: int = THINKING_MAX_TOKENS) -> dict:
    """The request fields that ask the target's model to think: its row's form, else enabled with budget_tokens."""
    row = ctx.target.model_row
    return thinking_fragment(row, max_tokens, row.effort_default or EFFORT) or {"thinking": dict(THINKING)}


def thinking_gate(ctx: Context, ex: Exchange, fields: dict) -> None:
    """Raise Unsupported when `ex` refuses the thinking form as the model may: its documented (model-gated) 400, or,
    where the row does not say the model accepts the form, any clean refusal."""
    row = ctx.target.model_row
    mode = fields["thinking"]["type"]
    model_gated(ex, f"thinking.type {mode} on the {row.describe()} row")
    if row.accepts_thinking(mode) is not True and (refusal := declined(ex)):
        raise Unsupported(f"thinking: the target declined thinking.type {mode} cleanly ({short(refusal, 160)}); the "
                          f"{row.describe()} row does not say the model accepts it")


def thinking_exchange(ctx: Context, stream: bool) -> Exchange:
    words = ctx.probes.text_words("thinking")
    fields = thinking_fields(ctx)
    body = {"model": ctx.target.model, "max_tokens": THINKING_MAX_TOKENS, **fields,
            "messages": [{"role": "user", "content": reply_with(words)}]}
    if stream:
        body["stream"] = True
    if stream:
        thinking_exchange(ctx, False)  # unsupported is decided on the plain request only
        return ctx.exchange("thinking-stream", lambda: ctx.request(body))
    ex = ctx.exchange("thinking", lambda: ctx.request(body))
    thinking_gate(ctx, ex, fields)
    return ex


def thinking_blocks(content: object) -> list[dict]:
    return [b for b in content if isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")] \
        if isinstance(content, list) else []


@check("thinking/returns-thinking", rule="THINK-BLOCK", tier="expensive", feature="thinking")
def returns_thinking(ctx: Context):
    """A thinking request is answered with a thinking block before the text."""
    body, findings = require_message(thinking_exchange(ctx, False))
    if body is None:
        return findings
    content = body.get("content") if isinstance(body.get("content"), list) else []
    if not thinking_blocks(content):
        return [fail("a thinking (or redacted_thinking) block",
                     short([b.get("type") for b in content if isinstance(b, dict)]), "$.content")]
    first = content[0] if isinstance(content[0], dict) else {}
    if first.get("type") not in ("thinking", "redacted_thinking"):
        return [fail("the thinking block first", short(first.get("type")), "$.content[0].type")]
    return []


@check("thinking/signature", rule="THINK-SIGNATURE", tier="expensive", feature="thinking")
def signature(ctx: Context):
    """Every thinking block carries a non-empty string signature (clients must pass it back)."""
    body, findings = require_message(thinking_exchange(ctx, False))
    if body is None:
        return findings
    blocks = thinking_blocks(body.get("content"))
    if not blocks:
        raise Blocked("thinking/returns-thinking", "no thinking block to judge; thinking/returns-thinking reports it")
    return [fail("a non-empty string signature", short(b.get("signature")) if "signature" in b
                 else "no signature key", f"$.content[{i}].signature")
            for i, b in enumerate(blocks) if b.get("type") == "thinking" and not (
                isinstance(b.get("signature"), str) and b["signature"])]


@check("thinking/stream-signature-delta", rule="THINK-SIGNATURE-DELTA", tier="expensive", feature="thinking")
def stream_signature_delta(ctx: Context):
    """A streamed thinking block gets its signature by signature_delta before its content_block_stop."""
    ex = thinking_exchange(ctx, True)
    findings = stream_ok(ctx, ex)
    if findings:
        return findings
    message, missing = streamed_message(ctx, ex)
    if message is None:
        return missing
    blocks = thinking_blocks(message.get("content"))
    if not blocks:
        plain = thinking_exchange(ctx, False)
        has = plain.ok and isinstance(plain.json, dict) and thinking_blocks(plain.json.get("content"))
        owner = "thinking/stream-parity" if has else "thinking/returns-thinking"
        raise Blocked(owner, f"no streamed thinking block to judge; {owner} reports it")
    return [fail("a signature_delta with a non-empty signature before content_block_stop",
                 f"accumulated signature {short(b.get('signature'))}", f"content block {i}")
            for i, b in enumerate(blocks) if b.get("type") == "thinking" and not b.get("signature")]


@check("thinking/stream-parity", rule="THINK-PARITY", tier="expensive", feature="thinking")
def stream_parity(ctx: Context):
    """The same thinking request gives the same block types streamed and not (and the answer in both)."""
    body, findings = require_message(thinking_exchange(ctx, False))
    streamed = thinking_exchange(ctx, True)
    findings += stream_ok(ctx, streamed)
    if body is None or findings:
        return findings
    message, missing = streamed_message(ctx, streamed)
    if message is None:
        return missing
    plain = block_types(body)
    live = block_types(message)
    out: list[Finding] = []
    if plain != live:
        out.append(fail(f"streamed block types equal to non-streamed {plain}", short(live),
                        "content block types"))
    words = ctx.probes.text_words("thinking")
    if contains_words(message_text(body), words) != contains_words(streamed.stream.text, words):
        out.append(finding(ctx.content_verdict(), "the answer in both forms",
                           f"non-stream {short(message_text(body))}; stream {short(streamed.stream.text)}"))
    return out


@check("thinking/replay-accepted", rule="THINK-REPLAY", tier="expensive", feature="thinking")
def replay_accepted(ctx: Context):
    """The assistant's thinking block, passed back unchanged with its signature (a signature-only block, with empty
    thinking text, as models that omit thinking answer, included), is accepted in a tool loop: the turn replayed
    exactly as answered, then a tool call and its result. The API requires that turn to start with its thinking
    block, and checks the signature, so a layer that loses or alters the block gets its 400."""
    first = thinking_exchange(ctx, False)
    body = first.json if first.ok and isinstance(first.json, dict) else None
    if body is None or not thinking_blocks(body.get("content")):
        raise Blocked("thinking/returns-thinking", "the target gave no thinking block to pass back; "
                      "thinking/returns-thinking reports it")
    words = ctx.probes.text_words("thinking-replay")
    spec = ctx.probes.tool("thinking-replay")
    call_id = "toolu_" + ctx.session.nonces.word("thinking-replay.id")
    turn = [*body["content"], {"type": "tool_use", "id": call_id, "name": spec.name, "input": spec.arguments}]
    request = {"model": ctx.target.model, "max_tokens": THINKING_MAX_TOKENS, **thinking_fields(ctx),
               "tools": [spec.tool], "messages": [
                   {"role": "user", "content": reply_with(ctx.probes.text_words("thinking"))},
                   {"role": "assistant", "content": turn},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "done"},
                                                {"type": "text", "text": reply_with(words)}]},
               ]}

    def ok(ex: Exchange) -> bool:
        return ex.ok and contains_words(message_text(ex.json if isinstance(ex.json, dict) else None), words)

    replayed, good = ctx.content_exchange("thinking-replay", lambda: ctx.request(request), ok)
    reply, findings = require_message(replayed)
    if reply is None:
        return findings
    if good is None:
        return [controlled_miss(ctx, f"a reply containing {' '.join(words)!r}",
                                short(message_text(reply)), "$.content", words, "after a replayed thinking turn",
                                reply=reply)]
    return []
