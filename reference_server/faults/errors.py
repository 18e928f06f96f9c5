"""Faults of error responses, caught by the errors checks: the envelope, request ids, and crashes on bad input.

Hooks: `error_body` and `response_headers` rewrites, `request` defaults, `validate` crashes, a `route` 404 page.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import ApiError, internal
from ..hooks import Fault, RequestInfo
from .common import rejecting

NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n"
)


def openai_error(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": None, "code": str(error.status)}}


def pascal_error_type(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    body = copy.deepcopy(body)
    if isinstance(body.get("error"), dict):
        body["error"]["type"] = "".join(part.capitalize() for part in error.type.split("_"))
    return body


def drop_body_request_id(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def drop_request_id_header(headers: dict[str, str], kind: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != "request-id"}


def null_request_id(body: dict[str, Any], error: ApiError) -> dict[str, Any]:
    return {**body, "request_id": None} if "request_id" in body else body


def default(field: str, value: Any, endpoint: str = "") -> Any:
    """A request hook: `field` is `value` when the body has none (on `endpoint` only, when given)."""

    def hook(body: dict[str, Any], request_endpoint: str) -> dict[str, Any]:
        if endpoint and request_endpoint != endpoint:
            return body
        return {field: value, **body}

    return hook


def crash_on_missing_messages(body: dict[str, Any], endpoint: str) -> ApiError | None:
    return internal("Internal server error") if "messages" not in body else None


def crash_on_messages_object(body: dict[str, Any], endpoint: str) -> ApiError | None:
    return internal() if isinstance(body.get("messages"), dict) else None


def not_found_html(info: RequestInfo) -> ApiError | None:
    if info.endpoint:
        return None
    return ApiError(
        404, "not_found_error", "Not Found", raw_body=NOT_FOUND_HTML, media_type="text/html; charset=utf-8"
    )


FAULTS = [
    Fault(
        "openai-error-shape",
        "Error bodies use the OpenAI envelope {error:{message,type,param,code}}.",
        "fault",
        error_body=openai_error,
    ),
    Fault("error-type-pascal-case", "error.type is PascalCase (InvalidRequestError...).", "fault",
          error_body=pascal_error_type),
    Fault(
        "no-request-id",
        "No request-id header on any response and no request_id in error bodies.",
        "fault",
        error_body=drop_body_request_id,
        response_headers=drop_request_id_header,
    ),
    Fault(
        "max-tokens-optional",
        "A missing max_tokens is accepted (default 1024).",
        "fault",
        request=default("max_tokens", 1024, "messages"),
    ),
    Fault(
        "model-optional",
        "A missing model is accepted (default reference-model).",
        "fault",
        request=default("model", "reference-model"),
    ),
    Fault(
        "crash-on-missing-messages",
        "A missing messages field crashes the server (500 api_error).",
        "fault",
        validate=crash_on_missing_messages,
    ),
    Fault("invalid-json-500", "An unparsable body gets 500 api_error.", "fault", bad_json=internal()),
    rejecting(
        "crash-on-messages-object",
        "messages given as an object crashes the server (500 api_error).",
        crash_on_messages_object,
    ),
    Fault("not-found-html", "Unknown paths get a text/html 404 page.", "fault", route=not_found_html),
    Fault(
        "request-id-body-null",
        'Error bodies carry "request_id": null (the header is unchanged).',
        "fault",
        error_body=null_request_id,
    ),
]
