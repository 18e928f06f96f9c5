"""Fault hooks on the answer: the Message (streamed, not streamed, or both) and the streamed event list."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .streaming import SseEvent

NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _data(item: SseEvent) -> dict[str, Any]:
    return item.data if isinstance(item.data, dict) else {}


def _with_content(message: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    return {**message, "content": content}


# ----- the Message --------------------------------------------------------------------------------------


def mangle_non_ascii(message: dict[str, Any]) -> dict[str, Any]:
    content = []
    for block in message["content"]:
        for key in ("text", "thinking"):
            if block.get("type") == key and isinstance(block.get(key), str):
                block = {**block, key: NON_ASCII.sub("?", block[key])}
        content.append(block)
    return _with_content(message, content)


def duplicate_tool_ids(message: dict[str, Any]) -> dict[str, Any]:
    ids = [block["id"] for block in message["content"] if block.get("type") == "tool_use"]
    if not ids:
        return message
    content = [{**b, "id": ids[0]} if b.get("type") == "tool_use" else b for b in message["content"]]
    return _with_content(message, content)


def thinking_without_signature(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {k: v for k, v in b.items() if k != "signature"} if b.get("type") == "thinking" else b
        for b in message["content"]
    ]
    return _with_content(message, content)


def thinking_as_text(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {"type": "text", "text": b.get("thinking", "")} if b.get("type") == "thinking" else b
        for b in message["content"]
    ]
    return _with_content(message, content)


def end_turn_for(stop_reason: str) -> Any:
    """The Message reports end_turn (and no stop_sequence) where it would report `stop_reason`."""

    def hook(message: dict[str, Any]) -> dict[str, Any]:
        if message.get("stop_reason") != stop_reason:
            return message
        return {**message, "stop_reason": "end_turn", "stop_sequence": None}

    return hook


def tool_input_extra_key(message: dict[str, Any]) -> dict[str, Any]:
    content = [
        {**b, "input": {**b["input"], "extra": True}} if b.get("type") == "tool_use" else b
        for b in message["content"]
    ]
    return _with_content(message, content)


def output_tokens_doubled(message: dict[str, Any]) -> dict[str, Any]:
    usage = message.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
        return message
    return {**message, "usage": {**usage, "output_tokens": usage["output_tokens"] * 2}}


def tool_calls_as_text(message: dict[str, Any]) -> dict[str, Any]:
    if not any(b.get("type") == "tool_use" for b in message["content"]):
        return message
    content = [
        {"type": "text", "text": json.dumps({"name": b["name"], "input": b["input"]})}
        if b.get("type") == "tool_use"
        else b
        for b in message["content"]
    ]
    stop_reason = "end_turn" if message.get("stop_reason") == "tool_use" else message.get("stop_reason")
    return {**message, "content": content, "stop_reason": stop_reason}


# ----- the event list ---------------------------------------------------------------------------------------


def drop_signature_deltas(events: list[SseEvent]) -> list[SseEvent]:
    return [
        e
        for e in events
        if not (
            isinstance(_data(e).get("delta"), dict) and _data(e)["delta"].get("type") == "signature_delta"
        )
    ]


def start_without_cache_fields(events: list[SseEvent]) -> list[SseEvent]:
    result = []
    for item in events:
        data = _data(item)
        if data.get("type") == "message_start" and isinstance(data.get("message", {}).get("usage"), dict):
            data = copy.deepcopy(data)
            for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
                data["message"]["usage"].pop(key, None)
            item = SseEvent(item.name, data)
        result.append(item)
    return result


def interleave_tool_blocks(events: list[SseEvent]) -> list[SseEvent]:
    """Two or more tool_use blocks streamed interleaved: all starts, then deltas in turn, then all stops."""
    tool_indices = [
        _data(e)["index"]
        for e in events
        if _data(e).get("type") == "content_block_start"
        and _data(e)["content_block"].get("type") == "tool_use"
    ]
    if len(tool_indices) < 2:
        return events
    wanted = set(tool_indices)
    positions = [n for n, e in enumerate(events) if _data(e).get("index") in wanted]
    first, last = positions[0], positions[-1]
    span = events[first : last + 1]
    by_kind: dict[str, dict[int, list[SseEvent]]] = {"start": {}, "delta": {}, "stop": {}}
    others: list[SseEvent] = []  # pings (or anything else) between the blocks, kept after the starts
    for item in span:
        kind = _data(item).get("type", "").removeprefix("content_block_")
        if kind in by_kind:
            by_kind[kind].setdefault(_data(item)["index"], []).append(item)
        else:
            others.append(item)
    deltas: list[SseEvent] = []
    queues = [list(by_kind["delta"].get(index, [])) for index in tool_indices]
    while any(queues):
        for queue in queues:
            if queue:
                deltas.append(queue.pop(0))
    starts = [e for index in tool_indices for e in by_kind["start"].get(index, [])]
    stops = [e for index in tool_indices for e in by_kind["stop"].get(index, [])]
    return [*events[:first], *starts, *others, *deltas, *stops, *events[last + 1 :]]


def error_after_first_delta(events: list[SseEvent]) -> list[SseEvent]:
    """After the first content_block_delta, an `event: error` whose data is not the error envelope; then the end."""
    first = next((n for n, e in enumerate(events) if _data(e).get("type") == "content_block_delta"), None)
    if first is None:
        return events
    return [*events[: first + 1], SseEvent("error", {"error": "overloaded"})]
