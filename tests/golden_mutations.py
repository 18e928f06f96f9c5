"""Golden transcripts (fixtures/transcripts/) and the ways to break them, for tests/test_golden.py.

A golden stream is read into a list of `Event`s (the `event:` name and the parsed JSON data). Each `Mutation`
breaks such a list in one named way, lists every parameter where it really breaks that golden (`cases`), may
offer a Hypothesis strategy that generates further parameters (`strategy`), and declares the rule ids that may
name the damage (`rules`). `rejection` runs a mutated stream through the real validators: the SSE decoder and
event-order state machine (`validate_stream`), and the stream-event schema (reported as STREAM-EVENT-SCHEMA).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from conformance import schemas
from conformance.sse import KNOWN_EVENTS, REQUEST_ERRORS, STOP_REASONS, SSEDecoder, validate_stream

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"
SCHEMA_RULE = "STREAM-EVENT-SCHEMA"


# ---------------------------------------------------------------------------------------------------------
# Loading and rendering
# ---------------------------------------------------------------------------------------------------------


@cache
def transcripts() -> tuple[dict[str, Any], ...]:
    """Every transcript file, parsed, sorted by file name."""
    return tuple(json.loads(path.read_text(encoding="utf-8")) for path in sorted(TRANSCRIPTS.glob("*.json")))


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in transcripts() if doc.get("kind") == kind]


@dataclass(frozen=True)
class Event:
    """One SSE event: its `event:` name (None: no such line) and its data (parsed JSON, or the raw text)."""

    name: str | None
    data: Any

    @property
    def type(self) -> str | None:
        return self.data.get("type") if isinstance(self.data, dict) else None


def parse(sse: str) -> list[Event]:
    """Decode a golden event stream with the project's WHATWG decoder."""
    decoder = SSEDecoder()
    raw = decoder.feed(sse.encode("utf-8")) + decoder.close()
    assert not decoder.errors, decoder.errors
    return [Event(event.event, json.loads(event.data)) for event in raw]


def render(events: Iterable[Event]) -> bytes:
    """Encode events as a stream: an `event:` line when named, one `data:` line, a blank line after each."""
    out: list[str] = []
    for event in events:
        if event.name is not None:
            out.append(f"event: {event.name}\n")
        data = event.data if isinstance(event.data, str) else json.dumps(event.data, ensure_ascii=False)
        out.append(f"data: {data}\n\n")
    return "".join(out).encode("utf-8")


@dataclass(frozen=True)
class Golden:
    """A golden stream and the positions the mutations need."""

    id: str
    events: tuple[Event, ...]
    schema_baseline: frozenset[str]  # schema errors the golden itself has (a known schema discrepancy)

    @property
    def types(self) -> list[str | None]:
        return [event.type for event in self.events]

    def first(self, kind: str) -> int | None:
        return self.types.index(kind) if kind in self.types else None

    def all(self, kind: str) -> list[int]:
        return [i for i, t in enumerate(self.types) if t == kind]

    @property
    def terminal(self) -> int:
        """Position of the message_stop, or of the error event that ends the stream."""
        for kind in ("message_stop", "error"):
            position = self.first(kind)
            if position is not None:
                return position
        raise AssertionError(f"{self.id}: no message_stop or error event")

    @property
    def stopped(self) -> bool:
        return self.first("message_stop") is not None

    @property
    def blocks(self) -> dict[int, dict[str, Any]]:
        """Block index -> {"type", "start", "deltas": [positions], "stop": position or None}."""
        found: dict[int, dict[str, Any]] = {}
        for position, event in enumerate(self.events):
            if event.type == "content_block_start":
                found[event.data["index"]] = {
                    "type": event.data["content_block"]["type"],
                    "start": position,
                    "deltas": [],
                    "stop": None,
                }
            elif event.type == "content_block_delta":
                found[event.data["index"]]["deltas"].append(position)
            elif event.type == "content_block_stop":
                found[event.data["index"]]["stop"] = position
        return found

    def block_of(self, position: int) -> dict[str, Any]:
        return self.blocks[self.events[position].data["index"]]

    @property
    def non_ping(self) -> list[int]:
        return [i for i, t in enumerate(self.types) if t != "ping"]


@cache
def goldens() -> tuple[Golden, ...]:
    found = []
    for doc in by_kind("stream"):
        events = tuple(parse(doc["sse"]))
        baseline = frozenset(error for event in events for error in schema_errors(event.data))
        found.append(Golden(doc["id"], events, baseline))
    return tuple(found)


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------


_SCHEMA_CACHE: dict[str, tuple[str, ...]] = {}


def schema_errors(data: Any) -> tuple[str, ...]:
    """stream-event schema errors of one event's data (memoised: most events of a mutant are unchanged)."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return ()  # not JSON, or no type: the SSE rules report it
    key = json.dumps(data, sort_keys=True)
    if key not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[key] = tuple(f"{data['type']} {error}" for error in schemas.validate("stream-event", data))
    return _SCHEMA_CACHE[key]


def rejection(raw: bytes, baseline: frozenset[str] = frozenset()) -> set[str]:
    """The rule ids a stream breaks: the state machine's violations and deviations (which the clients read past, but
    the real API never sends), plus STREAM-EVENT-SCHEMA when an event's
    data has a schema error that the golden did not already have."""
    _, validator = validate_stream(raw)
    rules = {violation.rule for violation in (*validator.violations, *validator.deviations)}
    for _, data in validator.events:
        if any(error not in baseline for error in schema_errors(data)):
            rules.add(SCHEMA_RULE)
            break
    return rules


# ---------------------------------------------------------------------------------------------------------
# Mutations of streams
# ---------------------------------------------------------------------------------------------------------

Params = tuple[Any, ...]


@dataclass(frozen=True)
class Mutation:
    kind: str
    rules: frozenset[str]
    cases: Callable[[Golden], list[Params]]  # every parameter tuple where this really breaks the golden
    apply: Callable[[Golden, Params], list[Event]]
    extra: Callable[[Golden], st.SearchStrategy[Params]] | None = field(default=None)  # generated parameters

    def strategy(self, golden: Golden) -> st.SearchStrategy[Params]:
        listed = st.sampled_from(self.cases(golden))
        return listed if self.extra is None else st.one_of(listed, self.extra(golden))


def _events(golden: Golden) -> list[Event]:
    return [Event(event.name, copy.deepcopy(event.data)) for event in golden.events]


def _without(golden: Golden, position: int) -> list[Event]:
    events = _events(golden)
    del events[position]
    return events


def _insert(golden: Golden, position: int, event: Event) -> list[Event]:
    events = _events(golden)
    events.insert(position, Event(event.name, copy.deepcopy(event.data)))
    return events


def _move(golden: Golden, source: int, target: int) -> list[Event]:
    """Move the event at `source` so that it comes right before the event now at `target` (len: to the end)."""
    events = _events(golden)
    moved = events[source]
    events.insert(target, moved)
    del events[source if source < target else source + 1]
    return events


def _edit(golden: Golden, position: int, change: Callable[[Event], Event]) -> list[Event]:
    events = _events(golden)
    events[position] = change(events[position])
    return events


def _set_data(golden: Golden, position: int, change: Callable[[dict[str, Any]], None]) -> list[Event]:
    def edit(event: Event) -> Event:
        data = copy.deepcopy(event.data)
        change(data)
        return Event(event.name, data)

    return _edit(golden, position, edit)


# -- dropping required events ---------------------------------------------------------------------------


def _drop_first(kind: str) -> Callable[[Golden], list[Params]]:
    def cases(golden: Golden) -> list[Params]:
        return [(position,) for position in golden.all(kind)]

    return cases


def _drop_block_event(which: str) -> Callable[[Golden], list[Params]]:
    def cases(golden: Golden) -> list[Params]:
        return [(block[which],) for block in golden.blocks.values() if block[which] is not None]

    return cases


def _apply_drop(golden: Golden, params: Params) -> list[Event]:
    return _without(golden, params[0])


# -- duplicates and order ------------------------------------------------------------------------------


def _duplicate_start_cases(golden: Golden) -> list[Params]:
    start = golden.first("message_start")
    return [] if start is None else [(position,) for position in range(start + 1, golden.terminal + 1)]


def _apply_duplicate_start(golden: Golden, params: Params) -> list[Event]:
    return _insert(golden, params[0], golden.events[golden.first("message_start")])


def _duplicate_stop_cases(golden: Golden) -> list[Params]:
    if not golden.stopped:
        return []
    stop = golden.terminal
    # before the original, or after it (at the end); inserting at `stop` equals inserting at `stop + 1`
    return [(position,) for position in range(1, stop)] + [(len(golden.events),)]


def _apply_duplicate_stop(golden: Golden, params: Params) -> list[Event]:
    return _insert(golden, params[0], golden.events[golden.terminal])


def _stop_early_cases(golden: Golden) -> list[Params]:
    if not golden.stopped:
        return []
    last_delta = golden.all("message_delta")[-1]
    return [(target,) for target in range(1, last_delta + 1)]


def _apply_stop_early(golden: Golden, params: Params) -> list[Event]:
    return _move(golden, golden.terminal, params[0])


def _delta_before_start_cases(golden: Golden) -> list[Params]:
    return [(block["start"], delta) for block in golden.blocks.values() for delta in block["deltas"]]


def _apply_delta_before_start(golden: Golden, params: Params) -> list[Event]:
    start, delta = params
    return _move(golden, start, delta + 1)  # the block's start now comes after this delta


def _message_delta_early_cases(golden: Golden) -> list[Params]:
    if not golden.stopped:
        return []
    return [(block["stop"],) for block in golden.blocks.values()]


def _apply_message_delta_early(golden: Golden, params: Params) -> list[Event]:
    return _move(golden, golden.all("message_delta")[-1], params[0])


def _message_start_late_cases(golden: Golden) -> list[Params]:
    start = golden.first("message_start")
    if start is None:
        return []
    # after event `position`, at least one non-ping event then comes first
    return [(position,) for position in range(start + 1, len(golden.events)) if position in golden.non_ping]


def _apply_message_start_late(golden: Golden, params: Params) -> list[Event]:
    return _move(golden, golden.first("message_start"), params[0] + 1)


def _block_stop_late_cases(golden: Golden) -> list[Params]:
    blocks = golden.blocks
    return [(block["stop"], blocks[index + 1]["start"]) for index, block in blocks.items() if index + 1 in blocks]


def _apply_block_stop_late(golden: Golden, params: Params) -> list[Event]:
    stop, next_start = params
    return _move(golden, stop, next_start + 1)  # the next block starts while this one is still open


def _ping_first_cases(golden: Golden) -> list[Params]:
    start = golden.first("message_start")
    return [] if start is None else [(count,) for count in (1, 2)]


def _apply_ping_first(golden: Golden, params: Params) -> list[Event]:
    events = _events(golden)
    return [Event("ping", {"type": "ping"}) for _ in range(params[0])] + events


def _request_error_first_cases(golden: Golden) -> list[Params]:
    return [(kind,) for kind in sorted(REQUEST_ERRORS)]


def _apply_request_error_first(golden: Golden, params: Params) -> list[Event]:
    """The stream replaced by one error event of a request error (what a layer sends instead of an HTTP 4xx)."""
    return [Event("error", {"type": "error", "error": {"type": params[0], "message": "refused"}})]


# -- event names ------------------------------------------------------------------------------------------


def _rename_cases(golden: Golden) -> list[Params]:
    return [
        (position, name) for position in golden.non_ping for name in sorted(KNOWN_EVENTS) if name != golden.types[position]
    ]


def _rename_extra(golden: Golden) -> st.SearchStrategy[Params]:
    return st.tuples(
        st.sampled_from(golden.non_ping),
        st.from_regex(r"[a-z][a-z_]{0,24}", fullmatch=True),
    ).filter(lambda params: params[1] != golden.types[params[0]])


def _apply_rename(golden: Golden, params: Params) -> list[Event]:
    position, name = params
    return _edit(golden, position, lambda event: Event(name, event.data))


def _drop_name_cases(golden: Golden) -> list[Params]:
    return [(position,) for position in golden.non_ping]


def _apply_drop_name(golden: Golden, params: Params) -> list[Event]:
    return _edit(golden, params[0], lambda event: Event(None, event.data))


# -- deltas -----------------------------------------------------------------------------------------------

# delta type -> (payload key, the block types it belongs in), as documented under "Content block delta types"
DELTAS: dict[str, tuple[str, frozenset[str]]] = {
    "text_delta": ("text", frozenset({"text"})),
    "input_json_delta": ("partial_json", frozenset({"tool_use", "server_tool_use"})),
    "thinking_delta": ("thinking", frozenset({"thinking"})),
    "signature_delta": ("signature", frozenset({"thinking"})),
}
CHECKED_BLOCKS = frozenset({"text", "tool_use", "server_tool_use", "thinking"})


def _payload(delta: dict[str, Any]) -> str:
    value = delta.get(DELTAS[delta["type"]][0]) if delta.get("type") in DELTAS else None
    return value if isinstance(value, str) else "x"


def _wrong_delta_cases(golden: Golden) -> list[Params]:
    return [
        (position, new_type)
        for position in golden.all("content_block_delta")
        if golden.block_of(position)["type"] in CHECKED_BLOCKS
        for new_type, (_, fits) in DELTAS.items()
        if golden.block_of(position)["type"] not in fits
    ]


def _apply_wrong_delta(golden: Golden, params: Params) -> list[Event]:
    position, new_type = params

    def change(data: dict[str, Any]) -> None:
        data["delta"] = {"type": new_type, DELTAS[new_type][0]: _payload(data["delta"])}

    return _set_data(golden, position, change)


def _shift_cases(golden: Golden) -> list[Params]:
    cases: list[Params] = []
    for index, block in golden.blocks.items():
        shifts = (1, 2, -1) if index > 0 else (1, 2)
        for shift in shifts:
            cases.append(("start", index, shift))
            cases.append(("block", index, shift))
            if block["stop"] is not None:
                cases.append(("stop", index, shift))
        for position in block["deltas"]:
            cases.extend(("delta", position, shift) for shift in (1, -1) if index + shift >= 0)
    return cases


def _apply_shift(golden: Golden, params: Params) -> list[Event]:
    what, where, shift = params
    block = golden.blocks[where] if what != "delta" else None
    if what == "start":
        positions = [block["start"]]
    elif what == "stop":
        positions = [block["stop"]]
    elif what == "block":
        positions = [block["start"], *block["deltas"]] + ([block["stop"]] if block["stop"] is not None else [])
    else:
        positions = [where]
    events = _events(golden)
    for position in positions:
        events[position].data["index"] += shift
    return events


def _tool_fragments(golden: Golden) -> dict[int, list[int]]:
    """Tool block index -> positions of its input_json_delta events."""
    return {
        index: [p for p in block["deltas"] if golden.events[p].data["delta"].get("type") == "input_json_delta"]
        for index, block in golden.blocks.items()
        if block["type"] in ("tool_use", "server_tool_use")
    }


def _object_cases(golden: Golden) -> list[Params]:
    return [
        (position, variant)
        for positions in _tool_fragments(golden).values()
        for position in positions
        for variant in ("empty", "whole")
    ]


def _apply_object(golden: Golden, params: Params) -> list[Event]:
    position, variant = params
    index = golden.events[position].data["index"]
    joined = "".join(golden.events[p].data["delta"]["partial_json"] for p in _tool_fragments(golden)[index])
    value = {} if variant == "empty" else json.loads(joined)

    def change(data: dict[str, Any]) -> None:
        data["delta"]["partial_json"] = value

    return _set_data(golden, position, change)


def _fragment_edits(fragment: str) -> dict[str, str | None]:
    return {"delete": None, "double": fragment + fragment, "halve": fragment[: len(fragment) // 2], "bracket": "["}


def _concatenation(golden: Golden, index: int, position: int, replacement: str | None) -> str:
    pieces = []
    for p in _tool_fragments(golden)[index]:
        piece = golden.events[p].data["delta"]["partial_json"]
        if p == position:
            if replacement is None:
                continue
            piece = replacement
        pieces.append(piece)
    return "".join(pieces)


def _not_an_object(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


def _corrupt_cases(golden: Golden) -> list[Params]:
    cases: list[Params] = []
    for index, positions in _tool_fragments(golden).items():
        for position in positions:
            fragment = golden.events[position].data["delta"]["partial_json"]
            for edit, replacement in _fragment_edits(fragment).items():
                if replacement == fragment:
                    continue
                # only where the concatenation really stops being a JSON object
                if _not_an_object(_concatenation(golden, index, position, replacement)):
                    cases.append((position, edit))
    return cases


def _apply_corrupt(golden: Golden, params: Params) -> list[Event]:
    position, edit = params
    replacement = _fragment_edits(golden.events[position].data["delta"]["partial_json"])[edit]
    if replacement is None:
        return _without(golden, position)

    def change(data: dict[str, Any]) -> None:
        data["delta"]["partial_json"] = replacement

    return _set_data(golden, position, change)


# -- usage and stop_reason ----------------------------------------------------------------------------------


def _drop_delta_usage_cases(golden: Golden) -> list[Params]:
    return [(position,) for position in golden.all("message_delta")]


def _apply_drop_delta_usage(golden: Golden, params: Params) -> list[Event]:
    return _set_data(golden, params[0], lambda data: data.pop("usage"))


def _drop_start_usage_cases(golden: Golden) -> list[Params]:
    return [(position,) for position in golden.all("message_start")]


def _apply_drop_start_usage(golden: Golden, params: Params) -> list[Event]:
    return _set_data(golden, params[0], lambda data: data["message"].pop("usage"))


BAD_TOKENS: tuple[Any, ...] = ("15", None, -1, 1.5, True, [], {})


def _bad_tokens_cases(golden: Golden) -> list[Params]:
    return [(position, n) for position in golden.all("message_delta") for n in range(len(BAD_TOKENS))]


def _apply_bad_tokens(golden: Golden, params: Params) -> list[Event]:
    position, n = params

    def change(data: dict[str, Any]) -> None:
        data["usage"]["output_tokens"] = BAD_TOKENS[n]

    return _set_data(golden, position, change)


BAD_STOP_REASONS: tuple[Any, ...] = (None, "stop", "length", "tool_calls", "end", "END_TURN", "", 0)


def _bad_stop_cases(golden: Golden) -> list[Params]:
    deltas = golden.all("message_delta")
    return [(deltas[-1], reason) for reason in (*BAD_STOP_REASONS, "<missing>")] if deltas else []


def _bad_stop_extra(golden: Golden) -> st.SearchStrategy[Params]:
    deltas = golden.all("message_delta")
    reasons = st.text(max_size=12).filter(lambda reason: reason not in STOP_REASONS)
    return st.tuples(st.just(deltas[-1]), reasons)


def _apply_bad_stop(golden: Golden, params: Params) -> list[Event]:
    position, reason = params

    def change(data: dict[str, Any]) -> None:
        if reason == "<missing>":
            del data["delta"]["stop_reason"]
        else:
            data["delta"]["stop_reason"] = reason

    return _set_data(golden, position, change)


# -- after the end ------------------------------------------------------------------------------------------


def _after_end_cases(golden: Golden) -> list[Params]:
    return [(position,) for position in golden.non_ping]


def _apply_after_end(golden: Golden, params: Params) -> list[Event]:
    return _insert(golden, len(golden.events), golden.events[params[0]])


DONE_VARIANTS: tuple[tuple[str | None, str, str], ...] = (
    (None, "[DONE]", "replace"),  # OpenAI style: no event line
    ("done", "[DONE]", "replace"),
    ("message_stop", "[DONE]", "replace"),
    (None, "[DONE]", "append"),
)


def _done_cases(golden: Golden) -> list[Params]:
    return [(n,) for n in range(len(DONE_VARIANTS))] if golden.stopped else []


def _apply_done(golden: Golden, params: Params) -> list[Event]:
    name, data, how = DONE_VARIANTS[params[0]]
    if how == "append":
        return _insert(golden, len(golden.events), Event(name, data))
    return _edit(golden, golden.terminal, lambda _: Event(name, data))


ERROR_DAMAGE = ("no message", "no type", "string error", "numeric message")


def _error_envelope_cases(golden: Golden) -> list[Params]:
    return [(position, damage) for position in golden.all("error") for damage in ERROR_DAMAGE]


def _apply_error_envelope(golden: Golden, params: Params) -> list[Event]:
    position, damage = params

    def change(data: dict[str, Any]) -> None:
        if damage == "no message":
            del data["error"]["message"]
        elif damage == "no type":
            del data["error"]["type"]
        elif damage == "string error":
            data["error"] = data["error"]["message"]
        else:
            data["error"]["message"] = 529

    return _set_data(golden, position, change)


def _only_stopped(cases: Callable[[Golden], list[Params]]) -> Callable[[Golden], list[Params]]:
    return lambda golden: cases(golden) if golden.stopped else []


def _only_errored(cases: Callable[[Golden], list[Params]]) -> Callable[[Golden], list[Params]]:
    return lambda golden: [] if golden.stopped else cases(golden)


def _rules(*ids: str) -> frozenset[str]:
    return frozenset(ids)


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("drop message_start", _rules("STREAM-START"), _drop_first("message_start"), _apply_drop),
    Mutation("drop a content_block_start", _rules("STREAM-BLOCK-ORDER"), _drop_block_event("start"), _apply_drop),
    Mutation(
        "drop a content_block_stop",
        _rules("STREAM-BLOCK-ORDER"),
        _only_stopped(_drop_block_event("stop")),
        _apply_drop,
    ),
    Mutation("drop message_delta", _rules("STREAM-DELTA-USAGE"), _drop_first("message_delta"), _apply_drop),
    Mutation("drop message_stop", _rules("STREAM-STOP-LAST"), _drop_first("message_stop"), _apply_drop),
    Mutation(
        "duplicate message_start",
        _rules("STREAM-START"),
        _duplicate_start_cases,
        _apply_duplicate_start,
    ),
    Mutation(
        "duplicate message_stop",
        _rules("STREAM-STOP-LAST", "STREAM-BLOCK-ORDER"),
        _duplicate_stop_cases,
        _apply_duplicate_stop,
    ),
    Mutation(
        "move message_stop before message_delta",
        _rules("STREAM-STOP-LAST", "STREAM-BLOCK-ORDER", "STREAM-DELTA-USAGE"),
        _stop_early_cases,
        _apply_stop_early,
    ),
    Mutation(
        "move a delta before its block's start",
        _rules("STREAM-BLOCK-ORDER"),
        _delta_before_start_cases,
        _apply_delta_before_start,
    ),
    Mutation(
        "move message_delta before a content_block_stop",
        _rules("STREAM-BLOCK-ORDER"),
        _message_delta_early_cases,
        _apply_message_delta_early,
    ),
    Mutation("a ping before message_start", _rules("STREAM-START"), _ping_first_cases, _apply_ping_first),
    Mutation(
        "a request error as the first event",
        _rules("STREAM-START"),
        _request_error_first_cases,
        _apply_request_error_first,
    ),
    Mutation(
        "move message_start after other events",
        _rules("STREAM-START", "STREAM-STOP-LAST"),
        _message_start_late_cases,
        _apply_message_start_late,
    ),
    Mutation(
        "move a content_block_stop after the next block's start",
        _rules("STREAM-BLOCK-ORDER"),
        _block_stop_late_cases,
        _apply_block_stop_late,
    ),
    Mutation(
        "event name differs from the data type",
        _rules("SSE-EVENT-TYPE-MATCH"),
        _rename_cases,
        _apply_rename,
        _rename_extra,
    ),
    Mutation("remove the event: line", _rules("SSE-EVENT-FIELD"), _drop_name_cases, _apply_drop_name),
    Mutation(
        "delta type does not match its block",
        _rules("STREAM-DELTA-TYPE", "STREAM-TOOL-JSON"),
        _wrong_delta_cases,
        _apply_wrong_delta,
    ),
    Mutation("shift a block index", _rules("STREAM-BLOCK-ORDER"), _shift_cases, _apply_shift),
    Mutation(
        "partial_json as an object",
        _rules("STREAM-TOOL-JSON", SCHEMA_RULE),
        _object_cases,
        _apply_object,
    ),
    Mutation(
        "corrupt the concatenated partial_json",
        _rules("STREAM-TOOL-JSON"),
        _corrupt_cases,
        _apply_corrupt,
    ),
    Mutation(
        "remove usage from message_delta",
        _rules("STREAM-DELTA-USAGE", SCHEMA_RULE),
        _drop_delta_usage_cases,
        _apply_drop_delta_usage,
    ),
    Mutation(
        "remove usage from message_start",
        _rules("STREAM-START-SHAPE", SCHEMA_RULE),
        _drop_start_usage_cases,
        _apply_drop_start_usage,
    ),
    Mutation(
        "message_delta output_tokens not an integer >= 0",
        _rules("STREAM-DELTA-USAGE", SCHEMA_RULE),
        _bad_tokens_cases,
        _apply_bad_tokens,
    ),
    Mutation(
        "final stop_reason null or outside the enum",
        _rules("STREAM-STOP-REASON", SCHEMA_RULE),
        _bad_stop_cases,
        _apply_bad_stop,
        _bad_stop_extra,
    ),
    Mutation(
        "an event after message_stop",
        _rules("STREAM-STOP-LAST"),
        _only_stopped(_after_end_cases),
        _apply_after_end,
    ),
    Mutation(
        "message_stop replaced by (or followed by) data: [DONE]",
        _rules("SSE-DATA-JSON", "SSE-EVENT-FIELD", "STREAM-STOP-LAST"),
        _done_cases,
        _apply_done,
    ),
    Mutation(
        "an event after the error event",
        _rules("STREAM-ERROR-EVENT"),
        _only_errored(_after_end_cases),
        _apply_after_end,
    ),
    Mutation(
        "error event without the error envelope",
        _rules("STREAM-ERROR-EVENT", SCHEMA_RULE),
        _error_envelope_cases,
        _apply_error_envelope,
    ),
)


def all_stream_cases() -> list[tuple[Golden, Mutation, Params]]:
    """Every (golden, mutation, parameters) where the mutation applies, deterministically ordered."""
    return [
        (golden, mutation, params) for golden in goldens() for mutation in MUTATIONS for params in mutation.cases(golden)
    ]


@st.composite
def stream_cases(draw: st.DrawFn) -> tuple[Golden, Mutation, Params]:
    """A golden stream, a mutation that applies to it, and its parameters."""
    golden = draw(st.sampled_from(goldens()))
    mutation = draw(st.sampled_from([m for m in MUTATIONS if m.cases(golden)]))
    params = draw(mutation.strategy(golden))
    return golden, mutation, params


# ---------------------------------------------------------------------------------------------------------
# Mutations of non-stream messages: (kind, JSON path the schema must name, the field, how to break the body)
# ---------------------------------------------------------------------------------------------------------

MessageCase = tuple[str, str, str, Callable[[dict[str, Any]], None]]


def _remove(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


def _assign(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def message_cases(body: dict[str, Any]) -> list[MessageCase]:
    cases: list[MessageCase] = [(f"remove {key}", "$", key, _remove(key)) for key in schemas.schema("message")["required"]]
    cases += [
        ('stop_reason "stop"', "$.stop_reason", "stop_reason", _assign(("stop_reason",), "stop")),
        ("content as a string", "$.content", "content", _assign(("content",), "Hello!")),
        ('usage.output_tokens "3"', "$.usage.output_tokens", "output_tokens", _assign(("usage", "output_tokens"), "3")),
        ('type "msg"', "$.type", "type", _assign(("type",), "msg")),
        ('role "user"', "$.role", "role", _assign(("role",), "user")),
    ]
    for n, block in enumerate(body["content"]):
        if block["type"] == "tool_use":
            text = json.dumps(block["input"])
            cases.append(
                (
                    f"content[{n}].input as a JSON string",
                    f"$.content[{n}].input",
                    "input",
                    _assign(("content", n, "input"), text),
                )
            )
    return cases
