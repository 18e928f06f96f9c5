"""What the stream rules share: the states of a Messages API stream, a Violation and where it happened (event, JSON
path, state), the tables of delta and block types, and how an event and a JSON value are named in a message."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from conformance.sse_decoder import SSEEvent, _preview


class State(enum.Enum):
    """Where a Messages API stream is."""

    START = "START"  # nothing but pings seen yet
    MESSAGE = "MESSAGE"  # after message_start, no block open
    BLOCK = "BLOCK"  # a content block is open (rendered as BLOCK_OPEN(index=N, type=text))
    MESSAGE_DELTA = "MESSAGE_DELTA"  # after a message_delta
    STOPPED = "STOPPED"  # after message_stop
    ERRORED = "ERRORED"  # after an `error` event


@dataclass(frozen=True)
class Violation:
    """One broken rule, naming the event, the state and (where relevant) the JSON path."""

    rule: str  # rule id from schemas/rules.json
    event_index: int | None  # SSEEvent.index of the offending event; None for end-of-stream problems
    expected: str
    got: str
    state: str  # e.g. "BLOCK_OPEN(index=0, type=text)" or "MESSAGE_DELTA"
    path: str = ""  # JSON path inside the event data, e.g. "$.delta.type"

    @property
    def where(self) -> str:
        """Where it broke, as every finding about it says: 'event #3 $.delta.type in state BLOCK_OPEN(index=0,
        type=text)', or 'end of stream in state START' for what was missing when the stream ended."""
        return event_where(self.event_index, self.path, self.state)

    def __str__(self) -> str:
        return f"{self.rule} at {self.where}: expected {self.expected}; got {self.got}"


def event_where(event_index: int | None, path: str = "", state: str = "") -> str:
    """An event's place in a stream, as findings name it: 'event #N' ('end of stream' when there is no event), then
    the JSON path inside its data and the state machine's state, when known. Never 'event #None'."""
    where = "end of stream" if event_index is None else f"event #{event_index}"
    if path:
        where += f" {path}"
    if state:
        where += f" in state {state}"
    return where


# delta type -> the block types it may appear in
DELTA_BLOCKS: dict[str, tuple[str, ...]] = {
    "text_delta": ("text",),
    "citations_delta": ("text",),
    "input_json_delta": ("tool_use", "server_tool_use"),
    "thinking_delta": ("thinking",),
    "signature_delta": ("thinking",),
}
# (block type, delta type) -> (the open block's list of pieces, the delta's field): the deltas the fast path takes
_FAST_DELTAS = {("text", "text_delta"): ("text", "text"), ("thinking", "thinking_delta"): ("thinking", "thinking"),
                ("tool_use", "input_json_delta"): ("fragments", "partial_json"),
                ("server_tool_use", "input_json_delta"): ("fragments", "partial_json")}
# block types whose deltas are checked; deltas into other (newer) block types are let through
KNOWN_BLOCKS = frozenset({"text", "tool_use", "server_tool_use", "thinking", "redacted_thinking"})
TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})
MAX_PER_RULE = 20  # later violations of the same rule are counted in `suppressed`, not listed
# error types about the request or its credentials: the API answers them with an HTTP status before any stream begins
# (the errors page), so an `error` event of one of these as a 200 stream's first event is a refusal sent as a success;
# an error that arises once the 200 is sent (overloaded_error, api_error, ...) may come first (observed: vercel/ai#10653)
REQUEST_ERRORS = frozenset(
    {"invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large"}
)


_EXPECT_JSON = "data that is a JSON object with a string type"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _show(value: Any, limit: int = 60) -> str:
    """A JSON value as it appeared on the wire, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _preview(text, limit)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _parse_object(data: str, exact: bool = True) -> dict[str, Any] | None:
    """The data as a JSON object, or None; the result is always json.loads'. Unless `exact`, orjson parses it (several
    times faster), and what orjson refuses (a lone surrogate escape, NaN, very deep nesting) goes to json.loads.
    `exact` is for streams that may hold a number of 19 digits or more: orjson makes an integer beyond 64 bits a
    float, json.loads keeps it an integer."""
    try:
        if exact:
            raise orjson.JSONDecodeError("json.loads decides", data, 0)
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def describe(event: SSEEvent, data: dict | None) -> str:
    """Short human name of an event: 'content_block_delta(index=0, text_delta)', 'ping', 'message_start', or
    'event without name: data {...}' truncated to ~80 chars."""
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        kind = data["type"]
    elif event.event:
        return _preview(f"{event.event} (data: {_one_line(event.data)})", 80)
    else:
        return _preview(f"event without name: data {_one_line(event.data)}", 80)
    details: list[str] = []
    if kind.startswith("content_block_"):
        details.append(f"index={_show(data['index'], 20)}" if "index" in data else "no index")
        inner = data.get("content_block") if kind == "content_block_start" else data.get("delta")
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            details.append(inner["type"])
    elif (
        kind == "error" and isinstance(data.get("error"), dict) and isinstance(data["error"].get("type"), str)
    ):
        details.append(data["error"]["type"])
    return f"{kind}({', '.join(details)})" if details else kind


class _Step:
    """An event being fed, with what the state machine needs to know about it. Its `name` (describe()) is made only
    when a violation quotes it: nearly every event is fine, and naming each one cost a third of the validation."""

    __slots__ = ("event", "data", "kind")

    def __init__(self, event: SSEEvent, data: dict[str, Any] | None, kind: str) -> None:
        self.event = event
        self.data = data  # parsed data, when it is a JSON object
        self.kind = kind  # the type dispatched on

    @property
    def name(self) -> str:
        return describe(self.event, self.data)

    @property
    def index(self) -> int:
        return self.event.index


@dataclass
class _OpenBlock:
    """The content block being streamed, with its pieces not yet joined."""

    index: int
    type: str | None
    block: dict[str, Any]  # the accumulated block, also held in the message content
    start_event: int
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    finished: bool = False

    @property
    def label(self) -> str:
        return f"BLOCK_OPEN(index={self.index}, type={self.type})"
