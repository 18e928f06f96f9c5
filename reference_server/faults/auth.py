"""Faults of authentication, caught by the auth checks: which credential header is read, on every endpoint or one.

Hooks: `auth` replacements (headers, expected key) -> error or None; `auth_endpoints` narrows one to an endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..auth import bearer_token, check_key, presented_keys
from ..errors import ApiError
from ..hooks import Auth, Fault

COUNT_TOKENS = frozenset({"count_tokens"})
MODELS = frozenset({"models", "model"})


def bearer_only(raw_missing: bool) -> Auth:
    """Only Authorization: Bearer is read. Without a Bearer token the 401 is Anthropic's, or, when `raw_missing`, a
    bare {"error": "Missing authentication token"} body (as a layer that checks the header itself answers)."""

    def check(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
        if raw_missing and bearer_token(headers) is None:
            message = "Missing authentication token"
            return ApiError(401, "authentication_error", message, raw_body={"error": message})
        return check_key(headers, expected, x_api_key=False)

    return check


def bearer_first(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    """Authorization: Bearer is read first when present (a layer that prefers it over x-api-key)."""
    if bearer_token(headers) is not None:
        return check_key(headers, expected, x_api_key=False)
    return check_key(headers, expected)


def x_api_key_only(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    return check_key(headers, expected, bearer=False)


def no_auth(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    return None


def wrong_key_403(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    error = check_key(headers, expected)
    if error is not None and presented_keys(headers):
        return ApiError(
            403, "permission_error", "Your API key does not have permission to use this resource."
        )
    return error


def any_bearer(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    """Any Bearer value is accepted; x-api-key is still checked."""
    if bearer_token(headers) is not None:
        return None
    return check_key(headers, expected, bearer=False)


FAULTS = [
    Fault(
        "bearer-first-auth",
        "Authorization: Bearer is read first when present: a valid x-api-key sent with another Bearer value gets 401.",
        "fault",
        auth=bearer_first,
    ),
    Fault(
        "bearer-only-auth",
        "Only Authorization: Bearer is read; x-api-key alone gets a non-Anthropic 401 body.",
        "fault",
        auth=bearer_only(raw_missing=True),
    ),
    Fault("x-api-key-only-auth", "Only x-api-key is read; a Bearer-only request gets 401.", "fault", auth=x_api_key_only),
    Fault("auth-not-enforced", "Any key, or none, is accepted.", "fault", auth=no_auth),
    Fault("wrong-key-403", "A wrong key gets 403 permission_error instead of 401.", "fault", auth=wrong_key_403),
    Fault(
        "wrong-bearer-accepted",
        "Any Authorization: Bearer value is accepted (x-api-key is still checked).",
        "fault",
        auth=any_bearer,
    ),
    # per endpoint
    Fault(
        "count-tokens-bearer-only",
        "count_tokens reads only Authorization: Bearer.",
        "fault",
        auth=bearer_only(raw_missing=False),
        auth_endpoints=COUNT_TOKENS,
    ),
    Fault(
        "count-tokens-x-api-key-only",
        "count_tokens reads only x-api-key.",
        "fault",
        auth=x_api_key_only,
        auth_endpoints=COUNT_TOKENS,
    ),
    Fault(
        "count-tokens-no-auth",
        "count_tokens accepts requests without a key.",
        "fault",
        auth=no_auth,
        auth_endpoints=COUNT_TOKENS,
    ),
    Fault(
        "models-bearer-only",
        "/v1/models reads only Authorization: Bearer.",
        "fault",
        auth=bearer_only(raw_missing=False),
        auth_endpoints=MODELS,
    ),
    Fault("models-x-api-key-only", "/v1/models reads only x-api-key.", "fault", auth=x_api_key_only, auth_endpoints=MODELS),
    Fault("models-no-auth", "/v1/models accepts requests without a key.", "fault", auth=no_auth, auth_endpoints=MODELS),
]
