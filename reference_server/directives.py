"""The probe directives the fake model obeys (reply with a text, call tools, echo a tool result)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_DIRECTIVE = re.compile(
    r"(?P<tool_result>reply\s+with\s+exactly\s+the\s+tool\s+result)"
    r"|(?P<reply>reply\s+with\s+exactly\s*:)"
    r"|(?P<call>call\s+the\s+tool\s+(?P<tick>`?)(?P<name>[A-Za-z0-9_-]+)(?P=tick)\s+with\s+input)",
    re.IGNORECASE,
)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ToolCall:
    """A directed tool call: the tool's name and its input object."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """What one directive source asks for: a reply text, tool calls, and whether to echo tool results."""

    text: str | None = None
    calls: tuple[ToolCall, ...] = field(default=())
    echo_tool_result: bool = False

    @property
    def directs_output(self) -> bool:
        """True when the source asks for a reply text or for tool calls."""
        return self.text is not None or bool(self.calls)


def parse(text: str) -> Plan:
    """The directives in `text`, matched case-insensitively and in order of position.

    D1 ``Reply with exactly: TEXT`` (TEXT runs to the end of the line; the last D1 wins), D2 ``Call the
    tool NAME with input {JSON}`` (each is a call, in order), D3 ``Reply with exactly the tool result``
    (sets the echo flag). Text consumed by one directive (a D1's TEXT, a D2's JSON) is never read as
    another directive.
    """
    reply: str | None = None
    calls: list[ToolCall] = []
    echo = False
    position = 0
    while (match := _DIRECTIVE.search(text, position)) is not None:
        position = match.end()
        if match.group("tool_result"):
            echo = True
        elif match.group("reply"):
            line_end = _line_end(text, match.end())
            candidate = text[match.end() : line_end].strip()
            position = line_end
            if candidate:
                reply = candidate
        else:
            parsed = _json_object_after(text, match.end())
            if parsed is not None:
                tool_input, position = parsed
                calls.append(ToolCall(match.group("name"), tool_input))
    return Plan(reply, tuple(calls), echo)


def _line_end(text: str, start: int) -> int:
    ends = [index for index in (text.find("\n", start), text.find("\r", start)) if index >= 0]
    return min(ends) if ends else len(text)


def _json_object_after(text: str, start: int) -> tuple[dict[str, Any], int] | None:
    brace = text.find("{", start)
    if brace < 0:
        return None
    try:
        value, end = _DECODER.raw_decode(text, brace)
    except ValueError:
        return None
    return (value, end) if isinstance(value, dict) else None
