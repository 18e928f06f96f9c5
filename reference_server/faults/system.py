"""Faults of system handling, caught by the system checks: a system string or blocks dropped, role: system refused.

Hooks: `responder` settings and `validate` rejections of role: system messages.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from .common import messages, rejecting, settings


def refuse_role_system(wording: str) -> Any:
    """A validate hook: 400 for the first role: system message, in `wording` (formatted with its index `n`)."""
    def hook(body: dict[str, Any], endpoint: str) -> ApiError | None:
        for number, message in enumerate(messages(body)):
            if isinstance(message, dict) and message.get("role") == "system":
                return invalid_request(wording.format(n=number))
        return None

    return hook


reject_role_system = refuse_role_system("messages.{n}.role: Input should be 'user' or 'assistant'")


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
    rejecting("role-system-rejected-own-words", "role: system messages get 400 in a layer's own words, naming "
              "neither a system message nor a schema's role choice (\"messages[1].role must be 'user' or 'assistant', "
              "got 'system'\").", refuse_role_system("messages[{n}].role must be 'user' or 'assistant', got 'system'")),
    # what the real API answers for a model that does not offer a feature: the checks call it unsupported
    rejecting("model-without-role-system", "A model without role: system messages: 400 \"role 'system' is not "
              "supported on this model\".", model_without_role_system),
]
