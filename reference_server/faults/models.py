"""Faults of GET /v1/models and /v1/models/{id}, caught by the models checks: the route, the page, lookups.

Hooks: `route` answers for a missing endpoint and `models` changes of how the list answers.
"""

from __future__ import annotations

from ..hooks import Fault
from ..models import with_settings
from .common import route_404, route_unserved

FAULTS = [
    Fault(
        "models-missing",
        "GET /v1/models and /v1/models/{id} do not exist (404 not_found_error).",
        "fault",
        route=route_404("models", "model"),
    ),
    Fault(
        "models-missing-plain",
        "GET /v1/models and /v1/models/{id} are not routed: 405 with a plain-text body.",
        "fault",
        route=route_unserved(405, "Method Not Allowed", "text/plain; charset=utf-8", "models", "model"),
    ),
    Fault(
        "models-openai-shape",
        "/v1/models answers in the OpenAI shape {object: list, data: [{id, object, created, owned_by}]}.",
        "fault",
        models=with_settings(openai_shape=True),
    ),
    Fault("models-get-404", "GET /v1/models/{id} is always 404.", "fault", models=with_settings(get_by_id=False)),
    Fault(
        "models-unknown-200",
        "GET /v1/models/<unknown> answers a made-up ModelInfo.",
        "fault",
        models=with_settings(invent_unknown=True),
    ),
    Fault(
        "models-ignore-limit",
        "limit is ignored: all models, has_more false.",
        "fault",
        models=with_settings(honour_limit=False),
    ),
    Fault(
        "models-created-at-epoch",
        "created_at is an integer epoch instead of an RFC 3339 string.",
        "fault",
        models=with_settings(epoch_created_at=True),
    ),
]
