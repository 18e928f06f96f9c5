"""API errors as values, and their Anthropic-shaped JSON bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class ApiError:
    """An error response: status, error.type and message; `raw_body` replaces the Anthropic envelope.

    A `raw_body` that is a str is sent as it is, with `media_type` as its Content-Type; any other is sent as JSON.
    """

    status: int
    type: str
    message: str
    raw_body: Any = None
    media_type: str = "text/plain; charset=utf-8"


def invalid_request(message: str) -> ApiError:
    """A 400 invalid_request_error."""
    return ApiError(400, "invalid_request_error", message)


def not_found(message: str) -> ApiError:
    """A 404 not_found_error."""
    return ApiError(404, "not_found_error", message)


def authentication(message: str) -> ApiError:
    """A 401 authentication_error."""
    return ApiError(401, "authentication_error", message)


def too_large(limit: int) -> ApiError:
    """A 413 request_too_large for a body over `limit` bytes."""
    megabytes = limit // (1024 * 1024)
    return ApiError(
        413,
        "request_too_large",
        f"Request exceeds the maximum allowed number of bytes. The maximum request size is {megabytes} MB.",
    )


def internal(message: str = "Internal server error") -> ApiError:
    """A 500 api_error."""
    return ApiError(500, "api_error", message)


def error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    """The real API's error envelope."""
    return {
        "type": "error",
        "error": {"type": error.type, "message": error.message},
        "request_id": request_id,
    }
