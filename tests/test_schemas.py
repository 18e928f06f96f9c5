"""Tests for the generated JSON Schemas and conformance.schemas.validate."""

from __future__ import annotations

import copy
import importlib.util
import json
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest
from jsonschema import Draft202012Validator

from conformance import schemas
from conformance.data import data_dir
from conformance.schemas import SchemaError, error_types, validate

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "generate_schemas.py"
SCHEMA_NAMES = ("message", "stream-event", "error")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

TEXT_MESSAGE: dict[str, Any] = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 2095, "output_tokens": 503},
}

TOOL_USE_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "text", "text": "I'll check the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 472,
        "output_tokens": 91,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    },
}

THINKING_MESSAGE: dict[str, Any] = {
    "id": "msg_01ThinkThinkThink",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {
            "type": "thinking",
            "thinking": "Let me analyze this step by step...",
            "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL",
        },
        {
            "type": "redacted_thinking",
            "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3",
        },
        {"type": "text", "text": "Based on my analysis..."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 50, "output_tokens": 300},
}

# contract.md 7.1: the documented example stream, event by event.
EXAMPLE_STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    },
    {"type": "message_stop"},
]

TOOL_STREAM: list[dict[str, Any]] = [
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "input": {},
        },
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"loc'},
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me"}},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"},
    },
]

ERROR_WITH_REQUEST_ID = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}
ERROR_WITHOUT_REQUEST_ID = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def load_generator() -> ModuleType:
    """Import scripts/generate_schemas.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_change(base: dict[str, Any], change: Any) -> dict[str, Any]:
    """A deep copy of base with change(copy) applied."""
    instance = copy.deepcopy(base)
    change(instance)
    return instance


def paths_and_messages(errors: list[SchemaError]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in errors]


# ------------------------------------------------------------------------------------------------------
# Valid documents
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message", [TEXT_MESSAGE, TOOL_USE_MESSAGE, THINKING_MESSAGE], ids=["text", "tool_use", "thinking"]
)
def test_documented_messages_are_valid(message: dict[str, Any]) -> None:
    assert validate("message", message) == []


@pytest.mark.parametrize("event", EXAMPLE_STREAM, ids=[e["type"] for e in EXAMPLE_STREAM])
def test_every_event_of_the_documented_example_stream_is_valid(event: dict[str, Any]) -> None:
    assert validate("stream-event", event) == []


@pytest.mark.parametrize("event", TOOL_STREAM, ids=[f"{i}-{e['type']}" for i, e in enumerate(TOOL_STREAM)])
def test_tool_use_and_thinking_stream_events_are_valid(event: dict[str, Any]) -> None:
    assert validate("stream-event", event) == []


def test_a_ping_event_is_valid() -> None:
    assert validate("stream-event", {"type": "ping"}) == []


@pytest.mark.parametrize("body", [ERROR_WITH_REQUEST_ID, ERROR_WITHOUT_REQUEST_ID], ids=["with", "without"])
def test_an_error_envelope_with_or_without_request_id_is_valid(body: dict[str, Any]) -> None:
    assert validate("error", body) == []
    assert validate("stream-event", body) == []


def test_a_null_request_id_is_valid_as_the_sdk_allows_it() -> None:
    assert validate("error", {**ERROR_WITHOUT_REQUEST_ID, "request_id": None}) == []


def test_an_error_type_outside_the_sdk_enum_is_left_to_a_separate_check() -> None:
    body = {
        "type": "error",
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"},
    }
    assert validate("error", body) == []


def test_an_unknown_stream_event_type_is_accepted_as_the_versioning_policy_requires() -> None:
    assert validate("stream-event", {"type": "some_future_event", "payload": 1}) == []


# ------------------------------------------------------------------------------------------------------
# Rejected documents, with precise paths
# ------------------------------------------------------------------------------------------------------


def test_an_undocumented_stop_reason_is_rejected_at_its_path() -> None:
    errors = validate("message", {**TEXT_MESSAGE, "stop_reason": "stop"})
    assert len(errors) == 1
    assert errors[0].path == "$.stop_reason"
    assert errors[0].message.startswith('"stop" is not one of ["end_turn"')


def test_tool_use_input_given_as_a_json_string_is_rejected_at_the_input() -> None:
    message = with_change(TOOL_USE_MESSAGE, lambda m: m["content"][1].update(input="{}"))
    assert paths_and_messages(validate("message", message)) == [
        ("$.content[1].input", '"{}" is not of type "object"')
    ]


def test_a_missing_stop_sequence_key_is_rejected() -> None:
    message = with_change(TEXT_MESSAGE, lambda m: m.pop("stop_sequence"))
    assert paths_and_messages(validate("message", message)) == [
        ("$", '"stop_sequence" is a required property')
    ]


def test_a_missing_stop_reason_key_is_rejected() -> None:
    message = with_change(TEXT_MESSAGE, lambda m: m.pop("stop_reason"))
    assert paths_and_messages(validate("message", message)) == [("$", '"stop_reason" is a required property')]


def test_a_missing_usage_output_tokens_is_rejected_at_usage() -> None:
    message = with_change(TEXT_MESSAGE, lambda m: m["usage"].pop("output_tokens"))
    assert paths_and_messages(validate("message", message)) == [
        ("$.usage", '"output_tokens" is a required property')
    ]


def test_negative_or_fractional_token_counts_are_rejected() -> None:
    negative = with_change(TEXT_MESSAGE, lambda m: m["usage"].update(output_tokens=-1))
    fractional = with_change(TEXT_MESSAGE, lambda m: m["usage"].update(input_tokens=1.5))
    assert [e.path for e in validate("message", negative)] == ["$.usage.output_tokens"]
    assert [e.path for e in validate("message", fractional)] == ["$.usage.input_tokens"]


def test_content_that_is_not_an_array_is_rejected() -> None:
    errors = validate("message", {**TEXT_MESSAGE, "content": "Hi! My name is Claude."})
    assert paths_and_messages(errors) == [("$.content", '"Hi! My name is Claude." is not of type "array"')]


def test_a_content_block_without_type_is_rejected() -> None:
    errors = validate("message", {**TEXT_MESSAGE, "content": [{"text": "hi"}]})
    assert paths_and_messages(errors) == [("$.content[0]", '"type" is a required property')]


def test_an_unknown_content_block_type_is_rejected_at_the_type() -> None:
    errors = validate("message", {**TEXT_MESSAGE, "content": [{"type": "image", "source": {}}]})
    assert [e.path for e in errors] == ["$.content[0].type"]
    assert errors[0].message.startswith('"image" is not one of ["text", "thinking"')


def test_a_thinking_block_without_signature_names_the_missing_field() -> None:
    message = with_change(THINKING_MESSAGE, lambda m: m["content"][0].pop("signature"))
    assert paths_and_messages(validate("message", message)) == [
        ("$.content[0]", '"signature" is a required property')
    ]


def test_a_nullable_field_of_the_wrong_type_names_both_allowed_types() -> None:
    errors = validate("message", {**TEXT_MESSAGE, "stop_sequence": 5})
    assert paths_and_messages(errors) == [("$.stop_sequence", '5 is not of type "string", "null"')]


def test_errors_inside_a_nested_union_point_into_the_chosen_member() -> None:
    message = with_change(
        TEXT_MESSAGE,
        lambda m: m["content"][0].update(citations=[{"type": "char_location", "cited_text": "x"}]),
    )
    errors = validate("message", message)
    assert errors
    assert {e.path for e in errors} == {"$.content[0].citations[0]"}
    assert all(e.message.endswith('is a required property') for e in errors)


def test_message_delta_without_usage_is_rejected() -> None:
    event = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    assert paths_and_messages(validate("stream-event", event)) == [("$", '"usage" is a required property')]


def test_message_start_without_usage_is_rejected() -> None:
    event = with_change(EXAMPLE_STREAM[0], lambda e: e["message"].pop("usage"))
    assert paths_and_messages(validate("stream-event", event)) == [
        ("$.message", '"usage" is a required property')
    ]


def test_partial_json_given_as_an_object_is_rejected() -> None:
    event = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": {}},
    }
    assert paths_and_messages(validate("stream-event", event)) == [
        ("$.delta.partial_json", '{} is not of type "string"')
    ]


def test_an_index_given_as_a_string_is_rejected() -> None:
    for event in ({"type": "content_block_stop", "index": "0"}, {**EXAMPLE_STREAM[3], "index": "0"}):
        assert paths_and_messages(validate("stream-event", event)) == [
            ("$.index", '"0" is not of type "integer"')
        ]


def test_a_negative_index_is_rejected() -> None:
    assert [e.path for e in validate("stream-event", {"type": "content_block_stop", "index": -1})] == [
        "$.index"
    ]


def test_a_stream_event_without_type_is_rejected() -> None:
    assert paths_and_messages(validate("stream-event", {"index": 0})) == [
        ("$", '"type" is a required property')
    ]


def test_an_openai_shaped_error_without_the_top_level_type_is_rejected() -> None:
    errors = validate("error", {"error": {"message": "x", "type": "y"}})
    assert paths_and_messages(errors) == [("$", '"type" is a required property')]


def test_an_error_without_error_message_is_rejected() -> None:
    errors = validate("error", {"type": "error", "error": {"type": "api_error"}})
    assert paths_and_messages(errors) == [("$.error", '"message" is a required property')]


def test_a_mid_stream_error_event_without_error_message_is_rejected() -> None:
    errors = validate("stream-event", {"type": "error", "error": {"type": "overloaded_error"}})
    assert paths_and_messages(errors) == [("$.error", '"message" is a required property')]


def test_at_most_ten_errors_are_reported_deepest_first() -> None:
    blocks = [{"type": "tool_use", "id": f"t{i}", "name": "n", "input": "{}"} for i in range(30)]
    errors = validate("message", {**TEXT_MESSAGE, "content": blocks, "stop_reason": None, "usage": {}})
    assert len(errors) == schemas.MAX_ERRORS
    depths = [e.path.count(".") + e.path.count("[") for e in errors]
    assert depths == sorted(depths, reverse=True)


def test_a_schema_error_prints_as_path_and_message() -> None:
    assert (
        str(SchemaError("$.index", '"0" is not of type "integer"')) == '$.index: "0" is not of type "integer"'
    )


def test_an_unknown_schema_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown schema"):
        validate("nope", {})


# ------------------------------------------------------------------------------------------------------
# Unknown fields
# ------------------------------------------------------------------------------------------------------


def test_extra_unknown_fields_anywhere_are_accepted() -> None:
    def add_extras(m: dict[str, Any]) -> None:
        m["x_top"] = {"anything": [1, 2]}
        m["usage"]["x_usage"] = 1
        for block in m["content"]:
            block["x_block"] = True
        m["content"][1]["input"]["x_input"] = None

    assert validate("message", with_change(TOOL_USE_MESSAGE, add_extras)) == []
    for event in EXAMPLE_STREAM:
        extended = with_change(event, lambda e: e.update(x_event="extra"))
        for key in ("message", "delta", "content_block", "usage"):
            if isinstance(extended.get(key), dict):
                extended[key]["x_nested"] = 1
        assert validate("stream-event", extended) == [], extended
    error_body = with_change(ERROR_WITH_REQUEST_ID, lambda e: e["error"].update(details={"error_code": "x"}))
    assert validate("error", {**error_body, "x_top": 1}) == []


# ------------------------------------------------------------------------------------------------------
# The schema files themselves
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_declares_draft_2020_12_and_is_a_valid_schema(name: str) -> None:
    document = schemas.schema(name)
    assert document["$schema"] == DRAFT_2020_12
    assert document["$id"] == f"https://anthropic-conformance.invalid/schemas/{name}.schema.json"
    assert document["title"]
    assert document["x-generated-from"]["package"] == "anthropic"
    Draft202012Validator.check_schema(document)


def test_the_schemas_regenerate_identically_from_the_installed_sdk() -> None:
    recorded = schemas.schema("message")["x-generated-from"]
    installed = {"package_version": metadata.version("anthropic"), "pydantic_version": pydantic.VERSION}
    if any(recorded[key] != value for key, value in installed.items()):
        pytest.skip(f"schemas were generated with {recorded}, this environment has {installed}")
    generated = load_generator().generate_all()
    assert set(generated) == {f"{name}.schema.json" for name in SCHEMA_NAMES}
    for filename, text in generated.items():
        committed = (data_dir("schemas") / filename).read_text(encoding="utf-8")
        assert committed == text, f"{filename} is out of date: run python scripts/generate_schemas.py"


def test_the_schema_files_are_canonical_json_with_a_trailing_newline() -> None:
    generator = load_generator()
    for name in SCHEMA_NAMES:
        text = (data_dir("schemas") / f"{name}.schema.json").read_text(encoding="utf-8")
        assert text == generator.render(json.loads(text))


def test_error_types_are_the_sdk_error_type_values() -> None:
    types = error_types()
    assert "invalid_request_error" in types and "overloaded_error" in types
    assert list(types) == schemas.schema("error")["x-error-types"]
    assert len(set(types)) == len(types)


# ------------------------------------------------------------------------------------------------------
# The fast type dispatch agrees with standard Draft 2020-12 evaluation
# ------------------------------------------------------------------------------------------------------

AGREEMENT_CASES: list[tuple[str, Any]] = [
    ("message", TEXT_MESSAGE),
    ("message", TOOL_USE_MESSAGE),
    ("message", THINKING_MESSAGE),
    ("message", with_change(TOOL_USE_MESSAGE, lambda m: m["content"][1].update(input="{}"))),
    ("message", {**TEXT_MESSAGE, "content": [{"type": "image"}, {"text": "x"}, "str", None]}),
    ("message", {**TEXT_MESSAGE, "stop_reason": "stop", "usage": {"input_tokens": "1"}}),
    ("stream-event", {"type": "content_block_delta", "index": "0", "delta": {"type": "input_json_delta"}}),
    ("stream-event", {"type": "message_delta", "delta": {}}),
    ("stream-event", {"type": "error", "error": {}}),
    ("stream-event", {"type": 7}),
    ("stream-event", None),
    ("error", {"error": {"type": 1}}),
    *[("stream-event", event) for event in EXAMPLE_STREAM + TOOL_STREAM],
]


@pytest.mark.parametrize(("name", "instance"), AGREEMENT_CASES)
def test_the_fast_dispatch_finds_the_same_errors_as_the_standard_validator(name: str, instance: Any) -> None:
    standard = Draft202012Validator(schemas.schema(name), registry=schemas._registry())
    fast = schemas._validator(name)

    def summary(validator: Any) -> list[tuple[str, str, str]]:
        return sorted(
            (e.json_path, "/".join(map(str, e.schema_path)), e.message)
            for e in validator.iter_errors(instance)
        )

    assert summary(fast) == summary(standard)
