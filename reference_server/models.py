"""The model catalogue served by /v1/models, with the real API's pagination, and the unknown-model rule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import ApiError, invalid_request, not_found

REFERENCE_MODEL = ("reference-model", "Reference Model", "2026-01-01T00:00:00Z", 200000, 64000)
CREATED_AT = "2026-01-01T00:00:00Z"  # the table has no release dates: one fixed instant for every Claude model


def _catalogue() -> tuple[dict[str, Any], ...]:
    """reference-model first (a run without --model gets it), then every id of fixtures/models.json in its order."""
    from conformance.model_table import row_for, table

    listed = [REFERENCE_MODEL]
    for name, data in table()["models"].items():
        row = row_for(None, override=name)
        listed += [(model_id, data["display_name"], CREATED_AT, row.context_window or 200000,
                    row.max_output_tokens or 64000) for model_id in data["ids"]]
    return tuple(
        {"type": "model", "id": model_id, "display_name": display_name, "created_at": created_at,
         "lifecycle": "active", "deprecated_at": None, "retires_at": None, "max_input_tokens": max_input,
         "max_tokens": max_output}
        for model_id, display_name, created_at, max_input, max_output in listed)


MODELS: tuple[dict[str, Any], ...] = _catalogue()
_BY_ID = {info["id"]: info for info in MODELS}
_IDS = [info["id"] for info in MODELS]
CLAUDE_PREFIX = "claude-"


@dataclass(frozen=True)
class ModelsSettings:
    """How /v1/models answers; faults change parts of it."""

    honour_limit: bool = True
    openai_shape: bool = False  # {"object": "list", "data": [{"id", "object", "created", "owned_by"}]}
    epoch_created_at: bool = False  # created_at as an integer epoch
    get_by_id: bool = True  # False: GET /v1/models/{id} is always 404
    invent_unknown: bool = False  # GET /v1/models/<unknown> answers a made-up ModelInfo


DEFAULT_MODELS_SETTINGS = ModelsSettings()


def known(model_id: Any) -> bool:
    """True for a catalogue id, and for any claude-* id (the fake answers for every Claude model)."""
    return isinstance(model_id, str) and (model_id in _BY_ID or model_id.startswith(CLAUDE_PREFIX))


def unknown_model(model_id: Any) -> ApiError | None:
    """The real API's 404 for a model it does not serve, or None."""
    if not isinstance(model_id, str) or known(model_id):
        return None
    return not_found(f"model: {model_id}")


def _epoch(created_at: str) -> int:
    return int(datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp())


def _shaped(info: dict[str, Any], settings: ModelsSettings) -> dict[str, Any]:
    if settings.openai_shape:
        return {
            "id": info["id"],
            "object": "model",
            "created": _epoch(info["created_at"]),
            "owned_by": "reference",
        }
    if settings.epoch_created_at:
        return {**info, "created_at": _epoch(info["created_at"])}
    return dict(info)


def model(model_id: str, settings: ModelsSettings = DEFAULT_MODELS_SETTINGS) -> dict[str, Any] | ApiError:
    """One model's ModelInfo, or a 404."""
    info = _BY_ID.get(model_id) if settings.get_by_id else None
    if info is None and settings.get_by_id and settings.invent_unknown:
        info = {**MODELS[0], "id": model_id, "display_name": model_id}
    if info is None:
        return not_found(f"model: {model_id}")
    return _shaped(info, settings)


def page(
    query: dict[str, str], settings: ModelsSettings = DEFAULT_MODELS_SETTINGS
) -> dict[str, Any] | ApiError:
    """A page of ModelInfo honouring limit (1-1000, default 20), after_id and before_id."""
    if not settings.honour_limit:
        query = {key: value for key, value in query.items() if key != "limit"}
        limit = len(MODELS)
    else:
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            return invalid_request("limit: Input should be a valid integer")
        if not 1 <= limit <= 1000:
            return invalid_request(
                "limit: Input should be greater than or equal to 1 and less than or equal to 1000"
            )
    start, end = 0, len(MODELS)
    if "after_id" in query:
        start = _IDS.index(query["after_id"]) + 1 if query["after_id"] in _BY_ID else len(_IDS)
    if "before_id" in query:
        end = _IDS.index(query["before_id"]) if query["before_id"] in _BY_ID else 0
    window = list(MODELS[start:end])
    chosen = window[-limit:] if "before_id" in query and "after_id" not in query else window[:limit]
    data = [_shaped(info, settings) for info in chosen]
    if settings.openai_shape:
        return {"object": "list", "data": data}
    return {
        "data": data,
        "has_more": len(chosen) < len(window),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def with_settings(**changes: bool) -> Any:
    """A `models` fault hook that changes these settings."""
    return lambda settings: dataclasses.replace(settings, **changes)
