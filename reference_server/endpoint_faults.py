"""Fault hooks on count_tokens results and on credential checks (per endpoint or everywhere)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth import bearer_token, check_key
from .errors import ApiError
from .tokens import input_tokens

COUNT_TOKENS = frozenset({"count_tokens"})
MODELS = frozenset({"models", "model"})

# ----- count_tokens: (input_tokens, body) -> input_tokens --------------------------------------------------


def ignoring(field: str) -> Any:
    """The count without what `field` contributes."""

    def hook(count: Any, body: dict[str, Any]) -> Any:
        if field not in body or not isinstance(count, int):
            return count
        without = {key: value for key, value in body.items() if key != field}
        return max(1, count - (input_tokens(body) - input_tokens(without)))

    return hook


def halved(count: Any, body: dict[str, Any]) -> Any:
    return count // 2 if isinstance(count, int) else count


def as_string(count: Any, body: dict[str, Any]) -> Any:
    return str(count)


# ----- auth: (headers, expected key) -> error or None ------------------------------------------------------


def bearer_only(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    """Only Authorization: Bearer is read (an x-api-key alone gets the Anthropic-shaped 401)."""
    return check_key(headers, expected, x_api_key=False)


def any_bearer(headers: Mapping[str, str], expected: str | None) -> ApiError | None:
    """Any Bearer value is accepted; x-api-key is still checked."""
    if bearer_token(headers) is not None:
        return None
    return check_key(headers, expected, bearer=False)
