"""Checks of POST /v1/messages/count_tokens: shape, growth with system and tools, agreement with usage."""

from __future__ import annotations

from conformance.checks.bad_requests import rejected
from conformance.checks.common import error_detail, short, unserved
from conformance.engine import Context, check, fail
from conformance.verdicts import Finding
from conformance.wire import Exchange

PATH = "/v1/messages/count_tokens"
FEATURE = "count-tokens"
TOLERANCE = 0.25


def base_body(ctx: Context) -> dict:
    """The text probe's request without the fields count_tokens does not take."""
    body = ctx.probes.text_body("text")
    return {k: v for k, v in body.items() if k not in ("max_tokens", "stream")}


def count(ctx: Context, name: str, body: dict, path: str = PATH, **request) -> Exchange:
    """A count_tokens exchange; when the plain probe ("count") is a 404/405, the endpoint is not served."""
    ex = ctx.exchange(name, lambda: ctx.request(body, path=path, **request))
    if name == "count":
        unserved(ex.status, "count_tokens", error_detail(ex), ex.json, ctx.target.model)
    return ex


def tokens(ex: Exchange, *, rule: str = "") -> tuple[int | None, list[Finding]]:
    if not ex.ok:
        return None, [fail("HTTP 200", f"HTTP {ex.status}: {ex.body[:120].decode('utf-8', 'replace')}", rule=rule)]
    value = ex.json.get("input_tokens") if isinstance(ex.json, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None, [fail('{"input_tokens": an integer > 0}', short(ex.json if ex.json is not None else ex.body[:80]),
                           "$.input_tokens", rule=rule)]
    return value, []


@check("count-tokens/shape", rule="COUNT-SHAPE", tier="free", feature=FEATURE)
def shape(ctx: Context):
    """count_tokens answers {"input_tokens": int > 0}, without max_tokens in the request."""
    return tokens(count(ctx, "count", base_body(ctx)))[1]


def _grows(ctx: Context, name: str, extra: dict, what: str, *, rule: str = "") -> list[Finding]:
    plain, findings = tokens(count(ctx, "count", base_body(ctx)), rule=rule)
    more, more_findings = tokens(count(ctx, name, {**base_body(ctx), **extra}), rule=rule)
    if findings or more_findings:
        return findings + more_findings
    if more <= plain:
        return [fail(f"more input_tokens with {what} than the {plain} without", str(more), "$.input_tokens", rule=rule)]
    return []


@check("count-tokens/grows-with-system", rule="COUNT-SYSTEM", tier="free", feature=FEATURE)
def grows_with_system(ctx: Context):
    """Adding a system prompt raises the count."""
    system = "You are a careful assistant. " + " ".join(ctx.probes.n.words("count.system", 40))
    return _grows(ctx, "count-system", {"system": system}, "a 45-word system prompt")


@check("count-tokens/grows-with-tools", rule="COUNT-TOOLS", tier="free", feature=FEATURE)
def grows_with_tools(ctx: Context):
    """Adding tool definitions raises the count."""
    tools = [ctx.probes.tool(f"count.{i}").tool for i in range(3)]
    return _grows(ctx, "count-tools", {"tools": tools}, "three tool definitions")


def usage_body(ctx: Context) -> dict:
    """A request of about 150 input tokens, so that a wrong count stands out from estimation noise."""
    system = "You are a careful assistant. " + " ".join(ctx.probes.n.words("count.usage.system", 120))
    return {"model": ctx.target.model, "system": system,
            "messages": [{"role": "user", "content": "Reply with exactly: " + " ".join(ctx.probes.text_words("count"))}]}


@check("count-tokens/matches-usage", rule="COUNT-MATCHES-USAGE", tier="cheap", feature=FEATURE)
def matches_usage(ctx: Context):
    """The count for a request is close to the usage.input_tokens the same request reports (within 25% or 10)."""
    count(ctx, "count", base_body(ctx))  # unsupported when the endpoint is not served at all
    counted, findings = tokens(ctx.exchange("count-usage", lambda: ctx.request(usage_body(ctx), path=PATH)))
    ex = ctx.exchange("count-usage-message", lambda: ctx.request({**usage_body(ctx), "max_tokens": 16}))
    usage = ex.json.get("usage") if ex.ok and isinstance(ex.json, dict) else None
    used = usage.get("input_tokens") if isinstance(usage, dict) else None
    if findings or not isinstance(used, int):
        return findings or [fail("usage.input_tokens from /v1/messages", short(used))]
    # The docs call the count an estimate that may include a few system-added tokens: only a clear miss fails.
    if abs(counted - used) > max(10, TOLERANCE * used):
        return [fail(f"a count within 25% (or 10) of usage.input_tokens {used}", str(counted),
                     "$.input_tokens")]
    return []


@check("count-tokens/beta-query", rule="COUNT-BETA-QUERY", tier="free", feature=FEATURE)
def beta_query(ctx: Context):
    """count_tokens?beta=true (as Claude Code calls it) is served like count_tokens."""
    count(ctx, "count", base_body(ctx))  # unsupported when the plain endpoint is not served at all
    body = base_body(ctx)
    ex = ctx.exchange("count-beta", lambda: ctx.request(body, path=PATH + "?beta=true"))
    return tokens(ex)[1]


@check("count-tokens/validation", rule="COUNT-VALIDATION", tier="free", feature=FEATURE)
def validation(ctx: Context):
    """count_tokens without messages is a 400 invalid_request_error."""
    count(ctx, "count", base_body(ctx))  # unsupported when the endpoint is not served at all
    ex = count(ctx, "count-invalid", {"model": ctx.target.model})
    return rejected(ex, 400, "invalid_request_error", "count_tokens without messages")
