"""Validate response bodies and stream events against the packaged JSON Schemas, with precise error paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.data import data_dir, load_json

__all__ = ["MAX_ERRORS", "SchemaError", "error_types", "schema", "validate"]

MAX_ERRORS = 10
SCHEMA_SUFFIX = ".schema.json"
_WEAK = frozenset({"anyOf", "oneOf"})


@dataclass(frozen=True)
class SchemaError:
    """One schema violation."""

    path: str  # JSON path of the offending value: "$", "$.content[0].input", "$.usage.output_tokens"
    message: str  # readable: "'x' is not of type 'object'" / "'stop_sequence' is a required property"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@cache
def _schema_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[: -len(SCHEMA_SUFFIX)] for p in data_dir("schemas").glob("*" + SCHEMA_SUFFIX)))


def schema(schema_name: str) -> dict[str, Any]:
    """The parsed schemas/<schema_name>.schema.json (cached; treat it as read-only)."""
    if schema_name not in _schema_names():
        raise ValueError(f"unknown schema {schema_name!r}; known: {', '.join(_schema_names())}")
    return load_json("schemas", schema_name + SCHEMA_SUFFIX)


@cache
def _registry() -> Registry:
    """Every schema in the folder, keyed by its $id, so that they can $ref each other."""
    resources = []
    for name in _schema_names():
        contents = schema(name)
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources.append((contents.get("$id", name + SCHEMA_SUFFIX), resource))
    return Registry().with_resources(resources).crawl()


def _dispatch_table(all_of: Any) -> dict[str, tuple[int, Any]] | None:
    """For an allOf of `{"if": <object with type const c>, "then": S}` items: {c: (index, S)}, else None."""
    if not isinstance(all_of, list) or not all_of:
        return None
    table: dict[str, tuple[int, Any]] = {}
    for index, item in enumerate(all_of):
        if not isinstance(item, dict) or set(item) != {"if", "then"}:
            return None
        condition = item["if"]
        const = (
            condition.get("properties", {}).get("type", {}).get("const")
            if isinstance(condition, dict)
            else None
        )
        expected = {"type": "object", "properties": {"type": {"const": const}}, "required": ["type"]}
        if not isinstance(const, str) or condition != expected or const in table:
            return None
        table[const] = (index, item["then"])
    return table


_TABLES: dict[int, tuple[Any, dict[str, tuple[int, Any]] | None]] = {}


def _fast_all_of(validator: Any, all_of: Any, instance: Any, parent: Any) -> Iterator[ValidationError]:
    """`allOf`, with the type-dispatch form evaluated by a dict lookup instead of trying every `if`.

    Same result as the standard keyword: an `if` of the dispatch form holds exactly when the instance is an
    object whose `type` equals the const, so only that item's `then` can produce errors; the errors get the
    schema path the standard evaluation would give them (allOf/<index>/then/...).
    """
    cached = _TABLES.get(id(all_of))
    if cached is None or cached[0] is not all_of:
        cached = (all_of, _dispatch_table(all_of))  # keeps all_of alive, so its id can't be reused
        _TABLES[id(all_of)] = cached
    table = cached[1]
    if table is None:
        for index, subschema in enumerate(all_of):
            yield from validator.descend(instance, subschema, schema_path=index)
        return
    tag = instance.get("type") if isinstance(instance, dict) else None
    hit = table.get(tag) if isinstance(tag, str) else None
    if hit is None:
        return
    index, then = hit
    for error in validator.descend(instance, then, schema_path="then"):
        error.relative_schema_path.appendleft(index)
        yield error


_Validator = validators.extend(Draft202012Validator, validators={"allOf": _fast_all_of})


@cache
def _validator(schema_name: str) -> Any:
    return _Validator(schema(schema_name), registry=_registry())


def error_types() -> tuple[str, ...]:
    """The SDK's ErrorType values, as recorded under x-error-types in error.schema.json."""
    return tuple(schema("error")["x-error-types"])


def _is_root_type_error(error: ValidationError) -> bool:
    return error.validator == "type" and not error.relative_path


def _leaves(error: ValidationError) -> list[tuple[ValidationError, str]]:
    """The deepest meaningful errors under `error`, each with its message.

    For anyOf/oneOf: the branches whose type the instance doesn't even have are dropped; if exactly one
    branch is left, its errors are reported (recursively); if none is left, one "is not of type A, B" error.
    """
    if error.validator not in _WEAK or not error.context:
        return [(error, _message(error))]
    branches: dict[Any, list[ValidationError]] = {}
    for child in error.context:
        branches.setdefault(child.relative_schema_path[0], []).append(child)
    plausible = [errs for errs in branches.values() if not any(_is_root_type_error(e) for e in errs)]
    if len(plausible) == 1:
        return [leaf for child in plausible[0] for leaf in _leaves(child)]
    if not plausible:
        expected: list[str] = []
        for child in error.context:
            if _is_root_type_error(child):
                value = child.validator_value
                expected.extend(
                    t for t in (value if isinstance(value, list) else [value]) if t not in expected
                )
        return [(error, f"{_json(error.instance)} is not of type {', '.join(_json(t) for t in expected)}")]
    best = best_match([error]) or error
    return [(best, _message(best))]


def _json(value: Any) -> str:
    """A value as JSON (null, "text"), as it was on the wire; repr for what JSON cannot hold."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _message(error: ValidationError) -> str:
    """jsonschema's message with its values written as JSON rather than as Python (null, not None)."""
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{_json(error.instance)} is not of type {', '.join(_json(t) for t in types)}"
    if error.validator == "required" and error.message.endswith(" is a required property"):
        import ast

        try:
            name = ast.literal_eval(error.message[: -len(" is a required property")])
        except (ValueError, SyntaxError):
            return error.message
        return f"{_json(name)} is a required property"
    if error.validator == "enum":
        return f"{_json(error.instance)} is not one of {_json(error.validator_value)}"
    if error.validator == "const":
        return f"{_json(error.validator_value)} was expected"
    return error.message


@cache
def _fast(schema_name: str) -> Any:
    """A compiled validator (jsonschema-rs) that only says valid or not: the answer for nearly every instance, tens of
    times faster; an instance it rejects is validated again by jsonschema for the errors and their paths. Formats are
    annotations here, as for jsonschema without a format checker."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema(schema_name), validate_formats=False)


def validate(schema_name: str, instance: object) -> list[SchemaError]:
    """Validate against schemas/<schema_name>.schema.json ("message", "stream-event", "error"); [] when valid.

    At most MAX_ERRORS errors, the most specific (deepest in the instance) first.
    """
    try:
        if _fast(schema_name).is_valid(instance):
            return []
    except (ValueError, TypeError, OverflowError, RecursionError):
        pass  # a value it cannot take (an integer beyond 64 bits, a cycle): jsonschema decides
    validator = _validator(schema_name)
    leaves = [leaf for error in validator.iter_errors(instance) for leaf in _leaves(error)]
    leaves.sort(key=lambda leaf: -len(leaf[0].absolute_path))  # deepest first; stable, so ties keep order
    result: list[SchemaError] = []
    for error, message in leaves:
        item = SchemaError(path=error.json_path, message=message)
        if item not in result:
            result.append(item)
            if len(result) >= MAX_ERRORS:
                break
    return result
