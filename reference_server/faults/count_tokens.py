"""Faults of POST /v1/messages/count_tokens, caught by the count-tokens checks: the route, the count, validation.

Hooks: `route` answers for a missing endpoint, `count_tokens` rewrites (input_tokens, body) -> input_tokens, and a
`relax`ed validation rule.
"""

from __future__ import annotations

from typing import Any

from ..hooks import Fault
from ..tokens import input_tokens
from .common import route_404, route_unserved


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


FAULTS = [
    Fault(
        "count-tokens-missing",
        "count_tokens does not exist (404 not_found_error).",
        "fault",
        route=route_404("count_tokens"),
    ),
    Fault(
        "count-tokens-missing-plain",
        "count_tokens does not exist, answered as a web framework does (404 {\"detail\": \"Not Found\"}).",
        "fault",
        route=route_unserved(404, {"detail": "Not Found"}, "application/json", "count_tokens"),
    ),
    Fault(
        "count-tokens-ignores-system",
        "count_tokens leaves the system prompt out.",
        "fault",
        count_tokens=ignoring("system"),
    ),
    Fault(
        "count-tokens-ignores-tools",
        "count_tokens leaves the tool definitions out.",
        "fault",
        count_tokens=ignoring("tools"),
    ),
    Fault("count-tokens-halved", "count_tokens reports half the input tokens.", "fault", count_tokens=halved),
    Fault("count-tokens-string", "count_tokens returns input_tokens as a string.", "fault", count_tokens=as_string),
    Fault(
        "count-tokens-no-validation",
        "count_tokens bodies are not validated (no messages: 200 with 1 token).",
        "fault",
        relax=frozenset({"count-tokens-validation"}),
    ),
]
