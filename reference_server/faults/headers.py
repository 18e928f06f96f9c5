"""Faults of headers and URL forms, caught by the headers checks: ?beta=true, API versions, betas, request ids, 429s.

Hooks: `route` and `headers` checks, `relax`ed version rules, `validate` rejections of sampling parameters, the
`request_id` maker and `response_headers` rewrites.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from .. import betas
from ..errors import ApiError, internal, invalid_request, not_found
from ..hooks import Fault, RequestInfo
from .common import reject_field, rejecting, switched_off

# ----- route and headers checks: RequestInfo -> error or None -----------------------------------------------


def beta_query_404(info: RequestInfo) -> ApiError | None:
    values = parse_qs(info.query).get("beta", [])
    return not_found("Not Found") if "true" in values else None


def only_version_2026(info: RequestInfo) -> ApiError | None:
    if info.headers.get("anthropic-version") == "2023-06-01":
        return invalid_request("anthropic-version: 2023-06-01 is no longer supported; use 2026-10-21")
    return None


def only_version_2023(info: RequestInfo) -> ApiError | None:
    if info.headers.get("anthropic-version") == "2026-10-21":
        return invalid_request("anthropic-version: 2026-10-21 is not supported; use 2023-06-01")
    return None


def reject_betas(info: RequestInfo) -> ApiError | None:
    beta = info.headers.get("anthropic-beta")
    if beta is None:
        return None
    return invalid_request(f"Unexpected value(s) `{beta}` for the `anthropic-beta` header.")


def malformed_beta_500(info: RequestInfo) -> ApiError | None:
    return internal() if betas.malformed(info.headers.get("anthropic-beta")) else None


def rate_limited(info: RequestInfo) -> ApiError | None:
    """Every POST /v1/messages gets 429 rate_limit_error."""
    if info.endpoint != "messages":
        return None
    return ApiError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit.")


# ----- the request body, request ids and response headers ---------------------------------------------------


def model_without_temperature(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A model that takes no sampling parameters: the real API's 400 for temperature, in every version."""
    return invalid_request("`temperature` is deprecated for this model.") if "temperature" in body else None


def uuid_request_id() -> str:
    return str(uuid.uuid4())


def drop_retry_after(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() != "retry-after"}


def drop_ratelimit_headers(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {name: value for name, value in headers.items() if not name.lower().startswith("anthropic-ratelimit-")}


def invalid_should_retry(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {**headers, "x-should-retry": "yes"}


GATED_MODEL = "claude-opus-4-7"  # rejects temperature in every version and role: system messages


def gated_as_500(error: ApiError) -> ApiError:
    """A layer that turns every upstream 400 about "this model" into its own 500 (clients then retry, then give up)."""
    return internal() if error.status == 400 and "this model" in error.message else error


FAULTS = [
    Fault("beta-query-404", "Requests with ?beta=true get 404.", "fault", route=beta_query_404),
    Fault("only-version-2026", "anthropic-version 2023-06-01 gets 400.", "fault", headers=only_version_2026),
    Fault("only-version-2023", "anthropic-version 2026-10-21 gets 400.", "fault", headers=only_version_2023),
    Fault("reject-unknown-betas", "Any anthropic-beta header gets 400.", "fault", headers=reject_betas),
    switched_off("version-optional", "A missing anthropic-version header is accepted.", "anthropic-version"),
    switched_off(
        "accept-temperature-2026",
        "temperature, top_p and top_k are accepted under 2026-10-21.",
        "sampling-2026",
    ),
    Fault(
        "request-id-uuid",
        "The request id is a bare UUID (no req_ prefix), in headers and bodies.",
        "fault",
        request_id=uuid_request_id,
    ),
    Fault(
        "unknown-beta-500",
        "An anthropic-beta value that does not look like name-YYYY-MM-DD gets 500 api_error.",
        "fault",
        headers=malformed_beta_500,
    ),
    rejecting("model-without-temperature", "A model without sampling parameters: temperature gets 400 "
              "\"`temperature` is deprecated for this model.\" in every version.", model_without_temperature),
    rejecting("reject-temperature", "temperature gets 400 in every API version.", reject_field("temperature")),
    Fault(
        "rate-limited-without-retry-after",
        "Every POST /v1/messages gets 429 rate_limit_error, without the retry-after header.",
        "fault",
        route=rate_limited,
        response_headers=drop_retry_after,
    ),
    Fault(
        "rate-limited-without-ratelimit-headers",
        "Every POST /v1/messages gets 429 rate_limit_error with retry-after but no anthropic-ratelimit-* headers.",
        "fault",
        route=rate_limited,
        response_headers=drop_ratelimit_headers,
    ),
    Fault(
        "x-should-retry-invalid",
        "Every response carries x-should-retry: yes (the SDK reads only true or false).",
        "fault",
        response_headers=invalid_should_retry,
    ),
    Fault("model-gated-500", f"The model's documented 400 for a feature it does not offer (temperature, role: system "
          f"messages on {GATED_MODEL}) becomes a generic 500.", "fault", error=gated_as_500, model=GATED_MODEL),
]
