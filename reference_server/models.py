"""The model catalogue served by /v1/models, with the real API's pagination."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, invalid_request, not_found

_CREATED = "2025-01-01T00:00:00Z"
MODELS: tuple[dict[str, Any], ...] = tuple(
    {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": _CREATED,
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }
    for model_id, display_name in (
        ("reference-model", "Reference Model"),
        ("reference-model-thinking", "Reference Model (thinking)"),
        ("reference-model-small", "Reference Model Small"),
    )
)


def model(model_id: str) -> dict[str, Any] | ApiError:
    """One model's ModelInfo, or a 404."""
    for info in MODELS:
        if info["id"] == model_id:
            return dict(info)
    return not_found(f"model: {model_id}")


def page(query: dict[str, str]) -> dict[str, Any] | ApiError:
    """A page of ModelInfo honouring limit (1-1000, default 20), after_id and before_id."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        return invalid_request("limit: Input should be a valid integer")
    if not 1 <= limit <= 1000:
        return invalid_request("limit: Input should be between 1 and 1000")
    ids = [info["id"] for info in MODELS]
    start, end = 0, len(MODELS)
    if "after_id" in query:
        start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else len(ids)
    if "before_id" in query:
        end = ids.index(query["before_id"]) if query["before_id"] in ids else 0
    window = list(MODELS[start:end])
    chosen = window[-limit:] if "before_id" in query and "after_id" not in query else window[:limit]
    data = [dict(info) for info in chosen]
    return {
        "data": data,
        "has_more": len(chosen) < len(window),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
