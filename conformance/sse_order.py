"""The event-order state machine of a Messages API stream: StreamValidator checks each decoded event's framing and
place (one message_start first, message_delta then message_stop last, nothing after an error), accumulates the
final message, and dispatches through TRANSITIONS, one handler per (state, event type)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from conformance.sse_blocks import BlockRules
from conformance.sse_decoder import SSEEvent, _preview
from conformance.sse_rules import (
    _EXPECT_JSON,
    MAX_PER_RULE,
    REQUEST_ERRORS,
    State,
    Violation,
    _is_int,
    _json_kind,
    _one_line,
    _OpenBlock,
    _parse_object,
    _show,
    _Step,
    describe,
)
from conformance.vocabulary import BETA_STOP_REASONS, KNOWN_EVENTS, STOP_REASONS

Handler = Callable[["StreamValidator", _Step], None]


class StreamValidator(BlockRules):
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
