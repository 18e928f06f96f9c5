"""Valid but unusual variants: legal framings and shapes of the same answer, which no check may fail.

Hooks: `framing` changes, `events` rewrites (pings, extra fields) and `message` rewrites (extra fields, split text).
"""

from __future__ import annotations

from typing import Any

from ..hooks import Fault
from ..streaming import SseEvent, event
from .common import framing

EXTRA = "x_reference_extra"


def split_first_text(message: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    done = False
    for block in message["content"]:
        text = block.get("text", "") if block.get("type") == "text" else ""
        middle = _split_point(text)
        if done or middle is None:
            content.append(block)
            continue
        content += [{**block, "text": text[:middle]}, {**block, "text": text[middle:]}]
        done = True
    return {**message, "content": content}


def _split_point(text: str) -> int | None:
    words = text.split()
    if len(words) >= 2:
        position = text.find(words[0]) + len(words[0])
        for word in words[1 : (len(words) + 1) // 2]:
            position = text.find(word, position) + len(word)
        return position
    stripped = text.strip()
    return text.find(stripped) + len(stripped) // 2 if len(stripped) >= 2 else None


def extra_in_message(message: dict[str, Any]) -> dict[str, Any]:
    content = [{**block, EXTRA: "block"} for block in message["content"]]
    return {**message, EXTRA: "message", "usage": {**message["usage"], EXTRA: "usage"}, "content": content}


def extra_in_events(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent(e.name, {**e.data, EXTRA: "event"}) if isinstance(e.data, dict) else e for e in events]


def pings_everywhere(events: list[SseEvent]) -> list[SseEvent]:
    """A ping after every event; none before the first (the stream starts with message_start)."""
    ping = event({"type": "ping"})
    result: list[SseEvent] = []
    for item in events:
        result += [item, ping]
    return result


FAULTS = [
    Fault("crlf", "CRLF line endings in the stream.", "variant", framing=framing(newline="\r\n")),
    Fault("cr", "CR line endings in the stream.", "variant", framing=framing(newline="\r")),
    Fault("sse-comments", "Comment lines before and inside every event.", "variant", framing=framing(comments=True)),
    Fault(
        "multiline-data",
        "Event data pretty-printed over several data: lines.",
        "variant",
        framing=framing(multiline_data=True),
    ),
    Fault(
        "no-space-after-colon",
        "Fields written as event:x and data:{...}.",
        "variant",
        framing=framing(space_after_colon=False),
    ),
    Fault("small-chunks", "The stream body is written 3 bytes at a time.", "variant", framing=framing(chunk_size=3)),
    Fault(
        "pings-everywhere",
        "A ping after every event (message_start still comes first).",
        "variant",
        events=pings_everywhere,
    ),
    Fault(
        "extra-fields",
        "Unknown extra fields in the message, events, usage and content blocks.",
        "variant",
        message=extra_in_message,
        events=extra_in_events,
    ),
    Fault(
        "several-text-blocks",
        "The reply text comes as two consecutive text blocks.",
        "variant",
        message=split_first_text,
    ),
    Fault("bom", "A UTF-8 byte order mark starts the stream.", "variant", framing=framing(bom=True)),
]
