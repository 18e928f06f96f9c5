"""Checks of authentication: x-api-key only, Bearer only, a missing key and a wrong key (raw requests)."""

from __future__ import annotations

from conformance.checks.common import expect_ok, short
from conformance.engine import Context, Session, check, fail
from conformance.verdicts import Finding
from conformance.wire import Exchange, WireRequest


def auth_probe(session: Session, style: str) -> Exchange:
    """A tiny text request authenticated with `style`; shared by the auth and error checks."""
    body = session.probes.text_body("auth-" + style, max_tokens=16)
    return session.exchange("auth-" + style, lambda: WireRequest(
        body=body, auth=style, version=session.target.anthropic_version))


def negotiate_auth(session: Session) -> str:
    """x-api-key when the target takes it, else Bearer when that works, else x-api-key."""
    for style in ("x-api-key", "bearer"):
        if auth_probe(session, style).ok:
            return style
    return "x-api-key"


def _accepted(ctx: Context, style: str, rule: str, header: str) -> list[Finding]:
    ex = ctx.use(auth_probe(ctx.session, style))
    findings = expect_ok(ex, rule)
    return [Finding(f.verdict, f.rule, f"HTTP 200 for a valid key sent only as {header}", f.got) for f in findings]


@check("auth/x-api-key", rule="AUTH-X-API-KEY", tier="cheap")
def x_api_key(ctx: Context):
    """A valid key in x-api-key alone is accepted."""
    return _accepted(ctx, "x-api-key", "AUTH-X-API-KEY", "x-api-key")


@check("auth/bearer", rule="AUTH-BEARER", tier="cheap")
def bearer(ctx: Context):
    """A valid key as Authorization: Bearer alone is accepted."""
    return _accepted(ctx, "bearer", "AUTH-BEARER", "Authorization: Bearer")


def rejected(ex: Exchange, rule: str, status: int, error_type: str, what: str) -> list[Finding]:
    """Findings unless the exchange is rejected with `status` (and error.type, when the body has one)."""
    if ex.status != status:
        body = ex.body[:100].decode("utf-8", "replace")
        return [fail(rule, f"HTTP {status} {error_type} for {what}", f"HTTP {ex.status}: {body}")]
    body = ex.json
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") != error_type:
        return [fail(rule, f"error.type {error_type}", short(error.get("type")), "$.error.type")]
    return []


def error_probe(ctx: Context, name: str) -> Exchange:
    return ctx.exchange(name, lambda: ERROR_PROBES[name][0](ctx))


@check("auth/missing-key", rule="AUTH-MISSING", tier="free")
def missing_key(ctx: Context):
    """No credentials: 401 authentication_error."""
    return rejected(error_probe(ctx, "auth-missing"), "AUTH-MISSING", 401, "authentication_error",
                    "a request without credentials")


@check("auth/wrong-key", rule="AUTH-WRONG", tier="free")
def wrong_key(ctx: Context):
    """A wrong key: 401 authentication_error."""
    return rejected(error_probe(ctx, "auth-wrong"), "AUTH-WRONG", 401, "authentication_error",
                    "a request with a wrong key")


def _body_without(ctx: Context, field: str) -> dict:
    body = ctx.probes.text_body("invalid", max_tokens=16)
    body.pop(field)
    return body


# name -> (build the request, expected status, expected error.type, what it is)
ERROR_PROBES = {
    "auth-missing": (lambda ctx: ctx.request(ctx.probes.text_body("invalid", max_tokens=16), auth="none"),
                     401, "authentication_error", "a request without credentials"),
    "auth-wrong": (lambda ctx: ctx.request(ctx.probes.text_body("invalid", max_tokens=16), auth="wrong-x-api-key"),
                   401, "authentication_error", "a request with a wrong key"),
    "missing-max-tokens": (lambda ctx: ctx.request(_body_without(ctx, "max_tokens")),
                           400, "invalid_request_error", "a request without max_tokens"),
    "missing-model": (lambda ctx: ctx.request(_body_without(ctx, "model")),
                      400, "invalid_request_error", "a request without model"),
    "missing-messages": (lambda ctx: ctx.request(_body_without(ctx, "messages")),
                         400, "invalid_request_error", "a request without messages"),
    "invalid-json": (lambda ctx: ctx.request(b'{"model": "x", "max_tokens": 16, "messages": ['),
                     400, "invalid_request_error", "a body that is not valid JSON"),
}

