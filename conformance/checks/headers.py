"""Checks of request headers and URL forms real clients use: ?beta=true, both API versions, betas."""

from __future__ import annotations

from conformance.checks.acceptance import declined
from conformance.checks.bad_requests import rejected
from conformance.checks.common import model_gated, require_message, short, text_probe
from conformance.engine import Blocked, Context, Skip, Unsupported, check, fail, strict, warn
from conformance.probes import CLAUDE_CODE_BETAS
from conformance.verdicts import Finding, Verdict

VERSIONS = ("2023-06-01", "2026-10-21")


def _plain(ctx: Context, name: str, *, rule: str = "", **request) -> list[Finding]:
    ex = ctx.exchange(name, lambda: ctx.request(ctx.probes.text_body(name, max_tokens=16), **request))
    _, findings = require_message(ex, rule=rule)
    return findings


@check("headers/beta-query-string", rule="HDR-BETA-QUERY", tier="cheap")
def beta_query(ctx: Context):
    """POST /v1/messages?beta=true is served like /v1/messages."""
    return _plain(ctx, "beta-query", path="/v1/messages?beta=true")


@check("headers/anthropic-version", rule="HDR-VERSION", tier="cheap", params=VERSIONS)
def anthropic_version(ctx: Context, version: str):
    """Each anthropic-version in use by real clients is served."""
    return _plain(ctx, "version-" + version, version=version)


@check("headers/claude-code-betas", rule="HDR-BETA-HEADER", tier="cheap")
def claude_code_betas(ctx: Context):
    """The anthropic-beta set Claude Code sends does not break a plain request."""
    return _plain(ctx, "claude-code-betas", headers=(("anthropic-beta", CLAUDE_CODE_BETAS),))


def rejected_by_the_api(ex, what: str, *, rule: str = "") -> list[Finding]:
    """The real API rejects this with 400; accepting it is a strict failure the clients survive."""
    if ex.ok:
        return [strict(f"HTTP 400 invalid_request_error for {what}, as the real API answers",
                       f"HTTP {ex.status}: accepted", rule=rule)]
    return rejected(ex, 400, "invalid_request_error", what, rule=rule)


@check("headers/missing-version", rule="HDR-VERSION-REQUIRED", tier="free")
def missing_version(ctx: Context):
    """A request without anthropic-version is a 400 invalid_request_error, as on the real API."""
    ex = ctx.exchange("no-version", lambda: ctx.request(ctx.probes.text_body("no-version", max_tokens=16), version=None))
    return rejected_by_the_api(ex, "a request without anthropic-version")


@check("headers/temperature-2026", rule="HDR-VERSION-2026-RULES", tier="free")
def temperature_2026(ctx: Context):
    """Under anthropic-version 2026-10-21, temperature is rejected with 400 (removed in that version)."""
    body = {**ctx.probes.text_body("temperature-2026", max_tokens=16), "temperature": 0.5}
    ex = ctx.exchange("temperature-2026", lambda: ctx.request(body, version="2026-10-21"))
    return rejected_by_the_api(ex, "temperature under 2026-10-21")


@check("headers/temperature-2023", rule="HDR-VERSION-2023-RULES", tier="cheap")
def temperature_2023(ctx: Context):
    """Under anthropic-version 2023-06-01, temperature is accepted, unless the model rejects it in every version (its
    row in fixtures/models.json): then its 400 is unsupported and a 200 passes (a layer may drop the parameter)."""
    body = {**ctx.probes.text_body("temperature-2023", max_tokens=16), "temperature": 0.5}
    ex = ctx.exchange("temperature-2023", lambda: ctx.request(body, version="2023-06-01"))
    row = ctx.target.model_row
    model_gated(ex, f"temperature on the {row.describe()} row, which says it is {row.sampling('temperature') or 'unknown'}")
    if row.accepts_temperature is False and (refusal := declined(ex)):
        raise Unsupported(f"the {row.describe()} row says the model rejects temperature in every version; the target "
                          f"declined it cleanly ({short(refusal, 160)})")
    return require_message(ex)[1]


@check("headers/request-id-format", rule="HDR-REQUEST-ID-FORMAT", tier="cheap")
def request_id_format(ctx: Context):
    """request-id values look like the real API's (req_ prefix)."""
    ex = text_probe(ctx, "text")
    value = ex.request_id
    if not value:
        raise Blocked("message/request-id-header", "no request-id header; message/request-id-header reports it")
    if not value.startswith("req_"):
        return [strict("a request-id starting with req_", short(value), "request-id header",
                       compat=Verdict.PASS)]
    return []


@check("headers/unknown-beta", rule="HDR-UNKNOWN-BETA", tier="cheap")
def unknown_beta(ctx: Context):
    """A bogus anthropic-beta value is ignored or rejected cleanly (400 invalid_request_error), never a 5xx."""
    bogus = "not-a-real-beta-" + ctx.session.nonces.word("beta")
    ex = ctx.exchange("unknown-beta", lambda: ctx.request(ctx.probes.text_body("unknown-beta", max_tokens=16),
                                                           headers=(("anthropic-beta", bogus),)))
    if ex.ok:
        return []
    return rejected(ex, 400, "invalid_request_error", f"anthropic-beta: {bogus}")


def valid_retry_after(value: str | None) -> bool:
    """A delay in seconds (a float is allowed) or an HTTP-date."""
    if value is None:
        return False
    try:
        return float(value) >= 0
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError):
        return False


def text_probe_answers(ctx: Context) -> list[tuple[int | None, dict[str, str]]]:
    """(status, headers) of every answer to the text probe: the busy ones it was sent again after, then the last."""
    ex = ctx.use(ctx.session.exchange("text", lambda: ctx.request(ctx.probes.text_body("text"))), busy_ok=True)
    return [*ex.attempts, (ex.status, ex.headers)]


@check("headers/retry-after", rule="HDR-RETRY-AFTER", tier="cheap")
def retry_after(ctx: Context):
    """429 and 529 answers to the text probe (and its retries) carry a valid retry-after."""
    answers = text_probe_answers(ctx)
    busy = [(status, headers) for status, headers in answers if status in (429, 529)]
    if not busy:
        raise Skip("the target did not answer 429 or 529 in this run, so there is nothing to judge")
    # Spend-limit 429s of the real API carry no retry-after (contract.md 8.2): a warning, not a failure.
    return [warn(f"a retry-after header (seconds or an HTTP-date) with HTTP {status}",
                 short(headers.get("retry-after")) if "retry-after" in headers else "no retry-after header",
                 f"attempt {n + 1} of {len(answers)}")
            for n, (status, headers) in enumerate(answers)
            if status in (429, 529) and not valid_retry_after(headers.get("retry-after"))]


@check("headers/ratelimit-headers", rule="HDR-RATELIMIT", tier="cheap")
def ratelimit_headers(ctx: Context):
    """429 answers to the text probe (and its retries) say which limit was hit in anthropic-ratelimit-* headers."""
    answers = text_probe_answers(ctx)
    if not any(status == 429 for status, _ in answers):
        raise Skip("the target did not answer 429 in this run, so there is nothing to judge")
    # a layer with limits of its own may have no such headers to give: a warning (Claude Code then shows no usage
    # warnings, and a gateway that drops the upstream's is caught from both sides in gateway mode)
    return [warn("anthropic-ratelimit-* headers with HTTP 429 (which limit, how much is left, when "
                 "it resets)", "none", f"attempt {n + 1} of {len(answers)}")
            for n, (status, headers) in enumerate(answers)
            if status == 429 and not any(name.lower().startswith("anthropic-ratelimit-") for name in headers)]


@check("headers/x-should-retry", rule="HDR-SHOULD-RETRY", tier="cheap")
def x_should_retry(ctx: Context):
    """x-should-retry, when a response carries it, is true or false (the SDK obeys it over the status)."""
    from conformance.checks.bad_requests import bad_request

    exchanges = [text_probe(ctx, "text"), bad_request(ctx, "auth-missing"), bad_request(ctx, "missing-max-tokens")]
    return [fail("x-should-retry: true or false", short(ex.headers["x-should-retry"]), ex.name)
            for ex in exchanges if "x-should-retry" in ex.headers and ex.headers["x-should-retry"] not in ("true", "false")]
