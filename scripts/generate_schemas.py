"""Generate schemas/*.schema.json from the installed official SDK's types, tightened to the wire contract."""

from __future__ import annotations

import argparse
import copy
import json
import sys
import typing
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import anthropic.types as sdk_types
import pydantic

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://anthropic-conformance.invalid/schemas/"
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"

# Serialization mode: the harness validates what a server *emits*, which is the serialization side of
# the SDK's models. For the SDK's models the two modes give the same output: the SDK's BaseModel does not
# set `json_schema_serialization_defaults_required`, so in both modes a field with a default (`stop_reason`,
# `stop_sequence`, every Optional[...] = None) is NOT required, and every field without one is. The
# required sets the real API guarantees beyond that are added explicitly by the tighten_* functions below.
MODE = "serialization"

Schema = dict[str, Any]

# The raw stream events in the order the SDK's RawMessageStreamEvent union lists them.
STREAM_EVENT_TYPES: tuple[type[Any], ...] = (
    sdk_types.RawMessageStartEvent,
    sdk_types.RawMessageDeltaEvent,
    sdk_types.RawMessageStopEvent,
    sdk_types.RawContentBlockStartEvent,
    sdk_types.RawContentBlockDeltaEvent,
    sdk_types.RawContentBlockStopEvent,
)


# --------------------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------------------


def sdk_json_schema(tp: Any) -> Schema:
    """The SDK type's JSON Schema exactly as pydantic produces it."""
    return pydantic.TypeAdapter(tp).json_schema(mode=MODE)


def generated_from(type_names: list[str]) -> dict[str, Any]:
    """The reproducible provenance record (no dates, no paths)."""
    return {
        "package": "anthropic",
        "package_version": metadata.version("anthropic"),
        "pydantic_version": pydantic.VERSION,
        "json_schema_mode": MODE,
        "types": type_names,
    }


def with_header(body: Schema, filename: str, title: str, type_names: list[str]) -> Schema:
    """Put the top-level bookkeeping keys on a schema."""
    body["$schema"] = SCHEMA_DIALECT
    body["$id"] = ID_BASE + filename
    body["title"] = title
    body["x-generated-from"] = generated_from(type_names)
    return body


def require(node: Schema, *keys: str) -> None:
    """Add keys to an object schema's `required` list (idempotent, order kept)."""
    required = node.setdefault("required", [])
    for key in keys:
        if key not in required:
            required.append(key)


def non_negative_integer(node: Schema, key: str) -> None:
    """Make property `key` an integer >= 0 (keeping a nullable `anyOf` form nullable)."""
    prop = node["properties"][key]
    if "anyOf" in prop:
        for member in prop["anyOf"]:
            if member.get("type") != "null":
                member["type"] = "integer"
                member["minimum"] = 0
    else:
        prop["type"] = "integer"
        prop["minimum"] = 0


def resolve_local(root: Schema, ref: str) -> Schema | None:
    """Resolve a "#/$defs/Name" reference inside `root`."""
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        return None
    return root.get("$defs", {}).get(ref[len(prefix) :])


def type_const(member: Schema) -> str | None:
    """The `type` const of a union member that is a required-`type` object, else None."""
    props = member.get("properties", {})
    const = props.get("type", {}).get("const")
    if isinstance(const, str) and "type" in member.get("required", []):
        return const
    return None


def dispatcher(branches: list[tuple[str, Schema]], nullable: bool) -> Schema:
    """A schema that picks one branch by the instance's `type` (a closed set of known types).

    `if`/`then` reports the matching branch's errors directly at their real path, where a plain `anyOf`
    only says "is not valid under any of the given schemas".
    """
    return {
        "type": ["object", "null"] if nullable else "object",
        "required": ["type"],
        "properties": {"type": {"enum": [const for const, _ in branches]}},
        "allOf": [
            {
                "if": {"type": "object", "properties": {"type": {"const": const}}, "required": ["type"]},
                "then": branch,
            }
            for const, branch in branches
        ],
    }


def discriminate_unions(root: Schema) -> int:
    """Rewrite every `anyOf` whose members are all `type`-tagged objects (plus maybe null) into a dispatcher.

    Returns how many unions were rewritten. Unions with any other member (strings, arrays, untagged
    objects) are left as pydantic wrote them.
    """
    count = 0

    def visit(node: Any) -> None:
        nonlocal count
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        for value in node.values():
            visit(value)
        members = node.get("anyOf")
        if not isinstance(members, list):
            return
        nullable = any(m == {"type": "null"} for m in members)
        tagged = [m for m in members if m != {"type": "null"}]
        branches: list[tuple[str, Schema]] = []
        for member in tagged:
            target = resolve_local(root, member["$ref"]) if "$ref" in member else member
            const = type_const(target) if target is not None else None
            if const is None:
                return
            branches.append((const, member))
        consts = [const for const, _ in branches]
        if len(branches) < 2 or len(set(consts)) != len(consts):
            return
        del node["anyOf"]
        node.update(dispatcher(branches, nullable))
        count += 1

    visit(root)
    return count


def generic_error_object() -> Schema:
    """The error body's `error` object: a string type and a string message, anything else allowed.

    `type` is deliberately NOT an enum here (the SDK's ErrorObject union would reject e.g.
    "request_too_large", which the API does send); a separate check judges the value.
    """
    return {
        "additionalProperties": True,
        "properties": {
            "message": {"title": "Message", "type": "string"},
            "type": {"title": "Type", "type": "string"},
        },
        "required": ["message", "type"],
        "title": "ErrorObject",
        "type": "object",
    }


def error_type_values() -> list[str]:
    """The values of the SDK's ErrorType literal."""
    return list(typing.get_args(sdk_types.ErrorType))


# --------------------------------------------------------------------------------------------------------
# Tightening: where the real API is stricter than the SDK's types (contract.md section 9)
# --------------------------------------------------------------------------------------------------------


def tighten_message_object(message: Schema, root: Schema) -> None:
    """Tighten a `Message` object schema (the message schema's root, or a `Message` def), in place.

    * `stop_reason` and `stop_sequence` are required KEYS (they stay nullable: a message_start carries
      nulls; the harness checks non-null for non-streamed responses separately).
    * usage token counts are non-negative integers, `input_tokens`/`output_tokens` required.
    * every content block requires `type`; `tool_use.input` (and `server_tool_use.input`) is an object.
    * `additionalProperties` stays as the SDK has it (true): unknown fields are allowed.
    """
    require(message, "stop_reason", "stop_sequence")
    require(message, "usage")
    usage = resolve_local(root, message["properties"]["usage"]["$ref"])
    assert usage is not None, "Message.usage is not a $ref to a Usage def"
    require(usage, "input_tokens", "output_tokens")
    for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        non_negative_integer(usage, key)
    defs = root["$defs"]
    for name in ("ToolUseBlock", "ServerToolUseBlock"):
        defs[name]["properties"]["input"]["type"] = "object"
        require(defs[name], "input")
    items = message["properties"]["content"]["items"]
    for member in items.get("anyOf", []):
        block = resolve_local(root, member["$ref"])
        assert block is not None and type_const(block) is not None, f"untagged content block {member}"
        require(block, "type")


def loosen_server_tool_usage(schema: Schema) -> str | None:
    """The one place the SDK is stricter than the API: the documented web-search stream reports
    usage.server_tool_use as {"web_search_requests": 1}, without web_fetch_requests, which SDK 2.12's
    ServerToolUsage marks required. Counters of tools a request never used may be absent."""
    node = schema.get("$defs", {}).get("ServerToolUsage")
    if not node or "web_fetch_requests" not in node.get("required", []):
        return None
    node["required"] = [key for key in node["required"] if key != "web_fetch_requests"]
    return "loosened: ServerToolUsage.web_fetch_requests is optional (the documented web-search stream omits it)"


def tighten_message(schema: Schema) -> list[str]:
    """Tighten message.schema.json; returns the notes recorded under `x-tightened`."""
    tighten_message_object(schema, schema)
    unions = discriminate_unions(schema)
    loosened = loosen_server_tool_usage(schema)
    return ([loosened] if loosened else []) + [
        "stop_reason and stop_sequence are required keys (nullable)",
        "usage.input_tokens and usage.output_tokens are required integers >= 0; cache token counts >= 0",
        "content blocks require type; tool_use.input and server_tool_use.input are objects",
        f"{unions} type-tagged anyOf unions rewritten to dispatch on type (if/then), closed to known types",
    ]


def tighten_stream_event(schema: Schema) -> list[str]:
    """Tighten stream-event.schema.json; returns the notes recorded under `x-tightened`.

    * message_start.message is a tightened Message (so it requires usage with integer token counts).
    * message_delta requires `usage`, whose `output_tokens` is a required integer >= 0.
    * input_json_delta.partial_json must be a string; every `index` is an integer >= 0.
    * adds `ping` and `error` events, which the SDK does not type.
    * the top level dispatches on `type`; unknown event types pass (the versioning policy says new event
      types may appear and clients must ignore them); the known ones are listed in `x-event-types`.
    """
    defs = schema["$defs"]
    require(defs["RawMessageStartEvent"], "message", "type")
    tighten_message_object(defs["Message"], schema)

    delta_event = defs["RawMessageDeltaEvent"]
    require(delta_event, "delta", "type", "usage")
    delta_usage = resolve_local(schema, delta_event["properties"]["usage"]["$ref"])
    assert delta_usage is not None
    require(delta_usage, "output_tokens")
    for key in ("output_tokens", "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        non_negative_integer(delta_usage, key)

    defs["InputJSONDelta"]["properties"]["partial_json"]["type"] = "string"
    require(defs["InputJSONDelta"], "partial_json", "type")
    for name in ("RawContentBlockStartEvent", "RawContentBlockDeltaEvent", "RawContentBlockStopEvent"):
        require(defs[name], "index", "type")
        non_negative_integer(defs[name], "index")

    defs["PingEvent"] = {
        "additionalProperties": True,
        "properties": {"type": {"const": "ping", "title": "Type", "type": "string"}},
        "required": ["type"],
        "title": "PingEvent",
        "type": "object",
    }
    defs["ErrorObject"] = generic_error_object()
    defs["ErrorEvent"] = {
        "additionalProperties": True,
        "properties": {
            "error": {"$ref": "#/$defs/ErrorObject"},
            "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "type": {"const": "error", "title": "Type", "type": "string"},
        },
        "required": ["error", "type"],
        "title": "ErrorEvent",
        "type": "object",
    }

    unions = discriminate_unions(schema)

    event_defs = [tp.__name__ for tp in STREAM_EVENT_TYPES] + ["PingEvent", "ErrorEvent"]
    branches = [(str(type_const(defs[name])), {"$ref": f"#/$defs/{name}"}) for name in event_defs]
    top = dispatcher(branches, nullable=False)
    top["properties"] = {"type": {"type": "string"}}  # open: unknown event types are allowed
    schema.update(top)
    schema["x-event-types"] = [const for const, _ in branches]
    loosened = loosen_server_tool_usage(schema)
    return ([loosened] if loosened else []) + [
        "message_start.message is a tightened Message (required stop_reason/stop_sequence keys, usage "
        "with integer input_tokens/output_tokens >= 0)",
        "message_delta requires usage with integer output_tokens >= 0",
        "input_json_delta.partial_json is a string; index is an integer >= 0",
        "adds the ping and error events, which the SDK does not type",
        "the top level dispatches on type (if/then); unknown event types are allowed",
        f"{unions} type-tagged anyOf unions rewritten to dispatch on type (if/then), closed to known types",
    ]


def tighten_error(schema: Schema) -> list[str]:
    """Tighten error.schema.json; returns the notes recorded under `x-tightened`.

    * `type` is the const "error" and `error` an object with string `type` and `message`, both required.
    * `error.type` is not restricted to an enum (the SDK's ErrorObject union of per-type objects is replaced
      by one generic object); the SDK's ErrorType values are recorded under `x-error-types` instead.
    * `request_id` stays as the SDK has it: optional, string or null.
    """
    require(schema, "error", "type")
    schema["properties"]["type"] = {"const": "error", "title": "Type", "type": "string"}
    schema["properties"]["error"] = {"$ref": "#/$defs/ErrorObject"}
    schema["$defs"] = {"ErrorObject": generic_error_object()}
    schema["x-error-types"] = error_type_values()
    return [
        "error is one generic object {type: string, message: string} (both required); error.type is not "
        "an enum, the SDK's ErrorType values are listed in x-error-types",
    ]


# --------------------------------------------------------------------------------------------------------
# The three schemas
# --------------------------------------------------------------------------------------------------------


def build_message_schema() -> Schema:
    """message.schema.json: anthropic.types.Message, tightened."""
    schema = sdk_json_schema(sdk_types.Message)
    schema["x-tightened"] = tighten_message(schema)
    return with_header(schema, "message.schema.json", "Message", ["anthropic.types.Message"])


def build_stream_event_schema() -> Schema:
    """stream-event.schema.json: every raw stream event, plus ping and error, dispatched on `type`."""
    raw = sdk_json_schema(sdk_types.RawMessageStreamEvent)
    # The SDK's union is the root of `raw`; keep only its defs and build our own top level.
    schema: Schema = {"$defs": copy.deepcopy(raw["$defs"])}
    missing = [tp.__name__ for tp in STREAM_EVENT_TYPES if tp.__name__ not in schema["$defs"]]
    assert not missing, f"events missing from the SDK union's defs: {missing}"
    schema["x-tightened"] = tighten_stream_event(schema)
    names = ["anthropic.types.RawMessageStreamEvent"] + [
        f"anthropic.types.{tp.__name__}" for tp in STREAM_EVENT_TYPES
    ]
    return with_header(schema, "stream-event.schema.json", "StreamEvent", names)


def build_error_schema() -> Schema:
    """error.schema.json: anthropic.types.ErrorResponse, with `error.type` opened up."""
    schema = sdk_json_schema(sdk_types.ErrorResponse)
    schema["x-tightened"] = tighten_error(schema)
    return with_header(
        schema,
        "error.schema.json",
        "ErrorResponse",
        ["anthropic.types.ErrorResponse", "anthropic.types.ErrorType"],
    )


BUILDERS: dict[str, Callable[[], Schema]] = {
    "message.schema.json": build_message_schema,
    "stream-event.schema.json": build_stream_event_schema,
    "error.schema.json": build_error_schema,
}


def render(schema: Schema) -> str:
    """The canonical file text: pretty-printed, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate_all() -> dict[str, str]:
    """File name -> file text for every generated schema."""
    return {filename: render(build()) for filename, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    parser.add_argument(
        "--out", type=Path, default=SCHEMAS_DIR, help="output folder (default: the repo's schemas/)"
    )
    args = parser.parse_args(argv)
    stale = []
    for filename, text in generate_all().items():
        target = args.out / filename
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(filename)
        if not args.check:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {filename} ({len(text.encode('utf-8'))} bytes)")
    if args.check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not stale:
        print("schemas are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
