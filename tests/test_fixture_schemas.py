"""Every fixture file has a meta-schema (schemas/fixtures/) and is valid against it (JSON-Schema-Test-Suite's habit):
a broken fixture fails here, naming the file and the JSON path, before it misleads a test that reads it."""

from __future__ import annotations

import copy
import json
from fnmatch import fnmatch
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conformance.data import data_dir

FIXTURES = data_dir("fixtures")
SCHEMAS = data_dir("schemas") / "fixtures"
# fixture file (a glob under fixtures/) -> its schema under schemas/fixtures/
FIXTURE_SCHEMAS = {
    "profiles.json": "profiles.schema.json",
    "selftest_verdicts.json": "selftest_verdicts.schema.json",
    "defects.json": "defects.schema.json",
    "fault_map.json": "fault_map.schema.json",
    "models.json": "models.schema.json",
    "requests/*.json": "request.schema.json",
    "transcripts/*.json": "transcript.schema.json",
}
ALL_FIXTURES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json"))


def schema_of(name: str) -> str:
    """The schema file of fixture `name` (a path relative to fixtures/); a fixture without one is an error."""
    matches = [schema for pattern, schema in FIXTURE_SCHEMAS.items() if fnmatch(name, pattern)]
    assert len(matches) == 1, f"fixtures/{name}: {'no' if not matches else 'more than one'} schema in FIXTURE_SCHEMAS"
    return matches[0]


def fixture_errors(name: str, value: object) -> list[str]:
    """Every way fixture `name` breaks its schema, each as 'fixtures/<name>: <JSON path>: <message>'."""
    schema = json.loads((SCHEMAS / schema_of(name)).read_text(encoding="utf-8"))
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [f"fixtures/{name}: {error.json_path}: {error.message}" for error in errors]


def load(name: str) -> object:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_every_fixture_file_has_exactly_one_schema_and_every_schema_is_used():
    assert len(ALL_FIXTURES) >= 20
    used = {schema_of(name) for name in ALL_FIXTURES}
    assert used == {p.name for p in SCHEMAS.glob("*.schema.json")}


@pytest.mark.parametrize("schema", sorted(FIXTURE_SCHEMAS.values()))
def test_every_meta_schema_is_a_valid_draft_2020_12_schema(schema):
    Draft202012Validator.check_schema(json.loads((SCHEMAS / schema).read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_is_valid_against_its_schema(name):
    errors = fixture_errors(name, load(name))
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(("name", "breaks", "expected"), [
    ("fault_map.json", lambda v: v["checks"]["auth/x-api-key"][0].update(verdict="fial"),
     "fixtures/fault_map.json: $.checks['auth/x-api-key'][0].verdict: 'fial' is not one of"),
    ("defects.json", lambda v: v["defects"]["1"].pop("checks"),
     "fixtures/defects.json: $.defects['1']: 'checks' is a required property"),
    ("profiles.json", lambda v: v["profiles"]["claude-code"]["required"].append("Streaming/X"),
     "fixtures/profiles.json: $.profiles['claude-code'].required["),
    ("transcripts/stream-text-basic.json", lambda v: v.update(status="200"),
     "fixtures/transcripts/stream-text-basic.json: $.status: '200' is not of type 'integer'"),
    ("requests/claude-code.json", lambda v: v["body"].update(max_tokens=0),
     "fixtures/requests/claude-code.json: $.body.max_tokens: 0 is less than the minimum of 1"),
])
def test_a_broken_fixture_is_caught_naming_the_file_and_the_json_path(name, breaks, expected):
    broken = copy.deepcopy(load(name))
    breaks(broken)
    errors = fixture_errors(name, broken)
    assert any(error.startswith(expected) for error in errors), errors


def test_a_fixture_file_without_a_schema_is_caught(tmp_path: Path):
    with pytest.raises(AssertionError, match="fixtures/new/thing.json: no schema"):
        schema_of("new/thing.json")
