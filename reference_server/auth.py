"""Credential checks: a key in x-api-key or Authorization: Bearer, as the real API accepts both."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ApiError, authentication

MISSING_KEY = "x-api-key header is required"
WRONG_KEY = "invalid x-api-key"


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def presented_keys(headers: Mapping[str, str], *, x_api_key: bool = True, bearer: bool = True) -> list[str]:
    """The non-empty key a request presents in the headers that are read: x-api-key when it is there (the real API
    authenticates with it when both are sent), else the Bearer token."""
    keys = [
        headers.get("x-api-key", "").strip() if x_api_key else "",
        (bearer_token(headers) or "") if bearer else "",
    ]
    return [key for key in keys if key][:1]


def check_key(
    headers: Mapping[str, str], expected: str | None, *, x_api_key: bool = True, bearer: bool = True
) -> ApiError | None:
    """None when a read header carries the expected key (any non-empty key when `expected` is None)."""
    keys = presented_keys(headers, x_api_key=x_api_key, bearer=bearer)
    if not keys:
        return authentication(MISSING_KEY)
    if expected is None or expected in keys:
        return None
    return authentication(WRONG_KEY)
