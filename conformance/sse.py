"""Decode a text/event-stream body (WHATWG rules) and check its Messages API event order (a state machine)."""

from __future__ import annotations

import codecs
import copy
import enum
import gc
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from conformance.vocabulary import BETA_STOP_REASONS, KNOWN_EVENTS, STOP_REASONS

__all__ = [
    "DELTA_BLOCKS",
    "KNOWN_EVENTS",
    "MAX_PER_RULE",
    "REQUEST_ERRORS",
    "STOP_REASONS",
    "TRANSITIONS",
    "SSEDecoder",
    "SSEEvent",
    "State",
    "StreamValidator",
    "Violation",
    "describe",
    "event_where",
    "validate_stream",
]

# ---------------------------------------------------------------------------------------------------------
# The decoder: WHATWG HTML "parsing an event stream", sans-IO.
# ---------------------------------------------------------------------------------------------------------

_BOM = "\ufeff"


class SSEEvent(NamedTuple):
    """One dispatched server-sent event (a named tuple: made once per event, it must be cheap to make)."""

    index: int  # 0-based position among the dispatched events of this stream
    event: str | None  # value of the last `event:` field of the block; None when the block had none
    data: str  # the block's data lines joined with "\n"
    id: str | None = None  # the last event ID in force at dispatch (it persists, per WHATWG)
    retry: int | None = None  # the `retry:` value given in this block, if any


class SSEDecoder:
    """Sans-IO WHATWG text/event-stream decoder: feed bytes, get events."""

    def __init__(self) -> None:
        self.errors: list[str] = []  # framing problems, in plain words
        self.comments = 0  # comment lines seen
        self.bytes_seen = 0
        self._undecoded = b""  # the start of a UTF-8 sequence cut by a chunk boundary
        self._utf8_reported = False
        self._at_start = True  # no character decoded yet (a BOM may come)
        self._skip_lf = False  # the last text ended with CR: an LF right after it belongs to that line end
        self._line: list[str] = []  # pieces of the line not yet ended
        self._data: list[str] = []  # the data buffer, one item per data line
        self._event: str | None = None  # the event type buffer
        self._retry: int | None = None
        self._last_id: str | None = None
        self._dispatched = 0
        self._closed = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        offset = self.bytes_seen - len(self._undecoded)
        self.bytes_seen += len(chunk)
        text = self._decode(self._undecoded + bytes(chunk), offset, final=False)
        return self._process(self._lines(text))

    def close(self) -> list[SSEEvent]:
        """End of input: flush, and record an unterminated final event (WHATWG discards it)."""
        if self._closed:
            return []
        self._closed = True
        events: list[SSEEvent] = []
        if self._undecoded:
            offset = self.bytes_seen - len(self._undecoded)
            events = self._process(self._lines(self._decode(self._undecoded, offset, final=True)))
        unfinished = "".join(self._line)
        if unfinished.startswith(":"):
            unfinished = ""  # an unended comment line loses nothing
        if self._data or self._event is not None or unfinished:
            parts = []
            if self._event is not None:
                parts.append(f"event: {self._event}")
            if self._data:
                parts.append(f"{len(self._data)} data line{'s' if len(self._data) != 1 else ''}")
            if unfinished:
                parts.append(f"an unended line {_preview(unfinished, 40)!r}")
            self.errors.append(
                f"unterminated final event at end of stream ({', '.join(parts)}): an event ends with a blank "
                "line, so it was not dispatched"
            )
        return events

    def _decode(self, data: bytes, offset: int, *, final: bool) -> str:
        """Decode UTF-8, keeping a cut multi-byte sequence for the next chunk; replace invalid bytes."""
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            if not self._utf8_reported:
                self._utf8_reported = True
                self.errors.append(
                    f"invalid UTF-8 at byte offset {offset + exc.start} (replaced with U+FFFD; "
                    "later invalid bytes are not reported)"
                )
            text, used = codecs.utf_8_decode(data, "replace", final)
        self._undecoded = data[used:]
        if self._at_start and text:
            self._at_start = False
            if text[0] == _BOM:
                text = text[1:]
        return text

    def _lines(self, text: str) -> list[str]:
        """The lines that `text` ends (CRLF, LF or CR); keep the unended rest for later."""
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._line.append(text)
            return []
        lines = text.split("\n")
        if self._line:
            self._line.append(lines[0])
            lines[0] = "".join(self._line)
        rest = lines.pop()
        self._line = [rest] if rest else []
        return lines

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
            elif line[0] == ":":
                self.comments += 1
            elif line.startswith("data: "):  # the two common lines, exactly as the general rule reads them
                self._data.append(line[6:])
            elif line.startswith("event: "):
                self._event = line[7:]
            else:
                name, colon, value = line.partition(":")
                if colon and value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value
                elif name == "id":
                    if "\x00" not in value:
                        self._last_id = value
                elif name == "retry":
                    if value.isascii() and value.isdigit():
                        self._retry = int(value)
                # any other field is ignored
        return events

    def _dispatch(self) -> SSEEvent | None:
        data, event, retry = self._data, self._event, self._retry
        self._data, self._event, self._retry = [], None, None
        if not data:
            return None
        dispatched = SSEEvent(self._dispatched, event, "\n".join(data), self._last_id, retry)
        self._dispatched += 1
        return dispatched


# ---------------------------------------------------------------------------------------------------------
# The event-order state machine.
# ---------------------------------------------------------------------------------------------------------


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
_LONG_NUMBER = re.compile(rb"\d{19}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _preview(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


Handler = Callable[["StreamValidator", _Step], None]


class StreamValidator:
    """Event-order state machine over decoded SSE events, accumulating the final message."""

    def __init__(self, beta: bool = False) -> None:
        # an answer to a beta request (?beta=true or anthropic-beta) may end with the beta stop reasons too
        self.stop_reason_values = BETA_STOP_REASONS if beta else STOP_REASONS
        self.violations: list[Violation] = []
        self.deviations: list[Violation] = []  # unlike the real API, but the official clients read on (strict only)
        self.warnings: list[Violation] = []
        self.suppressed: dict[str, int] = {}  # rule -> violations not listed beyond MAX_PER_RULE
        self.state = State.START
        self.events: list[tuple[SSEEvent, dict | None]] = []
        self.message: dict | None = None  # an open block's text joins it at its stop (or at close())
        self.stop_reasons: list = []
        self.output_tokens: list[int] = []
        self.error: dict | None = None  # the `error` object of the first error event
        self._content: list[dict[str, Any]] = []
        self._open: _OpenBlock | None = None
        self._next_index = 0
        self._started = False
        self._start_index: int | None = None  # event of the message_start (None if missing)
        self._first_index: int | None = None  # event the message started at (message_start or not)
        self._deltas: list[int] = []  # events of the message_deltas
        self._last_stop_reason: tuple[int, dict[str, Any]] | None = None  # (event, delta) of the last one
        self._stop_index: int | None = None
        self._error_index: int | None = None
        self._closed = False
        self.exact_numbers = True  # json.loads alone; validate_stream lifts it for a stream without long numbers

    # -- public ------------------------------------------------------------------------------------------

    def feed(self, event: SSEEvent) -> None:
        """Check one event and move the state machine."""
        if self._closed:
            raise RuntimeError("StreamValidator.feed() called after close()")
        data = _parse_object(event.data, self.exact_numbers)
        self.events.append((event, data))
        if self.state is State.BLOCK and event.event == "content_block_delta" and data is not None and (
                self._fast_delta(data)):
            return
        self._check_framing(event, data)
        if data is not None and isinstance(data.get("type"), str):
            kind = data["type"]
        elif event.event:
            kind = event.event
        else:
            return  # nothing to dispatch on: reported above, skipped for ordering
        self._dispatch(_Step(event, data, kind))

    def _fast_delta(self, data: dict[str, Any]) -> bool:
        """The commonest event, a delta that fits its open block, taken in a few steps: True when taken. It does what
        the general path (framing checks, dispatch, _on_block_delta, _accumulate) does with such an event; any other
        event, or anything odd about this one, returns False and takes the general path."""
        opened = self._open
        delta = data.get("delta")
        if opened is None or data.get("type") != "content_block_delta" or type(delta) is not dict:
            return False
        index = data.get("index")
        if type(index) is not int or index != opened.index:
            return False
        delta_type = delta.get("type")
        if type(delta_type) is not str:
            return False
        into = _FAST_DELTAS.get((opened.type, delta_type))
        piece = delta.get(into[1]) if into else None
        if type(piece) is not str:
            return False
        getattr(opened, into[0]).append(piece)
        return True

    def close(self) -> None:
        """End of stream: apply the rules about what must have come. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._open is not None and not self._open.finished:
            self._finish_block(None, check=False)  # a cut-off block: missing message_stop says it all
        if self.state is State.ERRORED:
            return  # the error event ended the stream
        count = len(self.events)
        end = f"end of stream after {count} event{'s' if count != 1 else ''}"
        if self.events:
            end += f"; last: {describe(*self.events[-1])}"
        if not self._started:
            self._report("STREAM-START", None, "message_start as the first event", end)
        if self._stop_index is None:
            self._report("STREAM-STOP-LAST", None, "message_stop as the final event", end)
        if self._started and not self._deltas:
            if self._stop_index is not None:
                got = f"message_stop (event #{self._stop_index}) with no message_delta before it"
            else:
                got = f"{end}, with no message_delta"
            self._report(
                "STREAM-DELTA-USAGE", self._stop_index, "at least one message_delta before message_stop", got
            )
        if self._last_stop_reason is not None:
            index, delta = self._last_stop_reason
            reason = delta.get("stop_reason")
            if reason not in self.stop_reason_values:
                got = "no stop_reason" if "stop_reason" not in delta else f"stop_reason {_show(reason)}"
                self._report(
                    "STREAM-STOP-REASON",
                    index,
                    f"a stop_reason from the StopReason enum ({', '.join(self.stop_reason_values)}) in the last "
                    "message_delta",
                    got,
                    "$.delta.stop_reason",
                )

    def violations_for(self, *rules: str) -> list[Violation]:
        """The violations of the given rules, in order found."""
        return [v for v in self.violations if v.rule in rules]

    def deviations_for(self, *rules: str) -> list[Violation]:
        """The deviations (the clients cope) of the given rules, in order found."""
        return [v for v in self.deviations if v.rule in rules]

    @property
    def text(self) -> str:
        """Concatenated text of all accumulated text blocks."""
        pieces: list[str] = []
        for block in self._content:
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                pieces.append(block["text"])
            if self._open is not None and block is self._open.block and not self._open.finished:
                pieces.extend(self._open.text)
        return "".join(pieces)

    @property
    def state_label(self) -> str:
        """The state as violations name it: BLOCK_OPEN(index=0, type=text) while a block is open."""
        if self.state is State.BLOCK and self._open is not None:
            return self._open.label
        return self.state.value

    def report_framing_error(self, message: str) -> None:
        """Record a decoder error (SSEDecoder.errors) as an SSE-FRAMING violation."""
        self._report("SSE-FRAMING", None, "UTF-8 text/event-stream that ends on an event boundary", message)

    # -- plumbing ----------------------------------------------------------------------------------------

    def _report(
        self,
        rule: str,
        event_index: int | None,
        expected: str,
        got: str,
        path: str = "",
        *,
        warn: bool = False,
        deviation: bool = False,
    ) -> None:
        found = self.warnings if warn else self.deviations if deviation else self.violations
        if sum(1 for v in found if v.rule == rule) >= MAX_PER_RULE:
            self.suppressed[rule] = self.suppressed.get(rule, 0) + 1
            return
        found.append(Violation(rule, event_index, expected, got, self.state_label, path))

    def _dispatch(self, step: _Step) -> None:
        row = TRANSITIONS[self.state]
        row.get(step.kind, row["*"])(self, step)

    def _check_framing(self, event: SSEEvent, data: dict[str, Any] | None) -> None:
        index = event.index
        if not event.event:
            got = "an event with an empty event: field" if event.event == "" else "no event: field"
            self._report("SSE-EVENT-FIELD", index, "an event: field naming the event type",
                         f"{describe(event, data)} ({got})")
        if data is None:
            self._report("SSE-DATA-JSON", index, _EXPECT_JSON, self._bad_data(event.data))
            return
        data_type = data.get("type")
        if not isinstance(data_type, str):
            got = "a JSON object without type" if "type" not in data else f"type {_show(data_type)}"
            self._report("SSE-DATA-JSON", index, _EXPECT_JSON, got, "$.type")
        elif event.event and event.event != data_type:
            self._report(
                "SSE-EVENT-TYPE-MATCH",
                index,
                f'event: {data_type} (the data\'s type is "{data_type}")',
                f'event: {event.event} with data of type "{data_type}"',
                "$.type",
            )

    @staticmethod
    def _bad_data(data: str) -> str:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return f"data {_preview(_one_line(data), 60)}, which is not JSON"
        return f"data that is {_json_kind(value)}: {_show(value)}"

    def _where(self, index: Any) -> str:
        """What happened to block `index` so far, for a block event that does not fit."""
        if not _is_int(index):
            return f"index {_show(index)} is not an integer"
        if 0 <= index < self._next_index:
            return f"block {index} was already stopped"
        return f"block {index} was never started"

    # -- transitions: each handler is one cell of TRANSITIONS ---------------------------------------------

    def _on_ping(self, step: _Step) -> None:
        """Pings are allowed anywhere after message_start and change nothing."""

    def _ping_before_start(self, step: _Step) -> None:
        """The real API's stream begins with message_start; both SDKs drop every ping before reading the rest, so a
        ping first is a deviation, reported once."""
        if not self.deviations_for("STREAM-START"):
            self._report("STREAM-START", step.index, "message_start as the first event (pings come after it)",
                         f"ping as event #{step.index}, before message_start", deviation=True)

    def _error_before_start(self, step: _Step) -> None:
        error = (step.data or {}).get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        if kind in REQUEST_ERRORS:
            self._report(
                "STREAM-START",
                step.index,
                f"message_start first: a {kind} is answered with an HTTP error status before any stream begins",
                f"{step.name} before message_start, in an HTTP 200 stream",
            )
        self._on_error(step)

    def _on_unknown(self, step: _Step) -> None:
        self._report(
            "STREAM-UNKNOWN-EVENT",
            step.index,
            f"a documented event type ({', '.join(sorted(KNOWN_EVENTS))})",
            f"{step.name} (clients must ignore it)",
            warn=True,
        )

    def _on_error(self, step: _Step) -> None:
        data = step.data
        problem, path = "", ""
        if data is None:
            problem = self._bad_data(step.event.data)
        elif not isinstance(data.get("error"), dict):
            problem, path = f"error {_show(data.get('error'))}", "$.error"
        else:
            for key in ("type", "message"):
                if not isinstance(data["error"].get(key), str):
                    value = data["error"].get(key)
                    problem = (
                        f"error.{key} missing" if key not in data["error"] else f"error.{key} {_show(value)}"
                    )
                    path = f"$.error.{key}"
                    break
        if problem:
            self._report(
                "STREAM-ERROR-EVENT",
                step.index,
                'the error envelope {"type": "error", "error": {"type": str, "message": str}}',
                problem,
                path,
            )
        if data is not None and self.error is None and isinstance(data.get("error"), dict):
            self.error = data["error"]
        self._error_index = step.index
        self.state = State.ERRORED

    def _after_error(self, step: _Step) -> None:
        self._report(
            "STREAM-ERROR-EVENT",
            step.index,
            "nothing but pings after an error event (it ends the stream)",
            f"{step.name} after the error event #{self._error_index}",
        )

    def _after_stop(self, step: _Step) -> None:
        if step.kind == "message_stop":
            got = f"a second message_stop (the first was event #{self._stop_index})"
        else:
            got = f"{step.name} after message_stop (event #{self._stop_index})"
        self._report("STREAM-STOP-LAST", step.index, "nothing but pings after message_stop", got)

    def _missing_start(self, step: _Step) -> None:
        self._report(
            "STREAM-START",
            step.index,
            "message_start as the first event",
            f"{step.name} first",
        )
        self._started = True  # carry on as if it had come, so the order of the rest is still checked
        self._first_index = step.index
        self.state = State.MESSAGE
        self._dispatch(step)

    def _duplicate_start(self, step: _Step) -> None:
        if self._start_index is not None:
            got = f"a second message_start (the first was event #{self._start_index})"
        else:
            got = f"message_start after the stream began without it at event #{self._first_index}"
        self._report("STREAM-START", step.index, "exactly one message_start, as the first event", got)

    def _on_message_start(self, step: _Step) -> None:
        self._started = True
        self._start_index = self._first_index = step.index
        self.state = State.MESSAGE
        if step.data is None:
            return
        message = step.data.get("message")
        self._check_start_shape(step.index, message)
        if isinstance(message, dict):
            self.message = copy.deepcopy(message)
            self.message["content"] = self._content

    def _check_start_shape(self, index: int, message: Any) -> None:
        def bad(path: str, expected: str, got: str) -> None:
            self._report("STREAM-START-SHAPE", index, expected, got, path)

        if not isinstance(message, dict):
            bad("$.message", "a message object", "no message" if message is None else _json_kind(message))
            return
        if message.get("content") != [] or "content" not in message:
            bad(
                "$.message.content",
                "empty content []",
                _show(message.get("content")) if "content" in message else "no content",
            )
        if "stop_reason" not in message:
            bad("$.message.stop_reason", "stop_reason null (key present)", "no stop_reason")
        elif message["stop_reason"] is not None:
            bad("$.message.stop_reason", "stop_reason null (key present)", _show(message["stop_reason"]))
        usage = message.get("usage")
        if not isinstance(usage, dict):
            bad("$.message.usage", "a usage object", "no usage" if usage is None else _show(usage))
            return
        for key in ("input_tokens", "output_tokens"):
            if not _is_int(usage.get(key)):
                got = f"no {key}" if key not in usage else _show(usage[key])
                bad(f"$.message.usage.{key}", "an integer", got)

    def _on_block_start(self, step: _Step) -> None:
        data = step.data or {}
        given = data.get("index", None if step.data is not None else self._next_index)
        if not _is_int(given) or given != self._next_index:
            detail = "" if _is_int(given) else f" ({self._where(given)})"
            self._report(
                "STREAM-BLOCK-ORDER",
                step.index,
                f"content_block_start(index={self._next_index}) (indices are dense from 0)",
                f"{step.name}{detail}",
                "$.index",
            )
        index = given if _is_int(given) else self._next_index
        self._next_index = max(self._next_index, index + 1)
        start = data.get("content_block")
        block = copy.deepcopy(start) if isinstance(start, dict) else {}
        block_type = block.get("type") if isinstance(block.get("type"), str) else None
        self._content.append(block)
        self._open = _OpenBlock(index, block_type, block, step.index)
        self.state = State.BLOCK

    def _overlapping_start(self, step: _Step) -> None:
        assert self._open is not None
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"content_block_stop(index={self._open.index}) before the next content_block_start",
            f"{step.name} while block {self._open.index} is open",
        )
        self._close_block(step.index)
        self._dispatch(step)

    def _block_left_open(self, step: _Step) -> None:
        assert self._open is not None
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"content_block_stop(index={self._open.index}) before {step.kind}",
            f"{step.name} while block {self._open.index} is open",
        )
        self._close_block(step.index)
        self._dispatch(step)

    def _no_open_block(self, step: _Step) -> None:
        got = step.name if step.data is None else f"{step.name}: {self._where(step.data.get('index'))}"
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"{step.kind} only inside an open content block (none is open)",
            got,
            "$.index",
        )

    def _block_after_message_delta(self, step: _Step) -> None:
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            "no content block events after message_delta",
            f"{step.name} after message_delta (event #{self._deltas[-1]})",
        )

    def _fits_open_block(self, step: _Step) -> bool:
        """Report a block event whose index is not the open block's; True when it fits."""
        assert self._open is not None
        if step.data is None:
            return True  # its data is unreadable (already reported); take it as meant for the open block
        index = step.data.get("index")
        if _is_int(index) and index == self._open.index:
            return True
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"{step.kind}(index={self._open.index}) for the open block",
            f"{step.name} while block {self._open.index} is open",
            "$.index",
        )
        return False

    def _on_block_delta(self, step: _Step) -> None:
        if not self._fits_open_block(step) or step.data is None:
            return
        assert self._open is not None
        opened = self._open
        delta = step.data.get("delta")
        if not isinstance(delta, dict) or not isinstance(delta.get("type"), str):
            path = "$.delta.type" if isinstance(delta, dict) else "$.delta"
            got = f"delta {_show(delta)}"
            self._report("STREAM-DELTA-TYPE", step.index, "a delta object with a string type", got, path)
            return
        delta_type = delta["type"]
        fits = DELTA_BLOCKS.get(delta_type)
        if fits is None:
            self._report(
                "STREAM-UNKNOWN-EVENT",
                step.index,
                f"a documented delta type ({', '.join(DELTA_BLOCKS)})",
                f"{delta_type} in block {opened.index} ({opened.type})",
                "$.delta.type",
                warn=True,
            )
            return
        if opened.type in KNOWN_BLOCKS and opened.type not in fits:
            allowed = [name for name, blocks in DELTA_BLOCKS.items() if opened.type in blocks]
            expected = f"a {opened.type} block's delta ({', '.join(allowed) or 'none: it arrives whole'})"
            got = f"{delta_type} in block {opened.index}, a {opened.type} block"
            self._report("STREAM-DELTA-TYPE", step.index, expected, got, "$.delta.type")
            return
        self._accumulate(step, opened, delta_type, delta)

    def _accumulate(self, step: _Step, opened: _OpenBlock, delta_type: str, delta: dict[str, Any]) -> None:
        if delta_type == "text_delta" and isinstance(delta.get("text"), str):
            opened.text.append(delta["text"])
        elif delta_type == "thinking_delta" and isinstance(delta.get("thinking"), str):
            opened.thinking.append(delta["thinking"])
        elif delta_type == "signature_delta":
            opened.block["signature"] = delta.get("signature")
        elif delta_type == "citations_delta":
            citations = opened.block.get("citations")
            if isinstance(citations, list):
                citations.append(delta.get("citation"))
            else:
                opened.block["citations"] = [delta.get("citation")]
        elif delta_type == "input_json_delta":
            fragment = delta.get("partial_json")
            if isinstance(fragment, str):
                opened.fragments.append(fragment)
            else:
                got = (
                    "no partial_json"
                    if "partial_json" not in delta
                    else (f"partial_json as {_json_kind(fragment)}: {_show(fragment)}")
                )
                self._report(
                    "STREAM-TOOL-JSON",
                    step.index,
                    "partial_json as a string fragment",
                    got,
                    "$.delta.partial_json",
                )

    def _on_block_stop(self, step: _Step) -> None:
        self._fits_open_block(step)  # a stop for another index still ends the open block
        self._close_block(step.index)

    def _close_block(self, event_index: int | None) -> None:
        self._finish_block(event_index)
        self.state = State.MESSAGE

    def _finish_block(self, event_index: int | None, *, check: bool = True) -> None:
        """Join the open block's pieces into it; check a tool block's input."""
        opened = self._open
        assert opened is not None
        block = opened.block
        if opened.text:
            block["text"] = (block["text"] if isinstance(block.get("text"), str) else "") + "".join(
                opened.text
            )
        if opened.thinking:
            old = block["thinking"] if isinstance(block.get("thinking"), str) else ""
            block["thinking"] = old + "".join(opened.thinking)
        opened.finished = True
        joined = "".join(opened.fragments)
        if not check:
            return
        if joined.strip():
            try:
                value = json.loads(joined)
            except (ValueError, RecursionError) as exc:
                value = exc
            if isinstance(value, dict):
                block["input"] = value
            else:
                why = f"invalid JSON ({value})" if isinstance(value, Exception) else _json_kind(value)
                self._report(
                    "STREAM-TOOL-JSON",
                    event_index,
                    "input_json_delta fragments that concatenate to a JSON object",
                    f"{_show(joined, 80)}: {why}",
                )
        elif opened.type in TOOL_BLOCKS and not isinstance(block.get("input"), dict):
            got = "no input" if "input" not in block else f"input {_show(block['input'])}"
            self._report(
                "STREAM-TOOL-JSON",
                opened.start_event,
                "a JSON object input (there were no partial_json fragments)",
                got,
                "$.content_block.input",
            )

    def _on_message_delta(self, step: _Step) -> None:
        self._deltas.append(step.index)
        self.state = State.MESSAGE_DELTA
        if step.data is None:
            return
        delta = step.data.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        self.stop_reasons.append(delta.get("stop_reason"))
        self._last_stop_reason = (step.index, delta)
        usage = step.data.get("usage")
        self._check_usage(step.index, usage)
        if self.message is not None:
            self.message.update(delta)
            if isinstance(usage, dict):
                merged = dict(self.message["usage"]) if isinstance(self.message.get("usage"), dict) else {}
                merged.update({key: value for key, value in usage.items() if value is not None})
                self.message["usage"] = merged

    def _check_usage(self, index: int, usage: Any) -> None:
        expected = "usage.output_tokens as an integer >= 0"
        if not isinstance(usage, dict):
            got = "no usage" if usage is None else f"usage {_show(usage)}"
            self._report("STREAM-DELTA-USAGE", index, expected, got, "$.usage")
            return
        tokens = usage.get("output_tokens")
        if not _is_int(tokens) or tokens < 0:
            got = "no output_tokens" if "output_tokens" not in usage else f"output_tokens {_show(tokens)}"
            self._report("STREAM-DELTA-USAGE", index, expected, got, "$.usage.output_tokens")
            return
        if self.output_tokens and tokens < self.output_tokens[-1]:
            self._report(
                "STREAM-DELTA-USAGE",
                index,
                f"output_tokens >= {self.output_tokens[-1]} (usage in message_delta is cumulative)",
                f"output_tokens {tokens} after {self.output_tokens[-1]} in event #{self._deltas[-2]}",
                "$.usage.output_tokens",
            )
        self.output_tokens.append(tokens)

    def _on_message_stop(self, step: _Step) -> None:
        self._stop_index = step.index
        self.state = State.STOPPED


_BLOCK_EVENTS = ("content_block_start", "content_block_delta", "content_block_stop")
_V = StreamValidator

# State -> event type -> handler. "*" is every other type (documented types are all listed in each row, so
# "*" is reached by unknown types only).
TRANSITIONS: dict[State, dict[str, Handler]] = {
    State.START: {
        "message_start": _V._on_message_start,
        **dict.fromkeys((*_BLOCK_EVENTS, "message_delta", "message_stop"), _V._missing_start),
        "ping": _V._ping_before_start,
        "error": _V._error_before_start,
        "*": _V._on_unknown,
    },
    State.MESSAGE: {
        "message_start": _V._duplicate_start,
        "content_block_start": _V._on_block_start,
        "content_block_delta": _V._no_open_block,
        "content_block_stop": _V._no_open_block,
        "message_delta": _V._on_message_delta,
        "message_stop": _V._on_message_stop,
        "ping": _V._on_ping,
        "error": _V._on_error,
        "*": _V._on_unknown,
    },
    State.BLOCK: {
        "message_start": _V._duplicate_start,
        "content_block_start": _V._overlapping_start,
        "content_block_delta": _V._on_block_delta,
        "content_block_stop": _V._on_block_stop,
        "message_delta": _V._block_left_open,
        "message_stop": _V._block_left_open,
        "ping": _V._on_ping,
        "error": _V._on_error,
        "*": _V._on_unknown,
    },
    State.MESSAGE_DELTA: {
        "message_start": _V._duplicate_start,
        **dict.fromkeys(_BLOCK_EVENTS, _V._block_after_message_delta),
        "message_delta": _V._on_message_delta,
        "message_stop": _V._on_message_stop,
        "ping": _V._on_ping,
        "error": _V._on_error,
        "*": _V._on_unknown,
    },
    State.STOPPED: {"ping": _V._on_ping, "error": _V._on_error, "*": _V._after_stop},
    State.ERRORED: {"ping": _V._on_ping, "*": _V._after_error},
}


def validate_stream(raw: bytes | Iterable[bytes], beta: bool = False) -> tuple[SSEDecoder, StreamValidator]:
    """Decode and validate a whole stream (convenience for recorded bodies).

    The cyclic garbage collector is paused meanwhile: the events, their parsed data and the accumulated message are
    thousands of new containers without a single cycle, and the collections their number sets off are wasted work
    (measured, interleaved runs: 125 ms with them, 116 ms without, median, for 14,066 events). Reference counting
    still frees everything; the collector runs again afterwards, if it ran before."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _validate_stream(raw, beta)
    finally:
        if collecting:
            gc.enable()


def _validate_stream(raw: bytes | Iterable[bytes], beta: bool = False) -> tuple[SSEDecoder, StreamValidator]:
    decoder, validator = SSEDecoder(), StreamValidator(beta)
    chunks: Iterable[bytes] = [raw] if isinstance(raw, bytes | bytearray | memoryview) else raw
    reported = 0

    def take(events: list[SSEEvent]) -> None:
        nonlocal reported
        for event in events:
            validator.feed(event)
        for message in decoder.errors[reported:]:
            validator.report_framing_error(message)
        reported = len(decoder.errors)

    validator.exact_numbers = False
    tail = b""
    for chunk in chunks:
        # one scan of the raw bytes for a run of 19 digits (with the end of the last chunk, for a run across two):
        # from there on events are parsed exactly, before any event holding it is dispatched
        if not validator.exact_numbers and (_LONG_NUMBER.search(tail + bytes(chunk[:32]))
                                            or _LONG_NUMBER.search(chunk)):
            validator.exact_numbers = True
        tail = bytes(chunk[-32:])
        take(decoder.feed(chunk))
    take(decoder.close())
    validator.close()
    return decoder, validator
