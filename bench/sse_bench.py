"""SSE validation throughput on a large valid stream, next to plain json.loads and the official SDK's decoder."""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from conformance import schemas
from conformance.sse import SSEDecoder, validate_stream
from reference_server.streaming import SseEvent, encode, message_events

CHUNK = 64 * 1024  # the body is fed in reads of this size, as a client reads a socket
DOCUMENTED = frozenset({"message_start", "content_block_start", "content_block_delta", "content_block_stop",
                        "message_delta", "message_stop", "ping", "error"})
VOCABULARY = ("the", "stream", "of", "events", "carries", "a", "long", "answer", "written", "by", "reference",
              "server", "with", "déjà", "vu", "naïve", "café", "日本語", "emoji", "🙂", "and", "plain", "words")


def large_message(words: int, tool_items: int) -> dict[str, Any]:
    """A Message with a long text block and a tool_use block with a large input."""
    text = " ".join(VOCABULARY[(i * 7) % len(VOCABULARY)] for i in range(words)) + "."
    tool_input = {"items": [{"id": i, "name": f"item {i}", "tags": ["alpha", "beta"], "score": i / 7,
                             "done": i % 2 == 0} for i in range(tool_items)]}
    return {"id": "msg_01BenchLargeStream0000000", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "stop_reason": "tool_use", "stop_sequence": None,
            "content": [{"type": "text", "text": text},
                        {"type": "tool_use", "id": "toolu_01BenchLargeStreamTool01", "name": "record_items",
                         "input": tool_input}],
            "usage": {"input_tokens": 25, "output_tokens": words + tool_items * 12,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}


def with_pings(events: list[SseEvent], every: int) -> list[SseEvent]:
    out: list[SseEvent] = []
    for index, item in enumerate(events):
        out.append(item)
        if index and index % every == 0 and item.name not in ("message_stop",):
            out.append(SseEvent("ping", {"type": "ping"}))
    return out


def chunks_of(body: bytes) -> list[bytes]:
    return [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]


def full_validation(chunks: list[bytes]) -> tuple[Any, Any, int]:
    """What the streaming checks apply to every event: decoding, framing and event checks, the state machine with
    accumulation (validate_stream), then each documented event's schema (streaming/event-schema)."""
    decoder, validator = validate_stream(chunks)
    checked = 0
    errors = 0
    for _event, data in validator.events:
        if data is None or data.get("type") not in DOCUMENTED:
            continue
        errors += len(schemas.validate("stream-event", data))
        checked += 1
    return decoder, validator, checked if not errors else -errors


def _timed(function: Callable[[], Any]) -> float:
    """Seconds of one call, from a collected heap (so that one row's garbage is not collected on another's
    clock); the collector stays on during the call, as in a run."""
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _sdk_decoder() -> tuple[str, Callable[[list[bytes]], list[Any]]] | None:
    """The installed SDK's own SSE decoder (anthropic._streaming.SSEDecoder in 0.x, 1.x and 2.x)."""
    try:
        import anthropic
        from anthropic._streaming import SSEDecoder as SdkDecoder
    except ImportError:
        return None

    def decode(chunks: list[bytes]) -> list[Any]:
        return list(SdkDecoder().iter_bytes(iter(chunks)))

    return f"anthropic {anthropic.__version__}: anthropic._streaming.SSEDecoder.iter_bytes", decode


def coverage(events: list[SseEvent]) -> dict[str, Any]:
    """Plant one defect in the last content_block_delta of the stream and show that each layer reaches it."""
    last = max(i for i, item in enumerate(events) if item.name == "content_block_delta")
    renamed = list(events)
    renamed[last] = SseEvent("content_block_deltx", events[last].data)
    _, validator = validate_stream(chunks_of(encode(renamed)))
    framing = [v.rule for v in validator.violations if v.event_index == last]
    retyped = list(events)
    retyped[last] = dataclasses.replace(events[last], data={**events[last].data, "index": "1"})
    _, _, checked = full_validation(chunks_of(encode(retyped)))
    _, validator = validate_stream(chunks_of(encode(retyped)))
    order = [v.rule for v in validator.violations if v.event_index == last]
    caught = {"framing (event: line renamed)": framing, "state machine (index as a string)": order,
              "schema (index as a string)": ["STREAM-EVENT-SCHEMA"] if checked < 0 else []}
    return {"planted_at_event": last, "of_events": len(events), "caught_by": caught,
            "every_layer_reaches_the_last_event": all(caught.values())}


def section(repetitions: int, words: int = 30_000, tool_items: int = 400) -> dict[str, Any]:
    events = with_pings(message_events(large_message(words, tool_items)), every=500)
    body = encode(events)
    chunks = chunks_of(body)
    decoder, validator, schema_checked = full_validation(chunks)
    if validator.violations or validator.warnings or decoder.errors or schema_checked < 0:
        problems = [str(v) for v in validator.violations[:3]] + decoder.errors[:3]
        raise RuntimeError(f"the benchmark stream is not valid: {problems or 'schema errors'}")
    payloads = [event.data for event, _ in validator.events]
    count, size = len(payloads), len(body)
    kinds: dict[str, int] = {}
    for _, data in validator.events:
        kinds[data["type"]] = kinds.get(data["type"], 0) + 1

    def conformance_decode() -> None:
        own = SSEDecoder()
        for chunk in chunks:
            own.feed(chunk)
        own.close()

    def schema_only() -> None:
        for _, data in validator.events:
            schemas.validate("stream-event", data)

    candidates: list[tuple[str, str, Callable[[], Any]]] = [
        ("json.loads", "json.loads of every event's data payload (the floor: no SSE decoding)",
         lambda: [json.loads(p) for p in payloads]),
        ("conformance decoder", "conformance.sse.SSEDecoder: WHATWG decoding only", conformance_decode),
        ("validate_stream", "conformance.sse.validate_stream: decoding, framing/event checks, state machine, "
                            "accumulation", lambda: validate_stream(chunks)),
        ("schema checks", "conformance.schemas.validate('stream-event') of every event (already parsed)", schema_only),
        ("full validation", "validate_stream + every event's schema: every check the streaming checks apply",
         lambda: full_validation(chunks)),
    ]
    sdk = _sdk_decoder()
    if sdk is not None:
        label, decode = sdk
        candidates += [("SDK decoder", label, lambda: decode(chunks)),
                       ("SDK decoder + json", label + " + ServerSentEvent.json() of each event",
                        lambda: [event.json() for event in decode(chunks)])]
    for _, _, function in candidates:
        function()  # warm caches (schema compilation, imports)
    times: dict[str, list[float]] = {name: [] for name, _, _ in candidates}
    for _ in range(repetitions):  # in turns, so that a change in the machine's load falls on every row alike
        for name, _, function in candidates:
            times[name].append(_timed(function))
    rows: list[dict[str, Any]] = []
    for name, what, _ in candidates:
        seconds = statistics.median(times[name])
        rows.append({"name": name, "what": what, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
                     "events_per_s": count / seconds, "runs": times[name]})
    floor = rows[0]["seconds"]
    for row in rows:
        row["speed_vs_json_loads"] = floor / row["seconds"]
    return {"stream": {"bytes": size, "events": count, "kinds": kinds, "chunk_bytes": CHUNK,
                       "text_words": words, "tool_input_items": tool_items},
            "repetitions": repetitions, "rows": rows,
            "every_check_on_every_event": {
                "events_fed_to_decoder_and_state_machine": len(validator.events),
                "events_schema_validated": schema_checked,
                "events_in_stream": len(events),
                "planted_defect": coverage(events)},
            "note": "validate_stream applies the framing/event checks and the state machine to every event, but not "
                    "the schemas: those are applied per event by the streaming/event-schema check; 'full "
                    "validation' times both, as a run applies them"}
