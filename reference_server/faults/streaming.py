"""Faults of the raw SSE stream, caught by the streaming checks: framing, event names and order, deltas, usage, stop.

Hooks: `events` rewrites of the event list, `stream_message` rewrites of the streamed Message, `framing` changes,
a content-type, and a `validate` hook that refuses to stream.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..errors import ApiError, invalid_request
from ..hooks import Fault
from ..streaming import SseEvent, event
from .common import content_type, data_of, delta_type, drop, edit, framing, is_type, pop, rejecting

# ----- events hooks: the event list -> the event list -------------------------------------------------------


def rename_deltas(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent("delta", e.data) if is_type(e, "content_block_delta") else e for e in events]


def unnamed(events: list[SseEvent]) -> list[SseEvent]:
    return [SseEvent(None, e.data) for e in events]


def done_sentinel(events: list[SseEvent]) -> list[SseEvent]:
    return [*events, SseEvent(None, "[DONE]")]


def duplicate_start(events: list[SseEvent]) -> list[SseEvent]:
    result: list[SseEvent] = []
    for item in events:
        result.append(item)
        if is_type(item, "message_start") and sum(is_type(e, "message_start") for e in result) == 1:
            result.append(item)
    return result


def null_stop_reason(events: list[SseEvent]) -> list[SseEvent]:
    last = max((n for n, e in enumerate(events) if is_type(e, "message_delta")), default=None)
    if last is None:
        return events
    data = copy.deepcopy(events[last].data)
    data["delta"]["stop_reason"] = None
    return [*events[:last], SseEvent(events[last].name, data), *events[last + 1 :]]


def _text_deltas_by_block(events: list[SseEvent]) -> dict[int, list[int]]:
    positions: dict[int, list[int]] = {}
    for number, item in enumerate(events):
        if delta_type(item) == "text_delta":
            positions.setdefault(data_of(item)["index"], []).append(number)
    return positions


def overlapping_blocks(events: list[SseEvent]) -> list[SseEvent]:
    """The first text block split in two blocks using its index, the second opened inside the first."""
    for index, positions in _text_deltas_by_block(events).items():
        if len(positions) < 2:
            continue
        start = next(
            n for n, e in enumerate(events) if is_type(e, "content_block_start") and data_of(e)["index"] == index
        )
        stop = next(
            n for n, e in enumerate(events) if is_type(e, "content_block_stop") and data_of(e)["index"] == index
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
        if delta_type(item) == "input_json_delta":
            fragments[data_of(item)["index"]] = (
                fragments.get(data_of(item)["index"], "") + data_of(item)["delta"]["partial_json"]
            )
    result: list[SseEvent] = []
    for item in events:
        if delta_type(item) != "input_json_delta":
            result.append(item)
        elif (index := data_of(item)["index"]) in fragments:
            delta = {"type": "input_json_delta", "partial_json": json.loads(fragments.pop(index) or "{}")}
            result.append(event({"type": "content_block_delta", "index": index, "delta": delta}))
    return result


def drop_after_16_text_deltas(events: list[SseEvent]) -> list[SseEvent]:
    result: list[SseEvent] = []
    seen = 0
    for item in events:
        if delta_type(item) == "text_delta":
            seen += 1
            if seen > 16:
                continue
        result.append(item)
    return result


def unknown_event(events: list[SseEvent]) -> list[SseEvent]:
    """An undocumented event type after message_start, outside any block (clients must ignore it)."""
    first = next((n for n, e in enumerate(events) if is_type(e, "message_start")), -1)
    extra = event({"type": "vertex_event", "note": "an event type outside the documented set"})
    return [*events[: first + 1], extra, *events[first + 1 :]]


def start_without_cache_fields(events: list[SseEvent]) -> list[SseEvent]:
    result = []
    for item in events:
        data = data_of(item)
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
        data_of(e)["index"]
        for e in events
        if data_of(e).get("type") == "content_block_start"
        and data_of(e)["content_block"].get("type") == "tool_use"
    ]
    if len(tool_indices) < 2:
        return events
    wanted = set(tool_indices)
    positions = [n for n, e in enumerate(events) if data_of(e).get("index") in wanted]
    first, last = positions[0], positions[-1]
    span = events[first : last + 1]
    by_kind: dict[str, dict[int, list[SseEvent]]] = {"start": {}, "delta": {}, "stop": {}}
    others: list[SseEvent] = []  # pings (or anything else) between the blocks, kept after the starts
    for item in span:
        kind = data_of(item).get("type", "").removeprefix("content_block_")
        if kind in by_kind:
            by_kind[kind].setdefault(data_of(item)["index"], []).append(item)
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
    first = next((n for n, e in enumerate(events) if is_type(e, "content_block_delta")), None)
    if first is None:
        return events
    return [*events[: first + 1], SseEvent("error", {"error": "overloaded"})]


def ping_before_start(events: list[SseEvent]) -> list[SseEvent]:
    """A ping first, then the stream (as mock-ai-api sends it)."""
    return [event({"type": "ping"}), *events]


def request_error_first(events: list[SseEvent]) -> list[SseEvent]:
    """The 200 stream holds one error event, a request error the API answers with an HTTP 400 before any stream."""
    error = {"type": "invalid_request_error", "message": "messages: the request was refused after the stream began"}
    return [event({"type": "error", "error": error})]


# ----- stream_message hooks: the streamed Message -> the streamed Message -----------------------------------


def end_turn_for(stop_reason: str) -> Any:
    """The Message reports end_turn (and no stop_sequence) where it would report `stop_reason`."""

    def hook(message: dict[str, Any]) -> dict[str, Any]:
        if message.get("stop_reason") != stop_reason:
            return message
        return {**message, "stop_reason": "end_turn", "stop_sequence": None}

    return hook


# ----- validate hooks ---------------------------------------------------------------------------------------


def reject_streaming(body: dict[str, Any], endpoint: str) -> ApiError | None:
    """stream: true gets 400 (a layer that never streams)."""
    if endpoint == "messages" and body.get("stream") is True:
        return invalid_request("stream: streaming is not supported")
    return None


FAULTS = [
    Fault(
        "sse-as-json-content-type",
        "Streams are served as application/json.",
        "fault",
        response_headers=content_type("sse", "application/json"),
    ),
    Fault("sse-no-event-lines", "SSE frames carry data: lines only, no event: lines.", "fault", events=unnamed),
    Fault("sse-wrong-event-name", "content_block_delta events are named 'delta'.", "fault", events=rename_deltas),
    Fault("sse-done-sentinel", "A data: [DONE] frame follows message_stop.", "fault", events=done_sentinel),
    Fault("sse-duplicate-message-start", "message_start is sent twice.", "fault", events=duplicate_start),
    Fault(
        "sse-start-without-usage",
        "message_start.message has no usage.",
        "fault",
        events=edit("message_start", pop("message", "usage")),
    ),
    Fault(
        "sse-overlapping-blocks",
        "A text block is split in two blocks that both use index 0, overlapping.",
        "fault",
        events=overlapping_blocks,
    ),
    Fault(
        "sse-thinking-delta-in-text-block",
        "Text arrives as thinking_delta inside a text block.",
        "fault",
        events=edit("content_block_delta", thinking_deltas),
    ),
    Fault(
        "sse-message-delta-without-usage",
        "message_delta has no usage.",
        "fault",
        events=edit("message_delta", pop("usage")),
    ),
    Fault("sse-null-stop-reason", "The final message_delta has stop_reason null.", "fault", events=null_stop_reason),
    Fault("sse-no-message-stop", "The stream ends without message_stop.", "fault", events=drop("message_stop")),
    Fault(
        "sse-message-start-missing-model",
        "message_start.message has no model.",
        "fault",
        events=edit("message_start", pop("message", "model")),
    ),
    Fault(
        "sse-lose-text-delta",
        "The first text_delta of a multi-delta block is lost.",
        "fault",
        events=lose_first_text_delta,
    ),
    Fault(
        "sse-partial-json-object",
        "partial_json is the input object itself, in one delta.",
        "fault",
        events=partial_json_object,
    ),
    Fault(
        "sse-drop-after-16-deltas",
        "Text deltas after the 16th are dropped; the stream still ends well.",
        "fault",
        events=drop_after_16_text_deltas,
    ),
    Fault(
        "sse-truncated",
        "The stream ends in the middle of an event (after message_stop).",
        "fault",
        framing=framing(unterminated_tail='event: ping\ndata: {"type":"pi'),
    ),
    Fault(
        "sse-unknown-event",
        "An undocumented event type (vertex_event) comes after message_start.",
        "fault",
        events=unknown_event,
    ),
    rejecting(
        "reject-streaming",
        "stream: true gets 400 invalid_request_error (the layer never streams).",
        reject_streaming,
    ),
    Fault(
        "sse-stop-sequence-as-end-turn",
        "Streamed replies cut by a stop sequence report end_turn and stop_sequence null.",
        "fault",
        stream_message=end_turn_for("stop_sequence"),
    ),
    Fault(
        "sse-max-tokens-as-end-turn",
        "Streamed replies cut by max_tokens report end_turn.",
        "fault",
        stream_message=end_turn_for("max_tokens"),
    ),
    Fault(
        "sse-start-without-cache-fields",
        "message_start usage lacks cache_creation_input_tokens and cache_read_input_tokens.",
        "fault",
        events=start_without_cache_fields,
    ),
    Fault(
        "sse-parallel-tools-interleaved",
        "Two or more tool_use blocks are streamed interleaved (all starts, alternating deltas, all stops).",
        "fault",
        events=interleave_tool_blocks,
    ),
    Fault(
        "sse-idle-gap",
        "The stream goes silent (no ping) for 1.5 s after its first chunk.",
        "fault",
        framing=framing(pause_after_first=1.5),
    ),
    Fault(
        "sse-malformed-error-event",
        'After the first delta an event: error with data {"error": "overloaded"}, and the stream ends.',
        "fault",
        events=error_after_first_delta,
    ),
    Fault("sse-ping-before-start", "A ping comes before message_start.", "fault", events=ping_before_start),
    Fault(
        "sse-request-error-first",
        "Streams are HTTP 200 with one error event, an invalid_request_error, instead of an HTTP 400.",
        "fault",
        events=request_error_first,
    ),
    Fault("sse-no-pings", "Streams carry no ping events.", "fault", events=drop("ping")),
]
