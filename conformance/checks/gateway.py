"""Gateway mode: what a gateway forwards to its upstream unchanged, and what it passes back unchanged, judged by
comparing the client's exchange with the recording upstream's record of the same probe (conformance.gateway)."""

from __future__ import annotations

import json
from typing import Any

from conformance.checks.common import unserved
from conformance.checks.thinking import THINKING_MAX_TOKENS, thinking_fields
from conformance.engine import Blocked, Context, Skip, check, fail, strict, warn
from conformance.gateway.link import (
    CONTROL,
    NotForwarded,
    Sent,
    control,
    link,
    pass_through_only,
    probe,
    protocol,
    reached,
    text,
)
from conformance.gateway.records import Record
from conformance.probes import CLAUDE_CODE_BETAS, CLAUDE_CODE_HEADERS
from conformance.verdicts import Evidence, Finding

ATTRIBUTION = "x-anthropic-billing-header: cc_version=2.1.197.a1b; cc_entrypoint=cli;"  # Claude Code's first block
ERROR_DIRECTIVES = {"429": "rate-limit", "529": "overloaded", "500": "server-error"}
PAUSE_MS = 1500


def short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def upstream_record(ctx: Context, sent: Sent, what: str) -> tuple[Record | None, list[Finding]]:
    """The upstream's record of the probe, or the finding that the gateway never forwarded it."""
    try:
        return reached(ctx, sent, what), []
    except NotForwarded as exc:
        return None, [fail(f"the request forwarded to the upstream ({what})", str(exc))]


# -- the control ---------------------------------------------------------------------------------------------------
@check(CONTROL, rule="GW-REACH", tier="cheap")
def reaches_upstream(ctx: Context):
    """A plain probe through the gateway reaches the recording upstream, carrying its nonce."""
    sent = control(ctx)
    if sent.first is not None:
        if not protocol(sent.first):
            return [fail("the probe received as POST /v1/messages (forwarded) or POST "
                         "/v1/chat/completions (translated), the two APIs the recording upstream serves",
                         f"{sent.first.method} {sent.first.path} (answered {sent.first.status}): the gateway speaks "
                         "another upstream API, so nothing it does can be compared; configure it for the Messages API "
                         "or OpenAI Chat Completions", "upstream request")]
        return []
    seen = ctx.session.upstream.all()
    ex = sent.exchange
    answer = f"HTTP {ex.status}" if ex.status is not None else f"no answer ({ex.error})"
    return [fail("the probe (nonce in its user text) received by the recording upstream",
                 f"the gateway answered {answer}; the upstream received {len(seen)} request(s){received(seen)}, none "
                 "with the probe's nonce: is the gateway configured with the upstream's base URL (the upstream serves "
                 "POST /v1/messages and POST /v1/chat/completions), and does it keep the user text?")]


def received(records: list[Record], most: int = 4) -> str:
    """' (POST /v1/responses -> 404 x3, ...)': what the upstream did receive, by method, path and answer."""
    counts: dict[str, int] = {}
    for record in records:
        key = f"{record.method} {record.path} -> {record.status if record.status is not None else 'no answer'}"
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return ""
    shown = [f"{key} x{count}" if count > 1 else key for key, count in list(counts.items())[:most]]
    return " (" + ", ".join(shown) + (", ..." if len(counts) > most else "") + ")"


# -- forwarded unchanged ---------------------------------------------------------------------------------------------
def _forwarded_field(ctx: Context, name: str, field: str, value: Any, headers=(), **extra) -> list[Finding]:
    pass_through_only(ctx)
    sent = probe(ctx, name, headers=headers, **{field: value}, **extra)
    record, findings = upstream_record(ctx, sent, f"a body with {field}")
    if record is None:
        return findings
    got = record.json if isinstance(record.json, dict) else {}
    if field not in got:
        return [fail(f"{field} forwarded unchanged: {short(value)}", f"{field} missing from the upstream's body",
                     f"upstream body (keys: {', '.join(sorted(got))})")]
    if got[field] != value:
        return [fail(f"{field} forwarded unchanged: {short(value)}", f"{short(got[field])}", "upstream body")]
    return []


@check("gateway/anthropic-version-forwarded", rule="GW-FWD-VERSION", tier="cheap", params=("2023-06-01", "2026-10-21"))
def version_forwarded(ctx: Context, version: str):
    """The client's anthropic-version reaches the upstream unchanged."""
    pass_through_only(ctx)
    sent = probe(ctx, "version-" + version, version=version)
    record, findings = upstream_record(ctx, sent, f"anthropic-version {version}")
    if record is None:
        return findings
    got = record.header("anthropic-version")
    if got != version:
        return [fail(f"anthropic-version: {version} at the upstream", got or "no anthropic-version",
                     "upstream request headers")]
    return []


@check("gateway/anthropic-beta-forwarded", rule="GW-FWD-BETA", tier="cheap")
def beta_forwarded(ctx: Context):
    """Claude Code's anthropic-beta header reaches the upstream unchanged."""
    pass_through_only(ctx)
    sent = probe(ctx, "beta", headers=(("anthropic-beta", CLAUDE_CODE_BETAS),))
    record, findings = upstream_record(ctx, sent, "anthropic-beta")
    if record is None:
        return findings
    got = ",".join(value for key, value in record.headers if key == "anthropic-beta")
    if got == CLAUDE_CODE_BETAS:
        return []
    wanted, have = CLAUDE_CODE_BETAS.split(","), [b.strip() for b in got.split(",") if b.strip()]
    if not have:
        return [fail(f"anthropic-beta: {CLAUDE_CODE_BETAS}", "no anthropic-beta header",
                     "upstream request headers")]
    missing = [b for b in wanted if b not in have]
    if missing:
        return [fail(f"anthropic-beta: {CLAUDE_CODE_BETAS}", f"{got} (missing: {', '.join(missing)})",
                     "upstream request headers")]
    return [warn(f"anthropic-beta byte for byte: {CLAUDE_CODE_BETAS}", got, "upstream request headers")]


@check("gateway/unknown-field-forwarded", rule="GW-FWD-UNKNOWN-FIELD", tier="cheap")
def unknown_field_forwarded(ctx: Context):
    """A body field the gateway does not know reaches the upstream unchanged (body fields are an open list)."""
    field = "conformance_" + ctx.session.nonces.word("gateway-field")
    return _forwarded_field(ctx, "unknown-field", field, {"kept": [1, "two", None]})


@check("gateway/context-management-forwarded", rule="GW-FWD-CONTEXT-MANAGEMENT", tier="cheap")
def context_management_forwarded(ctx: Context):
    """context_management reaches the upstream unchanged, together with its beta."""
    beta = "context-management-2025-06-27"
    value = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    findings = _forwarded_field(ctx, "context-management", "context_management", value,
                                headers=(("anthropic-beta", beta),))
    record = probe(ctx, "context-management").first
    if not findings and record is not None and beta not in (record.header("anthropic-beta") or ""):
        findings.append(fail(f"anthropic-beta: {beta} with context_management",
                             record.header("anthropic-beta") or "no anthropic-beta header", "upstream request headers"))
    return findings


@check("gateway/system-order-forwarded", rule="GW-FWD-SYSTEM-ORDER", tier="cheap")
def system_order_forwarded(ctx: Context):
    """system blocks reach the upstream unchanged and in order (Claude Code's attribution block stays first)."""
    blocks = [{"type": "text", "text": ATTRIBUTION},
              {"type": "text", "text": "You are a conformance probe.", "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Answer briefly. " + ctx.session.nonces.word("gateway-system")}]
    return _forwarded_field(ctx, "system-order", "system", blocks)


@check("gateway/metadata-forwarded", rule="GW-FWD-METADATA", tier="cheap")
def metadata_forwarded(ctx: Context):
    """metadata reaches the upstream unchanged."""
    value = {"user_id": "user_" + ctx.session.nonces.identifier("gateway-user")}
    return _forwarded_field(ctx, "metadata", "metadata", value)


@check("gateway/tools-forwarded", rule="GW-FWD-TOOLS", tier="cheap")
def tools_forwarded(ctx: Context):
    """tools reach the upstream unchanged, cache_control and defer_loading included."""
    spec = ctx.probes.tool("gateway-tools")
    tools = [{**spec.tool, "cache_control": {"type": "ephemeral"}},
             {"name": spec.name + "_later", "description": "Loaded on demand.", "input_schema": spec.schema,
              "defer_loading": True}]
    return _forwarded_field(ctx, "tools", "tools", tools)


def thinking_probe(ctx: Context) -> tuple[dict, Sent]:
    """The probe that asks the model to think in the form its row says it takes (adaptive, or enabled with a budget;
    output_config.effort where the row lists effort levels): a request the model accepts, so a gateway is judged on
    what a correct client sends. Shared by the two thinking checks."""
    pass_through_only(ctx)
    fields = thinking_fields(ctx, THINKING_MAX_TOKENS)
    return fields, probe(ctx, "thinking", max_tokens=THINKING_MAX_TOKENS, **fields)


@check("gateway/thinking-forwarded", rule="GW-FWD-THINKING", tier="cheap")
def thinking_forwarded(ctx: Context):
    """thinking, in the form the model takes, and output_config where the model takes effort, reach the upstream
    unchanged."""
    fields, sent = thinking_probe(ctx)
    record, findings = upstream_record(ctx, sent, "a body with thinking")
    if record is None:
        return findings
    got = record.json if isinstance(record.json, dict) else {}
    for field, value in fields.items():
        if field not in got:
            findings.append(fail(f"{field} forwarded unchanged: {short(value)}", f"{field} missing from the "
                                 "upstream's body", f"upstream body (keys: {', '.join(sorted(got))})"))
        elif got[field] != value:
            findings.append(fail(f"{field} forwarded unchanged: {short(value)}", short(got[field]), "upstream body"))
    return findings


@check("gateway/thinking-replay-forwarded", rule="GW-FWD-THINKING-REPLAY", tier="cheap")
def thinking_replay_forwarded(ctx: Context):
    """An assistant turn replayed with the thinking blocks the upstream answered reaches the upstream unchanged, block
    for block (the API checks each block's signature against what it issued). The model thinks in its row's form and
    its own display: signature-only blocks for the models that answer so by default (Claude Code's default model)."""
    fields, first = thinking_probe(ctx)
    record, findings = upstream_record(ctx, first, "a probe with thinking")
    if record is None:
        return findings
    forwarded = record.json.get("thinking") if isinstance(record.json, dict) else None
    if forwarded is None:
        raise Blocked("gateway/thinking-forwarded", "the gateway did not forward thinking, so the upstream issued no "
                                                    "thinking block to replay; gateway/thinking-forwarded reports it")
    if forwarded != fields["thinking"]:
        return [fail(f"thinking forwarded unchanged: {short(fields['thinking'])}", short(forwarded), "upstream body")]
    issued = _content(first.last.response_json)  # the answer the client got (a gateway may have retried)
    if not any(_thinking(b) for b in issued):
        raise Skip(f"not judged: the upstream answered the probe without a thinking block (HTTP {first.last.status}: "
                   f"{short(first.last.response_json, 160)}); nothing to replay")
    if first.exchange.status != 200:
        raise Skip(f"not judged: the gateway answered the probe with HTTP {first.exchange.status}, not a message")
    received = _content(first.exchange.json)
    if [b for b in received if _thinking(b)] != [b for b in issued if _thinking(b)]:
        return [fail(f"the answer's thinking blocks passed back unchanged: {short([b for b in issued if _thinking(b)])}",
                     short([b for b in received if _thinking(b)]) or "no thinking block", "client body content")]
    history = first.exchange.request.json["messages"] + [{"role": "assistant", "content": received}]
    second = link(ctx).send(ctx, "thinking-replay-2", lambda t: ctx.request({
        "model": ctx.target.model, "max_tokens": THINKING_MAX_TOKENS, **fields,
        "messages": [*history, {"role": "user", "content": text(ctx, "thinking-replay-2", t)}]}))
    record, findings = upstream_record(ctx, second, "the replayed conversation")
    if record is None:
        return findings
    index = len(history) - 1
    messages = record.json.get("messages") if isinstance(record.json, dict) else None
    turn = messages[index] if isinstance(messages, list) and len(messages) > index else None
    got = turn.get("content") if isinstance(turn, dict) else None
    if got != received:
        return [fail(f"messages[{index}].content forwarded unchanged: {short(received)}",
                     short(got) if got is not None else "no such message", f"upstream body messages[{index}]")]
    return []


def _content(body: Any) -> list:
    content = body.get("content") if isinstance(body, dict) else None
    return content if isinstance(content, list) else []


def _thinking(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking")


@check("gateway/claude-code-headers-forwarded", rule="GW-FWD-CLAUDE-CODE-HEADERS", tier="cheap")
def claude_code_headers_forwarded(ctx: Context):
    """Claude Code's own headers (x-claude-code-session-id, x-app) reach the upstream."""
    pass_through_only(ctx)
    session_id = "0b7c" + ctx.session.nonces.word("gateway-session")
    sent_headers = (*[(k, v) for k, v in CLAUDE_CODE_HEADERS if k.startswith("x-")],
                    ("x-claude-code-session-id", session_id))
    watched = {k: v for k, v in sent_headers if k.startswith("x-claude-code-") or k == "x-app"}
    sent = probe(ctx, "claude-code-headers", headers=sent_headers)
    record, findings = upstream_record(ctx, sent, "Claude Code's headers")
    if record is None:
        return findings
    lost = {k: v for k, v in watched.items() if record.header(k) != v}
    if lost:  # the protocol lets a gateway consume these; the upstream then cannot attribute a session
        got = ", ".join(f"{k}: {record.header(k) or 'missing'}" for k in lost)
        return [warn(", ".join(f"{k}: {v}" for k, v in lost.items()), got,
                     "upstream request headers")]
    return []


@check("gateway/model-forwarded", rule="GW-FWD-MODEL", tier="cheap")
def model_forwarded(ctx: Context):
    """The model id reaches the upstream as the client sent it, or as the gateway maps it (reported)."""
    sent = control(ctx)
    record, findings = upstream_record(ctx, sent, "the model id")
    if record is None:
        return findings
    got = (record.json or {}).get("model") if isinstance(record.json, dict) else None
    if not isinstance(got, str) or not got:
        return [fail(f"a model id at the upstream ({ctx.target.model} or its mapping)",
                     short(got) if got is not None else "no model", "upstream body")]
    how = "unchanged" if got == ctx.target.model else "mapped by the gateway's configuration"
    ctx.evidence.append(Evidence(f"model sent by the client: {ctx.target.model}",
                                 f"model received by the upstream: {got} ({how})"))
    return []


COUNT_TOKENS = "/v1/messages/count_tokens"


@check("gateway/count-tokens-forwarded", rule="GW-FWD-COUNT-TOKENS", tier="cheap")
def count_tokens_forwarded(ctx: Context):
    """POST /v1/messages/count_tokens (optional for a gateway) reaches the upstream unchanged, body and
    anthropic-version/anthropic-beta alike, and the upstream's count comes back unchanged. Not served: unsupported;
    answered by the gateway itself: a warning (its count is not the model's tokenizer's)."""
    pass_through_only(ctx)
    gw = link(ctx)
    beta = (("anthropic-beta", CLAUDE_CODE_BETAS),)
    sent = gw.send(ctx, "count-tokens", lambda t: ctx.request({
        "model": ctx.target.model, "system": [{"type": "text", "text": "You are terse."}],
        "messages": [{"role": "user", "content": text(ctx, "count-tokens", t)}]}, headers=beta, path=COUNT_TOKENS))
    ex = sent.exchange
    if sent.first is None:
        reached(ctx, control(ctx, evidence=False), "count_tokens")  # blocked when nothing reaches the upstream
        said = ex.body[:200].decode("utf-8", "replace")
        unserved(ex.status, f"POST {COUNT_TOKENS} through the gateway", said, ex.json, ctx.target.model)
        counted = (ex.json or {}).get("input_tokens") if isinstance(ex.json, dict) else None
        if ex.status == 200 and isinstance(counted, int):
            return [warn(f"POST {COUNT_TOKENS} forwarded to the upstream", f"answered by the gateway itself "
                         f"(input_tokens {counted}), never forwarded: not the model's own count", "upstream requests")]
        return [fail(f"POST {COUNT_TOKENS} forwarded to the upstream, or a 404 when not served",
                     f"HTTP {ex.status} from the gateway, nothing forwarded" if ex.status else f"no answer ({ex.error})",
                     "upstream requests")]
    record = sent.first
    findings = []
    if record.path.rstrip("/") != COUNT_TOKENS:
        findings.append(fail(f"the upstream request at {COUNT_TOKENS}", f"{record.method} {record.path}",
                             "upstream request line"))
    for name, value in (("anthropic-version", ex.request.version), *beta):
        if record.header(name) != value:
            findings.append(fail(f"{name}: {value} at the upstream", record.header(name) or f"no {name}",
                                 "upstream request headers"))
    if record.json != ex.request.json:
        findings.append(fail(f"the body forwarded unchanged: {short(ex.request.json)}", short(record.json),
                             "upstream body"))
    wanted = (sent.last.response_json or {}).get("input_tokens") if isinstance(sent.last.response_json, dict) else None
    got = (ex.json or {}).get("input_tokens") if ex.status == 200 and isinstance(ex.json, dict) else None
    if wanted is not None and got != wanted:
        findings.append(fail(f"input_tokens {wanted} (the upstream's count) passed back", short(got) if got is not None
                             else f"HTTP {ex.status} {short(ex.json, 120)}", "client body input_tokens"))
    return findings


# -- passed back unchanged ------------------------------------------------------------------------------------------
def _error_probe(ctx: Context, status: str) -> tuple[Sent, Record]:
    pass_through_only(ctx)
    sent = probe(ctx, "error-" + status, ERROR_DIRECTIVES[status])
    record, findings = upstream_record(ctx, sent, f"a probe the upstream answers {status}")
    if record is None:
        raise Skip(f"not judged: {findings[0].got}")
    return sent, sent.last


def _error_of(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


@check("gateway/error-status", rule="GW-BACK-ERROR-STATUS", tier="cheap", params=tuple(ERROR_DIRECTIVES))
def error_status(ctx: Context, status: str):
    """The upstream's error status reaches the client unchanged (429, 529, 500)."""
    sent, record = _error_probe(ctx, status)
    if sent.exchange.status != record.status:
        return [fail(f"HTTP {record.status}, as the upstream answered",
                     f"HTTP {sent.exchange.status}", "response status")]
    return []


@check("gateway/error-type", rule="GW-BACK-ERROR-TYPE", tier="cheap", params=tuple(ERROR_DIRECTIVES))
def error_type(ctx: Context, status: str):
    """The upstream's error.type reaches the client unchanged, in the Anthropic envelope."""
    sent, record = _error_probe(ctx, status)
    wanted, got = _error_of(record.response_json).get("type"), _error_of(sent.exchange.json).get("type")
    if got != wanted:
        return [fail(f"error.type {wanted}, as the upstream answered",
                     f"{got!r} in {short(sent.exchange.body.decode('utf-8', 'replace'))}", "response body")]
    return []


@check("gateway/error-message", rule="GW-BACK-ERROR-MESSAGE", tier="cheap", params=tuple(ERROR_DIRECTIVES))
def error_message(ctx: Context, status: str):
    """The upstream's error.message wording reaches the client unchanged (Claude Code's recovery matches on it)."""
    sent, record = _error_probe(ctx, status)
    wanted, got = _error_of(record.response_json).get("message"), _error_of(sent.exchange.json).get("message")
    if got != wanted:
        return [fail(f"error.message {wanted!r}", repr(got) if got else "no error.message",
                     "response body")]
    return []


@check("gateway/retry-after", rule="GW-BACK-RETRY-AFTER", tier="cheap", params=("429", "529"))
def retry_after(ctx: Context, status: str):
    """The upstream's retry-after reaches the client unchanged on a 429 and a 529."""
    sent, record = _error_probe(ctx, status)
    wanted, got = record.response_header("retry-after"), sent.exchange.headers.get("retry-after")
    if got != wanted:
        return [fail(f"retry-after: {wanted}", f"retry-after: {got}" if got else "no retry-after",
                     f"HTTP {sent.exchange.status} response headers")]
    return []


def _answer(ctx: Context, which: str) -> tuple[Sent, Record]:
    if which == "error":
        return _error_probe(ctx, "429")
    pass_through_only(ctx)
    sent = control(ctx)
    record, findings = upstream_record(ctx, sent, "a plain probe")
    if record is None:
        raise Skip(f"not judged: {findings[0].got}")
    return sent, sent.last


@check("gateway/ratelimit-headers", rule="GW-BACK-RATELIMIT", tier="cheap", params=("error", "success"))
def ratelimit_headers(ctx: Context, which: str):
    """Every anthropic-ratelimit-* header the upstream sent reaches the client unchanged."""
    sent, record = _answer(ctx, which)
    wanted = {k: v for k, v in record.response_headers if k.startswith("anthropic-ratelimit-")}
    if not wanted:
        raise Skip("not judged: the upstream sent no anthropic-ratelimit-* header")
    lost = {k: v for k, v in wanted.items() if sent.exchange.headers.get(k) != v}
    if lost:
        got = ", ".join(f"{k}: {sent.exchange.headers.get(k, 'missing')}" for k in sorted(lost))
        return [fail(", ".join(f"{k}: {v}" for k, v in sorted(lost.items())), got,
                     f"HTTP {sent.exchange.status} response headers")]
    return []


@check("gateway/request-id", rule="GW-BACK-REQUEST-ID", tier="cheap", params=("error", "success"))
def request_id(ctx: Context, which: str):
    """The upstream's request-id reaches the client (support and logs join the two ends on it)."""
    sent, record = _answer(ctx, which)
    wanted = record.response_header("request-id")
    if not wanted:
        raise Skip("not judged: the upstream sent no request-id")
    got = sent.exchange.headers.get("request-id")
    if got != wanted:
        return [strict(f"request-id: {wanted}", f"request-id: {got}" if got else "no request-id",
                       f"HTTP {sent.exchange.status} response headers")]
    return []

