"""Faults of system handling, caught by the system checks: a system string or blocks dropped, role: system refused.

Hooks: `responder` settings and `validate` rejections of role: system messages.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from .common import messages, rejecting, settings


def reject_role_system(body: dict[str, Any], endpoint: str) -> ApiError | None:
    for number, message in enumerate(messages(body)):
        if isinstance(message, dict) and message.get("role") == "system":
            return invalid_request(f"messages.{number}.role: Input should be 'user' or 'assistant'")
    return None


def model_without_role_system(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """A model without mid-conversation system messages: the real API's 400 for a role: system message."""
    if any(isinstance(m, dict) and m.get("role") == "system" for m in messages(body)):
        return invalid_request("role 'system' is not supported on this model")
    return None


FAULTS = [
    Fault(
        "system-string-ignored",
        "A top-level system string is dropped.",
        "fault",
        responder=settings(system_string=False),
    ),
    Fault(
        "system-blocks-ignored",
        "A top-level system given as blocks is dropped.",
        "fault",
        responder=settings(system_blocks=False),
    ),
    Fault("role-system-rejected", "role: system messages get 400.", "fault", validate=reject_role_system),
    # what the real API answers for a model that does not offer a feature: the checks call it unsupported
    rejecting("model-without-role-system", "A model without role: system messages: 400 \"role 'system' is not "
              "supported on this model\".", model_without_role_system),
]
