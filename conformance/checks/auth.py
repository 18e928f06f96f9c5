"""Checks of authentication: x-api-key only, Bearer only, a missing key and a wrong key (raw requests)."""

from __future__ import annotations

from conformance.checks.bad_requests import judge, rejected
from conformance.checks.common import error_detail, expect_ok, unserved
from conformance.engine import Blocked, Context, Session, check
from conformance.verdicts import Finding, Verdict
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


def _accepted(ctx: Context, style: str, header: str, *, rule: str = "") -> list[Finding]:
    ex = ctx.use(auth_probe(ctx.session, style))
    findings = expect_ok(ex, rule=rule)
    return [Finding(f.verdict, f.rule, f"HTTP 200 for a valid key sent only as {header}", f.got) for f in findings]


@check("auth/x-api-key", rule="AUTH-X-API-KEY", tier="cheap")
def x_api_key(ctx: Context):
    """A valid key in x-api-key alone is accepted."""
    return _accepted(ctx, "x-api-key", "x-api-key")


@check("auth/both-headers", rule="AUTH-BOTH", tier="cheap")
def both_headers(ctx: Context):
    """With a valid x-api-key and another Authorization: Bearer value, the request is accepted (x-api-key wins)."""
    if not ctx.use(auth_probe(ctx.session, "x-api-key")).ok:
        raise Blocked("auth/x-api-key", "a valid key in x-api-key alone is not accepted; auth/x-api-key reports it")
    findings = expect_ok(ctx.use(auth_probe(ctx.session, "x-api-key+other-bearer")))
    return [Finding(f.verdict, f.rule, "HTTP 200 for a valid x-api-key sent with another Authorization: Bearer value "
                    "(as a gateway's own token)", f.got) for f in findings]


@check("auth/bearer", rule="AUTH-BEARER", tier="cheap")
def bearer(ctx: Context):
    """A valid key as Authorization: Bearer alone is accepted."""
    return _accepted(ctx, "bearer", "Authorization: Bearer")


@check("auth/missing-key", rule="AUTH-MISSING", tier="free")
def missing_key(ctx: Context):
    """No credentials: 401 authentication_error."""
    return judge(ctx, "auth-missing", accepted=Verdict.FAIL)


@check("auth/wrong-key", rule="AUTH-WRONG", tier="free")
def wrong_key(ctx: Context):
    """A wrong key: 401 authentication_error."""
    return judge(ctx, "auth-wrong", accepted=Verdict.FAIL)


def _endpoint_auth(ctx: Context, endpoint: str, style: str) -> Exchange:
    """count_tokens or models, authenticated with `style`; a 404/405 means the endpoint is not served."""
    if endpoint == "count-tokens":
        body = {k: v for k, v in ctx.probes.text_body("auth-count").items() if k != "max_tokens"}
        request = WireRequest(body=body, path="/v1/messages/count_tokens", auth=style,
                              version=ctx.target.anthropic_version)
    else:
        request = WireRequest(method="GET", path="/v1/models", auth=style, version=ctx.target.anthropic_version)
    ex = ctx.exchange(f"auth-{endpoint}-{style}", lambda: request)
    if style == "none":  # the endpoint exists if it answers authenticated callers; hiding it from others is a defect
        _endpoint_auth(ctx, endpoint, "x-api-key")
    else:
        unserved(ex.status, endpoint, error_detail(ex), ex.json, ctx.target.model if endpoint == "count-tokens" else "")
    return ex


def _endpoint_checks(endpoint: str, path: str, feature: str) -> None:
    rule = "AUTH-ENDPOINT"  # of every check registered here: their findings' rule by default

    def accepted_with(style: str, header: str):
        def run(ctx: Context):
            findings = expect_ok(_endpoint_auth(ctx, endpoint, style))
            return [Finding(f.verdict, f.rule, f"HTTP 200 from {path} for a valid key sent only as {header}", f.got)
                    for f in findings]

        run.__doc__ = f"{path} accepts a valid key sent only as {header}."
        return run

    def missing(ctx: Context):
        return rejected(_endpoint_auth(ctx, endpoint, "none"), 401, "authentication_error",
                        f"{path} without credentials", accepted=Verdict.FAIL)

    missing.__doc__ = f"{path} without credentials is 401 authentication_error."
    check(f"auth/{endpoint}-x-api-key", rule=rule, tier="free", feature=feature)(accepted_with("x-api-key",
                                                                                                     "x-api-key"))
    check(f"auth/{endpoint}-bearer", rule=rule, tier="free", feature=feature)(
        accepted_with("bearer", "Authorization: Bearer"))
    check(f"auth/{endpoint}-missing-key", rule=rule, tier="free", feature=feature)(missing)


_endpoint_checks("count-tokens", "POST /v1/messages/count_tokens", "count-tokens")
_endpoint_checks("models", "GET /v1/models", "models")


@check("auth/wrong-bearer", rule="AUTH-WRONG", tier="free")
def wrong_bearer(ctx: Context):
    """A wrong key sent as Bearer: 401 authentication_error."""
    body = ctx.probes.text_body("invalid", max_tokens=16)
    ex = ctx.exchange("auth-wrong-bearer", lambda: WireRequest(body=body, auth="wrong-bearer",
                                                               version=ctx.target.anthropic_version))
    return rejected(ex, 401, "authentication_error", "a wrong key sent as Bearer", accepted=Verdict.FAIL)
