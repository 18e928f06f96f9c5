"""What the validation modules share: the failure, the context, type checks and the relaxable rule names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

VERSION_2026 = "2026-10-21"
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MAX_CACHE_BREAKPOINTS = 4

# Standard rules a fault may switch off (Fault.relax), by name. The app owns the last five.
RELAXABLE = frozenset(
    {
        "empty-messages",  # messages: at least one message is required
        "unknown-role",  # a role other than user, assistant, system (the message is then ignored)
        "empty-text-block",  # text blocks (and string contents) must be non-empty
        "orphan-tool-result",  # a tool_result must answer a tool_use of the previous turn
        "unanswered-tool-use",  # a tool_use must be answered in the next user turn
        "tool-name",  # tool names match ^[a-zA-Z0-9_-]{1,128}$
        "unknown-fields",  # unknown top-level fields are 400 "Extra inputs are not permitted"
        "cache-breakpoints",  # at most 4 cache_control breakpoints
        "max-tokens-negative",  # max_tokens >= 0
        "max-tokens-string",  # max_tokens given as a string
        "tool-choice-name",  # tool_choice {type: tool} names a tool of the request
        "thinking-budget",  # thinking.budget_tokens >= 1024
        "sampling-2026",  # temperature, top_p, top_k are removed in 2026-10-21
        "content-2026",  # 2026-10-21: no document in an assistant turn, no citations in user text
        "anthropic-version",  # the anthropic-version header is required
        "unknown-model",  # an unknown model is 404 not_found_error
        "body-size",  # a body over the size cap is 413 request_too_large
        "count-tokens-validation",  # count_tokens bodies are validated at all
    }
)


class Invalid(Exception):
    """A validation failure; its message is the API's error message."""


@dataclass
class Context:
    """One validation run: the endpoint, version, body, rules switched off and what was counted so far."""

    endpoint: str
    version: str
    body: dict[str, Any]
    relaxed: frozenset[str] = frozenset()
    breakpoints: int = 0
    tool_names: list[str] = field(default_factory=list)

    def enforces(self, rule: str) -> bool:
        """True unless a fault switched `rule` off."""
        return rule not in self.relaxed


def fail(message: str) -> None:
    raise Invalid(message)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def string(value: Any, path: str, *, non_empty: bool = False) -> None:
    if not isinstance(value, str):
        fail(f"{path}: Input should be a valid string")
    if non_empty and not value:
        fail(f"{path}: String should have at least 1 character")


def dictionary(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        fail(f"{path}: Input should be a valid dictionary")


def one_of(value: Any, path: str, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        fail(f"{path}: Input should be " + " or ".join(f"'{item}'" for item in allowed))


def cache_control(holder: dict[str, Any], path: str, ctx: Context) -> None:
    if holder.get("cache_control") is None:
        return
    control = holder["cache_control"]
    dictionary(control, f"{path}.cache_control")
    one_of(control.get("type"), f"{path}.cache_control.type", ("ephemeral",))
    if "ttl" in control:
        one_of(control["ttl"], f"{path}.cache_control.ttl", ("5m", "1h"))
    ctx.breakpoints += 1
