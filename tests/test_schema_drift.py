"""Schema drift: the installed SDK's regenerated schemas keep the committed required fields and enum values."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conformance.data import data_dir

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "generate_schemas.py"
# Value sets the generator records outside enum/const keywords (the SDK's ErrorType values, the known events).
VALUE_SET_KEYS = ("x-error-types", "x-event-types")
UNION_KEYS = ("anyOf", "oneOf")
NAME_MAP_KEYS = ("properties", "patternProperties", "dependentSchemas")

Schema = dict[str, Any]


def load_generator() -> ModuleType:
    """Import scripts/generate_schemas.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------------
# Collecting what matters: (pointer, required set) and (pointer, enum values)
# ------------------------------------------------------------------------------------------------------


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _is_open_union(members: list[Any]) -> bool:
    """A union with a plain string member (the SDK's Model: known names or any string): its enums are advisory."""
    return any(
        isinstance(m, dict) and m.get("type") == "string" and "enum" not in m and "const" not in m for m in members
    )


def collect(node: Any, pointer: str, required: dict[str, set], enums: dict[str, set], *, value_pointer: str = "",
            open_enum: bool = False) -> None:
    """Walk a schema tree: required sets by the object's pointer, enum/const values by the value's pointer.

    The members of an anyOf/oneOf add their values to the union's own pointer (a nullable enum is the union of
    an enum and null), so `.../stop_reason/anyOf/0/enum` is reported as `.../stop_reason enum`. The `if` of a
    type dispatcher is skipped: it repeats the dispatcher's type enum under an unstable branch index.
    """
    if isinstance(node, list):
        for i, item in enumerate(node):
            collect(item, f"{pointer}/{i}", required, enums)
        return
    if not isinstance(node, dict):
        return
    value_pointer = value_pointer or pointer
    if "properties" in node or "required" in node:
        required[pointer] = set(node.get("required", []))
    if not open_enum:
        for key in ("enum", "const"):
            if key in node:
                values = node[key] if key == "enum" else [node[key]]
                enums.setdefault(value_pointer, set()).update(json.dumps(v) for v in values)
    for key, value in node.items():
        if key in ("if", "$defs", "enum", "const", "required") or key.startswith("x-"):
            continue
        child = f"{pointer}/{_escape(key)}"
        if key in NAME_MAP_KEYS and isinstance(value, dict):  # names, not keywords: a property may be called "if"
            for name, member in value.items():
                collect(member, f"{child}/{_escape(name)}", required, enums)
        elif key in UNION_KEYS and isinstance(value, list):
            is_open = _is_open_union(value)
            for i, member in enumerate(value):
                collect(member, f"{child}/{i}", required, enums, value_pointer=value_pointer, open_enum=is_open)
        else:
            collect(value, child, required, enums)


def facts(schema: Schema) -> tuple[dict[str, set], dict[str, set]]:
    """(pointer -> required set, pointer -> enum values) for the root and for each $defs entry."""
    required: dict[str, set] = {}
    enums: dict[str, set] = {}
    collect(schema, "", required, enums)
    for name, definition in schema.get("$defs", {}).items():
        collect(definition, f"$defs/{_escape(name)}", required, enums)
    for key in VALUE_SET_KEYS:
        if isinstance(schema.get(key), list):
            enums[key] = {json.dumps(v) for v in schema[key]}
    return required, enums


def _shown(pointer: str) -> str:
    return pointer.lstrip("/") or "(root)"


def _change(committed: set, regenerated: set, show: Callable[[Any], str] = str) -> str:
    added = ", ".join(sorted(show(v) for v in regenerated - committed))
    removed = ", ".join(sorted(show(v) for v in committed - regenerated))
    return "; ".join(part for part in (f"+ {added}" if added else "", f"- {removed}" if removed else "") if part)


def drift(filename: str, committed: Schema, regenerated: Schema) -> list[str]:
    """One line per change of a required set or enum set between the two versions of one schema file.

    Only the root and $defs entries present in both are compared; within them, required sets of objects
    present in both (a missing `required` is empty) and enum sets present in both.
    """
    common = set(committed.get("$defs", {})) & set(regenerated.get("$defs", {}))

    def kept(pointer: str) -> bool:
        if not pointer.startswith("$defs/"):
            return True
        return pointer.split("/")[1].replace("~1", "/").replace("~0", "~") in common

    old_required, old_enums = facts(committed)
    new_required, new_enums = facts(regenerated)
    lines = []
    for pointer in sorted(set(old_required) & set(new_required)):
        if kept(pointer) and old_required[pointer] != new_required[pointer]:
            change = _change(old_required[pointer], new_required[pointer])
            lines.append(f"{filename} {_shown(pointer)}/required: {change}")
    for pointer in sorted(set(old_enums) & set(new_enums)):
        if kept(pointer) and old_enums[pointer] != new_enums[pointer]:
            change = _change(old_enums[pointer], new_enums[pointer], show=_unquote)
            lines.append(f"{filename} {_shown(pointer)} enum: {change}")
    return lines


def _unquote(value: str) -> str:
    decoded = json.loads(value)
    return decoded if isinstance(decoded, str) else value


def assert_no_drift(generator: ModuleType) -> None:
    """Regenerate every schema with the generator's generate_all() and fail naming each change that matters."""
    regenerated = {filename: json.loads(text) for filename, text in generator.generate_all().items()}
    lines = []
    for filename, schema in sorted(regenerated.items()):
        path = data_dir("schemas") / filename
        if not path.is_file():
            lines.append(f"{filename}: not committed")
            continue
        lines += drift(filename, json.loads(path.read_text(encoding="utf-8")), schema)
    version = metadata.version("anthropic")
    if lines:
        raise AssertionError(
            f"the installed anthropic {version} changes what the committed schemas require or enumerate "
            "(review, then run python scripts/generate_schemas.py):\n  " + "\n  ".join(lines)
        )


# ------------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def generated(generator: ModuleType) -> dict[str, str]:
    return generator.generate_all()


def patched(generated: dict[str, str], filename: str, change: Callable[[Schema], None]) -> Callable[[], dict[str, str]]:
    """A stand-in for generate_all() returning the real output with change() applied to one file."""
    schema = json.loads(generated[filename])
    change(schema)
    texts = {**copy.deepcopy(generated), filename: json.dumps(schema)}
    return lambda: texts


def test_the_installed_sdk_keeps_the_committed_required_fields_and_enums(generator: ModuleType) -> None:
    assert_no_drift(generator)


def test_a_dropped_enum_value_is_named_with_its_pointer(generator, generated, monkeypatch) -> None:
    def drop_refusal(schema: Schema) -> None:
        stop_reason = schema["$defs"]["Message"]["properties"]["stop_reason"]["anyOf"][0]
        stop_reason["enum"].remove("refusal")
        stop_reason["enum"].append("compaction")

    monkeypatch.setattr(generator, "generate_all", patched(generated, "stream-event.schema.json", drop_refusal))
    with pytest.raises(AssertionError) as failure:
        assert_no_drift(generator)
    message = str(failure.value)
    assert "stream-event.schema.json $defs/Message/properties/stop_reason enum: + compaction; - refusal" in message
    assert message.count("\n  ") == 1


def test_a_changed_required_list_names_the_added_and_removed_fields(generator, generated, monkeypatch) -> None:
    def change(schema: Schema) -> None:
        message = schema["$defs"]["Message"]
        message["required"] = [key for key in message["required"] if key != "stop_sequence"] + ["container"]

    monkeypatch.setattr(generator, "generate_all", patched(generated, "stream-event.schema.json", change))
    with pytest.raises(AssertionError, match=r"\$defs/Message/required: \+ container; - stop_sequence"):
        assert_no_drift(generator)


def test_a_changed_root_required_list_and_const_are_named(generator, generated, monkeypatch) -> None:
    def change(schema: Schema) -> None:
        schema["required"].append("container")
        schema["$defs"]["TextBlock"]["properties"]["type"]["const"] = "text_v2"

    monkeypatch.setattr(generator, "generate_all", patched(generated, "message.schema.json", change))
    with pytest.raises(AssertionError) as failure:
        assert_no_drift(generator)
    lines = str(failure.value).split("\n  ")[1:]
    assert lines == [
        "message.schema.json (root)/required: + container",
        "message.schema.json $defs/TextBlock/properties/type enum: + text_v2; - text",
    ]


def test_a_dropped_sdk_error_type_is_named(generator, generated, monkeypatch) -> None:
    monkeypatch.setattr(
        generator, "generate_all",
        patched(generated, "error.schema.json", lambda schema: schema["x-error-types"].remove("overloaded_error")),
    )
    with pytest.raises(AssertionError, match=r"error\.schema\.json x-error-types enum: - overloaded_error"):
        assert_no_drift(generator)


def test_new_model_names_and_new_defs_are_not_drift(generator, generated, monkeypatch) -> None:
    def change(schema: Schema) -> None:
        schema["properties"]["model"]["anyOf"][0]["enum"].append("claude-future-9")
        schema["$defs"]["BrandNewBlock"] = {"type": "object", "properties": {"type": {"const": "brand_new"}},
                                            "required": ["type"]}

    monkeypatch.setattr(generator, "generate_all", patched(generated, "message.schema.json", change))
    assert_no_drift(generator)
