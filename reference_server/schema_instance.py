"""A deterministic instance of a tool's input_schema, for forced tool calls without directed input."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 12
_SCALARS: dict[str, Any] = {"string": "example", "boolean": True, "null": None}


def instance(schema: Any, depth: int = 0, text: str = "example") -> Any:
    """An instance of a JSON Schema: required properties only, first enum value, simple scalars (strings: `text`)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return {}
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return instance(options[0], depth + 1, text)
    kind = _type_of(schema)
    if kind == "object":
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [name for name in schema.get("required") or [] if isinstance(name, str)]
        return {name: instance(properties.get(name, {}), depth + 1, text) for name in required}
    if kind == "array":
        count = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        return [instance(schema.get("items", {}), depth + 1, text) for _ in range(min(count, 8))]
    if kind == "integer":
        return int(_bounded(schema, 1))
    if kind == "number":
        return float(_bounded(schema, 1.0))
    return text if kind == "string" else _SCALARS.get(kind, {})


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), kind[0] if kind else None)
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _bounded(schema: dict[str, Any], default: float) -> float:
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    value = default
    if isinstance(minimum, (int, float)) and not isinstance(minimum, bool) and value < minimum:
        value = minimum
    if isinstance(maximum, (int, float)) and not isinstance(maximum, bool) and value > maximum:
        value = maximum
    return value
