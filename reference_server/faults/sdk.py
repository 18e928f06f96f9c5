"""Faults that only the client-compatibility (sdk) checks catch: a Message or stream the official SDK cannot read.

Hooks: a `json_message` rewrite and an `events` rewrite (both from the shared helpers).
"""

from __future__ import annotations

from ..hooks import Fault
from .common import drop, without

FAULTS = [
    Fault("message-missing-usage", "The non-stream Message has no usage.", "fault", json_message=without("usage")),
    Fault("sse-no-message-start", "The stream has no message_start.", "fault", events=drop("message_start")),
]
