"""Golden transcripts: normalise recorded exchanges (volatile fields masked), reduce them to shapes, compare, save, load."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from conformance.sse import SSEDecoder
from conformance.target import Target
from conformance.wire import Exchange

__all__ = [
    "Difference",
    "ID_PREFIXES",
    "compare",
    "load",
    "normalise",
    "save",
    "shape",
]

# Ids with these prefixes are masked to "<id:prefix>" wherever they appear in a response.
ID_PREFIXES = ("msg_", "toolu_", "req_", "srvtoolu_")
# Response string values kept as they are: the enums clients dispatch on (error.type, delta.type are "type").
RESPONSE_ENUM_KEYS = frozenset({"type", "role", "stop_reason", "service_tier", "speed"})
# Keys whose string value is an id even without a known prefix.
ID_KEYS = frozenset({"id", "tool_use_id", "request_id"})
# Request string values kept as they are; every other request string becomes a shape marker.
REQUEST_ENUM_KEYS = frozenset({"type", "role", "media_type"})
# Integers kept in responses (structure, not volatile counts).
KEPT_INTEGER_KEYS = frozenset({"index"})
# Free-form objects (a tool's input): their keys (nonces, drawn in run order) become "<key:N>", their leaves are
# masked without enums, and shape() does not descend into them.
OPAQUE_KEYS = frozenset({"input"})
# Request objects whose keys are nonces: a JSON schema's properties (and, as in responses, a tool input).
REQUEST_NONCE_KEYS = frozenset({"properties"})
# Response headers whose presence (never their value) is recorded.
SELECTED_HEADERS = ("request-id", "retry-after", "x-should-retry")
STREAM_MEDIA_TYPE = "text/event-stream"
DELTA = "content_block_delta"

DifferenceKind = Literal["event-sequence", "block-types", "missing-field", "extra-field"]


@dataclass(frozen=True)
class Difference:
    """One way an actual shape differs from the golden one; `extra-field` is a warning for callers."""

    kind: DifferenceKind
    where: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: expected {self.expected}; got {self.got}"


# ---------------------------------------------------------------------------------------------------------
# normalise: one exchange -> a JSON-able record with volatile values masked
# ---------------------------------------------------------------------------------------------------------


def normalise(exchange: Exchange, target: Target | None = None) -> dict[str, Any]:
    """A JSON-able record of one exchange: structure, keys, types and enums kept; ids, text, counts masked.

    Request headers are not recorded (only anthropic-version and anthropic-beta); with `target`, every
    string left in the record (keys included) also passes through Target.redact, so a target that echoes
    the key into its body cannot leak it.
    """
    record = {"request": _request(exchange), "response": _response(exchange)}
    return _redact(record, target) if target is not None else record


def _request(exchange: Exchange) -> dict[str, Any]:
    request = exchange.request
    out: dict[str, Any] = {"method": request.method, "path": request.path, "auth": request.auth}
    if request.version:
        out["anthropic-version"] = request.version
    betas = [value for name, value in request.headers if name.lower() == "anthropic-beta"]
    if betas:
        out["anthropic-beta"] = [beta.strip() for value in betas for beta in value.split(",") if beta.strip()]
    if isinstance(request.body, bytes | bytearray):
        out["body"] = f"<bytes:{len(request.body)}>"
    elif request.body is not None:
        out["body"] = _mask_request(request.body, "")
    return out


def _response(exchange: Exchange) -> dict[str, Any]:
    out: dict[str, Any] = {"status": exchange.status}
    if exchange.error:
        out["transport_error"] = True  # the message carries timings and addresses: volatile
    if exchange.truncated:
        out["truncated"] = True
    media_type = exchange.content_type.split(";", 1)[0].strip().lower()
    out["content_type"] = media_type or None
    out["headers"] = [name for name in SELECTED_HEADERS if name in exchange.headers]
    if _is_stream(exchange, media_type):
        out["events"] = _events(exchange.body)
        return out
    if not exchange.body:
        out["body"] = "<empty>"
    elif exchange.json is None:
        out["body"] = "<non-json>"
    else:
        out["body"] = _mask_response(exchange.json, "", opaque=False)
    return out


def _is_stream(exchange: Exchange, media_type: str) -> bool:
    if media_type == STREAM_MEDIA_TYPE:
        return True
    asked = isinstance(exchange.request.json, dict) and exchange.request.json.get("stream") is True
    return asked and bool(exchange.body) and exchange.json is None


def _events(body: bytes) -> list[list[Any]]:
    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.close()
    out: list[list[Any]] = []
    for event in events:
        try:
            data: Any = _mask_response(json.loads(event.data), "", opaque=False)
        except ValueError:
            data = "[DONE]" if event.data.strip() == "[DONE]" else "<non-json>"
        out.append([event.event, data])
    return out


def _word_marker(text: str) -> str:
    if not text:
        return "<str:empty>"
    words = len(text.split())
    if words == 0:
        return "<str:blank>"
    return f"<str:{words} word{'s' if words != 1 else ''}>"


def _numbered_keys(value: dict[str, Any]) -> dict[str, Any]:
    return {f"<key:{i}>": item for i, item in enumerate(value.values(), 1)}


def _mask_request(value: Any, key: str, *, opaque: bool = False) -> Any:
    """Strings become word-count markers (enums kept); inside a replayed tool input, numbers are masked too."""
    if isinstance(value, dict):
        masked = {k: _mask_request(v, k, opaque=opaque or k in OPAQUE_KEYS) for k, v in value.items()}
        return _numbered_keys(masked) if opaque or key in REQUEST_NONCE_KEYS else masked
    if isinstance(value, list):
        return [_mask_request(item, key, opaque=opaque) for item in value]
    if isinstance(value, str):
        return value if key in REQUEST_ENUM_KEYS and not opaque else _word_marker(value)
    if opaque and isinstance(value, int | float) and not isinstance(value, bool):
        return "<int>" if isinstance(value, int) else "<number>"
    return value  # numbers, booleans and null outside tool inputs describe the probe, not the run


def _mask_response(value: Any, key: str, *, opaque: bool) -> Any:
    if isinstance(value, dict):
        masked = {k: _mask_response(v, k, opaque=opaque or k in OPAQUE_KEYS) for k, v in value.items()}
        return _numbered_keys(masked) if opaque else masked
    if isinstance(value, list):
        return [_mask_response(item, key, opaque=opaque) for item in value]
    if isinstance(value, str):
        return _mask_string(value, key, opaque)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if key in KEPT_INTEGER_KEYS and not opaque else "<int>"
    if isinstance(value, float):
        return "<number>"
    return "<unknown>"


def _mask_string(value: str, key: str, opaque: bool) -> str:
    if key in RESPONSE_ENUM_KEYS and not opaque:
        return value
    for prefix in ID_PREFIXES:
        if value.startswith(prefix):
            return f"<id:{prefix}>"
    if key in ID_KEYS and not opaque:
        return "<id>"
    return "<text>"


def _redact(value: Any, target: Target) -> Any:
    if isinstance(value, dict):
        return {target.redact(k): _redact(v, target) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, target) for item in value]
    if isinstance(value, str):
        return target.redact(value)
    return value


# ---------------------------------------------------------------------------------------------------------
# shape: a record -> what golden comparison looks at
# ---------------------------------------------------------------------------------------------------------


def shape(record: dict[str, Any]) -> dict[str, Any]:
    """The comparison shape: status, media type, event sequence, block types, JSON paths per event type / body.

    Pings are dropped; a run of deltas of one block with one delta type becomes `content_block_delta(<type>)*`.
    Paths mark array items of `type`-tagged objects as `[<type>]` (others `[]`) and stop at free-form objects
    (a tool's `input`). Paths are keyed `body` for a JSON body, by event label for a stream, and `headers`.
    """
    response = record.get("response", {})
    paths: dict[str, set[str]] = {"headers": set(response.get("headers", []))}
    events: list[str] = []
    blocks: list[str] = []
    if "events" in response:
        last_run: tuple[Any, Any] | None = None
        for name, data in response["events"]:
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "ping" or (kind is None and name == "ping"):
                continue
            label = _event_label(name, data)
            if isinstance(data, dict):
                paths.setdefault(label, set()).update(_paths(data))
            if kind == DELTA:
                run = (data.get("index"), label)
                if run != last_run:
                    events.append(label + "*")
                last_run = run
                continue
            last_run = None
            events.append(_sequence_name(name, kind))
            if kind == "content_block_start" and isinstance(data.get("content_block"), dict):
                blocks.append(str(data["content_block"].get("type")))
    elif "body" in response:
        body = response["body"]
        if isinstance(body, dict | list):
            paths["body"] = set(_paths(body))
        content = body.get("content") if isinstance(body, dict) else None
        if isinstance(content, list):
            blocks = [str(block.get("type")) if isinstance(block, dict) else type(block).__name__ for block in content]
    return {
        "status": response.get("status"),
        "media_type": response.get("content_type"),
        "events": events,
        "blocks": blocks,
        "paths": {key: sorted(value) for key, value in sorted(paths.items())},
    }


def _sequence_name(name: Any, kind: Any) -> str:
    if name is None:
        return f"(no event name)[{kind}]"
    if isinstance(kind, str) and kind != name:
        return f"{name}[{kind}]"
    return str(name)


def _event_label(name: Any, data: Any) -> str:
    """content_block_start(text), content_block_delta(text_delta), message_delta, or the event name."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return str(name)
    kind = data["type"]
    inner = {"content_block_start": "content_block", DELTA: "delta"}.get(kind)
    if inner and isinstance(data.get(inner), dict):
        return f"{kind}({data[inner].get('type')})"
    return kind


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _paths(value: Any, path: str = "$") -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"
            out.append(child)
            if key not in OPAQUE_KEYS:
                out.extend(_paths(item, child))
    elif isinstance(value, list):
        for item in value:
            tag = item.get("type") if isinstance(item, dict) else None
            child = f"{path}[{tag}]" if isinstance(tag, str) else f"{path}[]"
            out.append(child)
            out.extend(_paths(item, child))
    return out


# ---------------------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------------------


def compare(actual_shape: dict[str, Any], golden_shape: dict[str, Any]) -> list[Difference]:
    """The differences of an actual shape from the golden one, in a stable order.

    A different status or media type is reported as a missing field (the golden value is missing).
    """
    diffs: list[Difference] = []
    for key, where in (("status", "status"), ("media_type", "content-type")):
        if actual_shape.get(key) != golden_shape.get(key):
            diffs.append(Difference("missing-field", where, str(golden_shape.get(key)), str(actual_shape.get(key))))
    for key, kind in (("events", "event-sequence"), ("blocks", "block-types")):
        diff = _sequence_difference(kind, key, list(actual_shape.get(key, [])), list(golden_shape.get(key, [])))
        if diff:
            diffs.append(diff)
    actual_paths = actual_shape.get("paths", {})
    golden_paths = golden_shape.get("paths", {})
    for key in sorted(set(actual_paths) | set(golden_paths)):
        if key not in actual_paths:
            diffs.append(Difference("missing-field", key, "present", "absent"))
            continue
        if key not in golden_paths:
            diffs.append(Difference("extra-field", key, "absent", "present"))
            continue
        got, expected = set(actual_paths[key]), set(golden_paths[key])
        diffs += [Difference("missing-field", f"{key} {path}", "present", "absent") for path in sorted(expected - got)]
        diffs += [Difference("extra-field", f"{key} {path}", "absent", "present") for path in sorted(got - expected)]
    return diffs


def _sequence_difference(kind: DifferenceKind, key: str, got: list[str], expected: list[str]) -> Difference | None:
    if got == expected:
        return None
    first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))
    return Difference(kind, f"{key}[{first}]", ", ".join(expected) or "(none)", ", ".join(got) or "(none)")


# ---------------------------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------------------------


def _file_for(folder: Path, name: str) -> Path:
    """The file of exchange `name` inside folder: the name percent-encoded, so it can never leave the folder."""
    path = folder / (quote(name, safe="") + ".json")
    if path.resolve().parent != folder.resolve() or not quote(name, safe="").strip("."):
        raise ValueError(f"exchange name {name!r} does not make a file name inside the folder")
    return path


def save(records: dict[str, dict[str, Any]], folder: str | Path) -> list[Path]:
    """Write one JSON file per exchange name into folder (created if needed); returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, record in sorted(records.items()):
        path = _file_for(folder, name)
        path.write_text(json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def load(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Read the records save() wrote: exchange name -> record, sorted by name."""
    records = {
        unquote(path.name[: -len(".json")]): json.loads(path.read_text(encoding="utf-8"))
        for path in Path(folder).glob("*.json")
        if path.is_file()
    }
    return dict(sorted(records.items()))
