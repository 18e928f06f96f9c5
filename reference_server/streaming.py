"""A Message as the documented SSE event sequence, and an event list as text/event-stream bytes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .tokens import WORD

BOM = "\ufeff"
TOOL_JSON_PIECE = 10
WORDS_PER_DELTA = 3


@dataclass(frozen=True)
class SseEvent:
    """One SSE event: its `event:` name (None: no event line) and its data (a JSON object or raw text)."""

    name: str | None
    data: Any


@dataclass(frozen=True)
class Framing:
    """How events are written: line ending, spacing, comments, data line splitting, BOM and chunking."""

    newline: str = "\n"
    space_after_colon: bool = True
    comments: bool = False
    multiline_data: bool = False
    bom: bool = False
    chunk_size: int | None = None
    unterminated_tail: str = ""  # bytes of a last event cut off before its end (a dropped connection)
    pause_after_first: float = 0.0  # seconds of silence (no ping) after the first chunk


PLAIN = Framing()


def event(data: dict[str, Any]) -> SseEvent:
    """A named event whose name is its data's type."""
    return SseEvent(data["type"], data)


def word_pieces(text: str, per_piece: int = WORDS_PER_DELTA) -> list[str]:
    """Text cut into pieces of a few words (spacing kept); two or more words give two or more pieces."""
    starts = [match.start() for match in WORD.finditer(text)]
    if len(starts) < 2:
        return [text] if text else []
    per_piece = max(1, min(per_piece, len(starts) // 2))
    cuts = [0, *starts[per_piece::per_piece], len(text)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if text[a:b]]


def tool_json_pieces(tool_input: Any) -> list[str]:
    """The input_json_delta fragments of a tool input: "" first, then its JSON in ~10-character pieces."""
    encoded = json.dumps(tool_input)
    return [""] + [encoded[i : i + TOOL_JSON_PIECE] for i in range(0, len(encoded), TOOL_JSON_PIECE)]


def _block_events(index: int, block: dict[str, Any]) -> list[SseEvent]:
    kind = block.get("type")
    extras = {
        key: value
        for key, value in block.items()
        if key not in ("type", "text", "thinking", "signature", "input")
    }
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        start = {"type": "text", "text": "", **extras}
        deltas = [{"type": "text_delta", "text": piece} for piece in word_pieces(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": "", **extras}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in word_pieces(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}, **extras}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece} for piece in tool_json_pieces(block["input"])
        ]
    else:
        start = copy.deepcopy(block)
    return [
        event({"type": "content_block_start", "index": index, "content_block": start}),
        *(event({"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas),
        event({"type": "content_block_stop", "index": index}),
    ]


def message_events(message: dict[str, Any]) -> list[SseEvent]:
    """The stream of a Message: message_start, ping, the blocks, message_delta, message_stop."""
    usage = dict(message.get("usage") or {})
    final_output = usage.get("output_tokens", 0)
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}  # the rest is only read
    if "usage" in message:
        start["usage"] = {**usage, "output_tokens": min(1, final_output)}
    events = [event({"type": "message_start", "message": start}), event({"type": "ping"})]
    for index, block in enumerate(message.get("content") or []):
        events.extend(_block_events(index, block))
    delta_usage = {key: value for key, value in usage.items() if key != "service_tier"}
    events.append(
        event(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message.get("stop_reason"),
                    "stop_sequence": message.get("stop_sequence"),
                },
                "usage": {"output_tokens": final_output, **delta_usage},
            }
        )
    )
    events.append(event({"type": "message_stop"}))
    return events


COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # made once, not per event


def _data_text(data: Any, framing: Framing) -> str:
    if isinstance(data, str):
        return data
    if framing.multiline_data:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return COMPACT_JSON(data)


def encode_event(item: SseEvent, framing: Framing = Framing()) -> str:
    """One event as SSE text, ending with its blank line."""
    if framing == PLAIN and item.name is not None and not isinstance(item.data, str):
        return f"event: {item.name}\ndata: {COMPACT_JSON(item.data)}\n\n"  # compact JSON has no line breaks
    colon = ": " if framing.space_after_colon else ":"
    lines = [": keep-alive"] if framing.comments else []
    if item.name is not None:
        lines.append(f"event{colon}{item.name}")
    if framing.comments:
        lines.append(": reference-server")
    lines.extend(f"data{colon}{line}" for line in _data_text(item.data, framing).split("\n"))
    return "".join(line + framing.newline for line in lines) + framing.newline


def encode(events: list[SseEvent], framing: Framing = Framing()) -> bytes:
    """The whole stream body."""
    text = "".join(encode_event(item, framing) for item in events)
    return ((BOM if framing.bom else "") + text + framing.unterminated_tail).encode("utf-8")


def body_chunks(events: list[SseEvent], framing: Framing = Framing()) -> Iterator[bytes]:
    """The stream body as it is written: one chunk per event, or `chunk_size` bytes at a time."""
    if framing.chunk_size:
        data = encode(events, framing)
        for offset in range(0, len(data), framing.chunk_size):
            yield data[offset : offset + framing.chunk_size]
        return
    if framing.bom:
        yield BOM.encode("utf-8")
    for item in events:
        yield encode_event(item, framing).encode("utf-8")
    if framing.unterminated_tail:
        yield framing.unterminated_tail.encode("utf-8")
