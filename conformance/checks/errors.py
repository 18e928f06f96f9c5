"""Checks of error responses: status and error.type per bad request, the envelope, and request-id."""

from __future__ import annotations

from conformance import schemas
from conformance.checks.bad_requests import BAD_REQUESTS, bad_request, judge, judged_probes
from conformance.checks.common import short
from conformance.engine import Blocked, Context, check, fail, strict
from conformance.verdicts import Verdict

# The documented status -> error.type table (docs: errors).
STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 409: "conflict_error",
                413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error",
                529: "overloaded_error"}
VALIDATION = {"missing-max-tokens": "VAL-MAX-TOKENS", "missing-model": "VAL-MODEL",
              "missing-messages": "VAL-MESSAGES", "invalid-json": "VAL-JSON"}


def validation_check(check_id: str, probe: str, rule: str, tier: str = "free") -> None:
    """Register a check that `probe` is rejected with its status and error.type."""
    spec = BAD_REQUESTS[probe]

    def run(ctx: Context):
        return judge(ctx, probe)

    run.__doc__ = f"{spec.what[0].upper()}{spec.what[1:]} gets HTTP {spec.status} {spec.error_type}."
    check(check_id, rule=rule, tier=tier)(run)


for _probe, _rule in VALIDATION.items():
    validation_check(f"errors/{_probe}", _probe, _rule)


def judging_check(probe: str) -> str:
    """The check that judges whether the bad request `probe` is rejected (and reports it when it is not)."""
    from conformance.checks.validation import VALIDATION_CHECKS

    owners = {"auth-missing": "auth/missing-key", "auth-wrong": "auth/wrong-key",
              **{name: f"errors/{name}" for name in VALIDATION},
              **{name: check_id for check_id, (name, _) in VALIDATION_CHECKS.items()}}
    return owners[probe]


@check("errors/envelope", rule="ERR-ENVELOPE", tier="free", params=tuple(BAD_REQUESTS))
def envelope(ctx: Context, probe: str):
    """The error body is the Anthropic envelope {type: error, error: {type, message}}."""
    ex = bad_request(ctx, probe)
    if ex.ok:
        owner = judging_check(probe)
        raise Blocked(owner, f"no error body to judge: the target accepted {BAD_REQUESTS[probe].what} "
                             f"(HTTP {ex.status}); {owner} reports it")
    body = ex.json
    if body is None:
        return [fail("a JSON error body", f"{ex.content_type}: {short(ex.body[:100])}")]
    return [fail("valid against error.schema.json", err.message, err.path)
            for err in schemas.validate("error", body)]


@check("errors/type-matches-status", rule="ERR-TYPE-STATUS", tier="free")
def type_matches_status(ctx: Context):
    """error.type is documented and matches the HTTP status, for every error probe."""
    out = []
    for probe, ex in judged_probes(ctx):
        body = ex.json
        error = body.get("error") if isinstance(body, dict) else None
        if ex.ok or not isinstance(error, dict) or "type" not in error:
            continue  # wrong status and missing envelopes are other checks' findings
        expected = STATUS_TYPES.get(ex.status)
        got = error.get("type")
        if got not in schemas.error_types() and got != "request_too_large":
            out.append(fail(f"a documented error.type ({expected or 'see docs: errors'})",
                            f"{short(got)} with HTTP {ex.status}", f"{probe}: $.error.type"))
        elif expected and got != expected:
            out.append(fail(f"{expected} with HTTP {ex.status}", short(got),
                            f"{probe}: $.error.type"))
    return out


@check("errors/request-id-header", rule="ERR-REQUEST-ID", tier="free")
def request_id_on_errors(ctx: Context):
    """Error responses carry a request-id header."""
    missing = [probe for probe, ex in judged_probes(ctx) if not ex.request_id]
    if missing:
        return [strict("a request-id header on every error response",
                     f"none on: {', '.join(missing)}")]
    return []


@check("errors/no-5xx-for-bad-input", rule="ERR-NO-5XX", tier="free")
def no_5xx(ctx: Context):
    """No bad request is answered with a 5xx (clients retry those, and the fault is the caller's)."""
    return [fail(f"a 4xx for {BAD_REQUESTS[probe].what}", f"HTTP {ex.status}", probe)
            for probe, ex in judged_probes(ctx) if ex.status is not None and ex.status >= 500]


@check("errors/request-id-in-body", rule="ERR-REQUEST-ID-BODY", tier="free")
def request_id_in_body(ctx: Context):
    """Error bodies carry request_id as a string, equal to the request-id header."""
    out = []
    for probe, ex in judged_probes(ctx):
        body = ex.json
        if ex.ok or not isinstance(body, dict) or body.get("type") != "error":
            continue  # no Anthropic error body: errors/envelope reports it
        value = body.get("request_id")
        if not isinstance(value, str) or not value:
            out.append(strict("request_id: a string (the real API sends it)",
                              short(value) if "request_id" in body else "missing", f"{probe}: $.request_id",
                              compat=Verdict.PASS))
        elif ex.request_id and value != ex.request_id:
            out.append(strict(f"request_id equal to the request-id header {short(ex.request_id)}",
                              short(value), f"{probe}: $.request_id", compat=Verdict.PASS))
    return out


@check("errors/not-found-path", rule="ERR-NOT-FOUND", tier="free")
def not_found_path(ctx: Context):
    """An unknown path is 404 not_found_error in the Anthropic envelope."""
    path = "/v1/no-such-endpoint-" + ctx.session.nonces.word("path")
    ex = ctx.exchange("not-found-path", lambda: ctx.request(None, method="GET", path=path))
    if ex.status != 404:
        return [strict("HTTP 404 not_found_error", f"HTTP {ex.status}")]
    errors = schemas.validate("error", ex.json) if ex.json is not None else None
    if errors is None or errors:
        got = f"{ex.content_type}: {short(ex.body[:100])}" if errors is None else f"{errors[0].path}: {errors[0].message}"
        return [strict("the Anthropic error envelope", got)]
    if ex.json["error"].get("type") != "not_found_error":
        return [strict("error.type not_found_error", short(ex.json["error"].get("type")))]
    return []
