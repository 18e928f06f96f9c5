"""Fault hooks that rewrite a stream's SSE event list."""

from __future__ import annotations

import copy
import json
from typing import Any

from .message_faults import EXTRA
from .streaming import SseEvent, event


def _data(item: SseEvent) -> dict[str, Any]:
    return item.data if isinstance(item.data, dict) else {}


def _is(item: SseEvent, kind: str) -> bool:
    return _data(item).get("type") == kind


def _delta_type(item: SseEvent) -> str | None:
    delta = _data(item).get("delta")
    return delta.get("type") if _is(item, "content_block_delta") and isinstance(delta, dict) else None


def edit(kind: str, change: Any) -> Any:
    """An events hook that rewrites the data of every event of type `kind`."""

    def hook(events: list[SseEvent]) -> list[SseEvent]:
        return [SseEvent(e.name, change(copy.deepcopy(e.data))) if _is(e, kind) else e for e in events]

    return hook


def drop(kind: str) -> Any:
    return lambda events: [e for e in events if not _is(e, kind)]


def rename_deltas(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent("delta", e.data) if _is(e, "content_block_delta") else e for e in events]


def unnamed(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent(None, e.data) for e in events]


def done_sentinel(events: list[SseEvent]) -> list[SseEvent]:
    return [*events, SseEvent(None, "[DONE]")]


def duplicate_start(events: list[SseEvent]) -> list[SseEvent]:
    result: list[SseEvent] = []
    for item in events:
        result.append(item)
        if _is(item, "message_start") and sum(_is(e, "message_start") for e in result) == 1:
            result.append(item)
    return result


def pop(*path: str) -> Any:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        holder = data
        for key in path[:-1]:
            holder = holder.get(key, {})
        holder.pop(path[-1], None)
        return data

    return change


def null_stop_reason(events: list[SseEvent]) -> list[SseEvent]:
    last = max((n for n, e in enumerate(events) if _is(e, "message_delta")), default=None)
    if last is None:
        return events
    data = copy.deepcopy(events[last].data)
    data["delta"]["stop_reason"] = None
    return [*events[:last], SseEvent(events[last].name, data), *events[last + 1 :]]


def _text_deltas_by_block(events: list[SseEvent]) -> dict[int, list[int]]:
    positions: dict[int, list[int]] = {}
    for number, item in enumerate(events):
        if _delta_type(item) == "text_delta":
            positions.setdefault(_data(item)["index"], []).append(number)
    return positions


def overlapping_blocks(events: list[SseEvent]) -> list[SseEvent]:
    """The first text block split in two blocks using its index, the second opened inside the first."""
    for index, positions in _text_deltas_by_block(events).items():
        if len(positions) < 2:
            continue
        start = next(
            n for n, e in enumerate(events) if _is(e, "content_block_start") and _data(e)["index"] == index
        )
        stop = next(
            n for n, e in enumerate(events) if _is(e, "content_block_stop") and _data(e)["index"] == index
        )
        middle = positions[len(positions) // 2]
        return [*events[:middle], events[start], *events[middle:stop], events[stop], *events[stop:]]
    return events


def thinking_deltas(data: dict[str, Any]) -> dict[str, Any]:
    if data["delta"].get("type") == "text_delta":
        data["delta"] = {"type": "thinking_delta", "thinking": data["delta"]["text"]}
    return data


def lose_first_text_delta(events: list[SseEvent]) -> list[SseEvent]:
    lost = {positions[0] for positions in _text_deltas_by_block(events).values() if len(positions) >= 2}
    return [e for n, e in enumerate(events) if n not in lost]


def partial_json_object(events: list[SseEvent]) -> list[SseEvent]:
    fragments: dict[int, str] = {}
    for item in events:
        if _delta_type(item) == "input_json_delta":
            fragments[_data(item)["index"]] = (
                fragments.get(_data(item)["index"], "") + _data(item)["delta"]["partial_json"]
            )
    result: list[SseEvent] = []
    for item in events:
        if _delta_type(item) != "input_json_delta":
            result.append(item)
        elif (index := _data(item)["index"]) in fragments:
            delta = {"type": "input_json_delta", "partial_json": json.loads(fragments.pop(index) or "{}")}
            result.append(event({"type": "content_block_delta", "index": index, "delta": delta}))
    return result


def drop_after_16_text_deltas(events: list[SseEvent]) -> list[SseEvent]:
    result: list[SseEvent] = []
    seen = 0
    for item in events:
        if _delta_type(item) == "text_delta":
            seen += 1
            if seen > 16:
                continue
        result.append(item)
    return result


def unknown_event(events: list[SseEvent]) -> list[SseEvent]:
    """An undocumented event type after message_start, outside any block (clients must ignore it)."""
    first = next((n for n, e in enumerate(events) if _is(e, "message_start")), -1)
    extra = event({"type": "vertex_event", "note": "an event type outside the documented set"})
    return [*events[: first + 1], extra, *events[first + 1 :]]


def pings_everywhere(events: list[SseEvent]) -> list[SseEvent]:
    """A ping after every event; none before the first (the stream starts with message_start)."""
    ping = event({"type": "ping"})
    result: list[SseEvent] = []
    for item in events:
        result += [item, ping]
    return result


def extra_in_events(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent(e.name, {**e.data, EXTRA: "event"}) if isinstance(e.data, dict) else e for e in events]
