"""Checks of error responses: status and error.type per bad request, the envelope, and request-id."""

from __future__ import annotations

from conformance import schemas
from conformance.checks.auth import ERROR_PROBES, error_probe, rejected
from conformance.checks.common import short
from conformance.engine import Context, check, fail, warn

# The documented status -> error.type table (docs: errors).
STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 409: "conflict_error",
                413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error",
                529: "overloaded_error"}
VALIDATION = {"missing-max-tokens": "VAL-MAX-TOKENS", "missing-model": "VAL-MODEL",
              "missing-messages": "VAL-MESSAGES", "invalid-json": "VAL-JSON"}


def _validation(probe: str):
    def run(ctx: Context):
        _, status, error_type, what = ERROR_PROBES[probe]
        return rejected(error_probe(ctx, probe), VALIDATION[probe], status, error_type, what)

    run.__doc__ = f"{ERROR_PROBES[probe][3].capitalize()} gets 400 invalid_request_error."
    return run


for _probe, _rule in VALIDATION.items():
    check(f"errors/{_probe}", rule=_rule, tier="free")(_validation(_probe))


@check("errors/envelope", rule="ERR-ENVELOPE", tier="free", params=tuple(ERROR_PROBES))
def envelope(ctx: Context, probe: str):
    """The error body is the Anthropic envelope {type: error, error: {type, message}}."""
    ex = error_probe(ctx, probe)
    if ex.ok:
        return [fail("ERR-ENVELOPE", f"an error response to {ERROR_PROBES[probe][3]}", f"HTTP {ex.status}")]
    body = ex.json
    if body is None:
        return [fail("ERR-ENVELOPE", "a JSON error body", f"{ex.content_type}: {short(ex.body[:100])}")]
    return [fail("ERR-ENVELOPE", "valid against error.schema.json", err.message, err.path)
            for err in schemas.validate("error", body)]


@check("errors/type-matches-status", rule="ERR-TYPE-STATUS", tier="free")
def type_matches_status(ctx: Context):
    """error.type is documented and matches the HTTP status, for every error probe."""
    out = []
    for probe in ERROR_PROBES:
        ex = error_probe(ctx, probe)
        body = ex.json
        error = body.get("error") if isinstance(body, dict) else None
        if ex.ok or not isinstance(error, dict) or "type" not in error:
            continue  # wrong status and missing envelopes are other checks' findings
        expected = STATUS_TYPES.get(ex.status)
        got = error.get("type")
        if got not in schemas.error_types() and got != "request_too_large":
            out.append(fail("ERR-TYPE-STATUS", f"a documented error.type ({expected or 'see docs: errors'})",
                            f"{short(got)} with HTTP {ex.status}", f"{probe}: $.error.type"))
        elif expected and got != expected:
            out.append(fail("ERR-TYPE-STATUS", f"{expected} with HTTP {ex.status}", short(got),
                            f"{probe}: $.error.type"))
    return out


@check("errors/request-id-header", rule="ERR-REQUEST-ID", tier="free")
def request_id_on_errors(ctx: Context):
    """Error responses carry a request-id header."""
    missing = [probe for probe in ERROR_PROBES if not error_probe(ctx, probe).request_id]
    if missing:
        return [warn("ERR-REQUEST-ID", "a request-id header on every error response",
                     f"none on: {', '.join(missing)}")]
    return []
