"""The golden corpus: transcripts of the real API, taken from Anthropic's documentation (fixtures/transcripts/).

Every transcript must pass the harness's own validators, and every way of breaking a golden stream (or a golden
Message) must be caught, by a rule that names the damage.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from urllib.parse import urlparse

import pytest
from golden_mutations import (
    MUTATIONS,
    TRANSCRIPTS,
    all_stream_cases,
    by_kind,
    goldens,
    message_cases,
    parse,
    rejection,
    render,
    stream_cases,
    transcripts,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import schemas
from conformance.data import rules as rule_book
from conformance.sse import validate_stream

KINDS = {"message", "stream", "error", "count_tokens", "models"}
DOC_HOSTS = {"docs.anthropic.com", "docs.claude.com", "platform.claude.com"}
RETRIEVED = "2026-11-24"
# HTTP errors, on the errors page: status -> error.type
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
MIN_MUTANTS = 300

KNOWN_SCHEMA_GAPS: dict[str, str] = {}  # golden id -> why the schemas reject it (none now: see scripts/generate_schemas.py)


def _ids(docs: list[dict]) -> list[str]:
    return [doc["id"] for doc in docs]


def _with_known_gaps(docs: list[dict]) -> list:
    return [
        pytest.param(doc, id=doc["id"], marks=pytest.mark.xfail(strict=True, reason=KNOWN_SCHEMA_GAPS[doc["id"]]))
        if doc["id"] in KNOWN_SCHEMA_GAPS
        else pytest.param(doc, id=doc["id"])
        for doc in docs
    ]


STREAMS = by_kind("stream")
MESSAGES = by_kind("message")
ERRORS = by_kind("error")


# ---------------------------------------------------------------------------------------------------------
# The files check themselves
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(TRANSCRIPTS.glob("*.json")), ids=lambda path: path.stem)
def test_every_transcript_file_has_its_keys_and_its_provenance(path):
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert {"id", "kind", "source", "request", "status"} <= set(doc), sorted(doc)
    assert doc["id"] == path.stem
    assert doc["kind"] in KINDS
    assert isinstance(doc["status"], int) and 200 <= doc["status"] <= 599
    assert doc["request"] is None or isinstance(doc["request"], dict)
    if doc["kind"] == "stream":
        assert "sse" in doc and "body" not in doc
        assert isinstance(doc["sse"], str) and doc["sse"].endswith("\n\n"), "the final event ends with a blank line"
    else:
        assert "body" in doc and "sse" not in doc
    source = doc["source"]
    assert set(source) == {"url", "section", "retrieved", "notes"}
    url = urlparse(source["url"])
    assert url.scheme == "https" and url.hostname in DOC_HOSTS, source["url"]
    assert source["section"].strip() and source["notes"].strip()
    assert source["retrieved"] == RETRIEVED
    assert not re.search("(" + "|".join(f"/{d}/" for d in ("work", "tmp", "home", "root")) + r"|[A-Z]:\\\\)", text), (
        "a machine path in a fixture")


def test_transcript_ids_are_unique():
    ids = _ids(list(transcripts()))
    assert len(ids) == len(set(ids))
    assert len(ids) == len(list(TRANSCRIPTS.glob("*.json")))


def test_the_corpus_covers_every_case_the_brief_lists():
    bodies = [doc["body"] for doc in MESSAGES]
    assert any(b["stop_reason"] == "end_turn" and b["content"][0]["type"] == "text" for b in bodies)
    assert any(sum(block["type"] == "tool_use" for block in b["content"]) >= 2 for b in bodies), "parallel tools"
    assert any(b["content"][0]["type"] == "thinking" and b["content"][0]["signature"] for b in bodies)
    assert any(b["stop_reason"] == "stop_sequence" and isinstance(b["stop_sequence"], str) for b in bodies)
    assert any(b["stop_reason"] == "max_tokens" for b in bodies)
    deltas = [event.data["delta"] for doc in STREAMS for event in parse(doc["sse"]) if event.type == "content_block_delta"]
    delta_types = {delta["type"] for delta in deltas}
    assert {"text_delta", "input_json_delta", "thinking_delta", "signature_delta"} <= delta_types
    assert any(delta.get("partial_json") == "" for delta in deltas), "the first, empty, input_json_delta"
    assert any(parse(doc["sse"])[-1].type == "error" for doc in STREAMS), "a stream that ends in an error event"
    assert {doc["status"] for doc in ERRORS} >= {400, 401, 404, 429, 529}
    assert by_kind("count_tokens")
    models = [doc["body"] for doc in by_kind("models")]
    assert any("data" in body for body in models) and any(body.get("type") == "model" for body in models)


# ---------------------------------------------------------------------------------------------------------
# Every transcript is valid
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", STREAMS, ids=_ids(STREAMS))
def test_every_golden_stream_decodes_and_validates_without_violations(doc):
    decoder, validator = validate_stream(doc["sse"].encode("utf-8"))
    assert not decoder.errors
    assert [str(v) for v in validator.violations] == []
    assert [str(v) for v in validator.deviations] == []
    assert [str(w) for w in validator.warnings] == []
    last = validator.events[-1][1]
    assert last["type"] in ("message_stop", "error")


@pytest.mark.parametrize("doc", _with_known_gaps(STREAMS))
def test_every_golden_stream_event_validates_against_the_stream_event_schema(doc):
    errors = [
        f"event #{n} {data['type']}: {error}"
        for n, (_, data) in enumerate(validate_stream(doc["sse"].encode("utf-8"))[1].events)
        for error in schemas.validate("stream-event", data)
    ]
    assert errors == []


STOPPED_STREAMS = [doc for doc in STREAMS if parse(doc["sse"])[-1].type == "message_stop"]


@pytest.mark.parametrize("doc", _with_known_gaps(STOPPED_STREAMS))
def test_the_message_a_golden_stream_accumulates_validates_against_the_message_schema(doc):
    validator = validate_stream(doc["sse"].encode("utf-8"))[1]
    assert validator.message is not None
    assert [str(e) for e in schemas.validate("message", validator.message)] == []


@pytest.mark.parametrize("doc", STREAMS, ids=_ids(STREAMS))
def test_a_golden_stream_re_rendered_event_by_event_is_still_clean(doc):
    """The mutation tests render mutants this way, so a violation there comes from the mutation alone."""
    golden = next(g for g in goldens() if g.id == doc["id"])
    assert rejection(render(golden.events), golden.schema_baseline) == set()


@pytest.mark.parametrize("doc", MESSAGES, ids=_ids(MESSAGES))
def test_every_golden_message_validates_against_the_message_schema(doc):
    assert [str(e) for e in schemas.validate("message", doc["body"])] == []
    assert doc["status"] == 200


@pytest.mark.parametrize("doc", ERRORS, ids=_ids(ERRORS))
def test_every_golden_error_body_validates_and_names_the_type_its_status_documents(doc):
    assert [str(e) for e in schemas.validate("error", doc["body"])] == []
    assert doc["body"]["error"]["type"] == ERROR_TYPES[doc["status"]]
    assert doc["body"]["error"]["type"] in schemas.error_types()


def test_a_stream_that_ends_in_an_error_event_carries_the_error_envelope():
    ended = [doc for doc in STREAMS if parse(doc["sse"])[-1].type == "error"]
    assert ended
    for doc in ended:
        validator = validate_stream(doc["sse"].encode("utf-8"))[1]
        event = validator.events[-1]
        assert event[0].event == "error"
        assert schemas.validate("error", event[1]) == []
        assert validator.error == {"type": "overloaded_error", "message": "Overloaded"}


@pytest.mark.parametrize("doc", by_kind("count_tokens"), ids=_ids(by_kind("count_tokens")))
def test_count_tokens_answers_a_positive_input_token_count(doc):
    body = doc["body"]
    assert set(body) == {"input_tokens"}
    assert isinstance(body["input_tokens"], int) and body["input_tokens"] > 0
    assert "max_tokens" not in doc["request"], "count_tokens takes no max_tokens"


def _model_info(info: dict) -> None:
    assert info["type"] == "model"
    assert isinstance(info["id"], str) and info["id"]
    assert isinstance(info["display_name"], str) and info["display_name"]
    assert datetime.fromisoformat(info["created_at"]).tzinfo is not None, "RFC 3339 with an offset"


@pytest.mark.parametrize("doc", by_kind("models"), ids=_ids(by_kind("models")))
def test_models_bodies_are_a_model_info_page_or_one_model_info(doc):
    body = doc["body"]
    if "data" in body:
        assert set(body) == {"data", "first_id", "has_more", "last_id"}
        for info in body["data"]:
            _model_info(info)
        assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        assert isinstance(body["has_more"], bool)
    else:
        _model_info(body)


def test_the_streamed_tool_input_concatenates_to_the_documented_object():
    doc = next(doc for doc in STREAMS if doc["id"] == "stream-tool-use")
    validator = validate_stream(doc["sse"].encode("utf-8"))[1]
    tool = validator.message["content"][1]
    assert tool["type"] == "tool_use" and tool["name"] == "get_weather"
    assert tool["input"] == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert validator.message["stop_reason"] == "tool_use"


def test_the_streamed_thinking_block_gets_its_signature_by_signature_delta():
    doc = next(doc for doc in STREAMS if doc["id"] == "stream-thinking")
    events = parse(doc["sse"])
    kinds = [(e.type, e.data.get("delta", {}).get("type")) for e in events]
    signature = kinds.index(("content_block_delta", "signature_delta"))
    assert kinds[signature + 1] == ("content_block_stop", None), "signature_delta comes just before the stop"
    thinking = validate_stream(doc["sse"].encode("utf-8"))[1].message["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("EqQB")
    assert thinking["thinking"].endswith("= 12,231")


# ---------------------------------------------------------------------------------------------------------
# Every way of breaking a golden stream is caught, by a rule that names it
# ---------------------------------------------------------------------------------------------------------


def test_every_declared_rule_id_exists():
    known = set(rule_book())
    for mutation in MUTATIONS:
        assert mutation.rules <= known, (mutation.kind, mutation.rules - known)


def _check_rejected(golden, mutation, params) -> bytes:
    mutant = render(mutation.apply(golden, params))
    found = rejection(mutant, golden.schema_baseline)
    assert found, f"{golden.id}: {mutation.kind} {params!r} was not rejected"
    assert found & mutation.rules, (
        f"{golden.id}: {mutation.kind} {params!r} was rejected for {sorted(found)}, "
        f"none of the declared {sorted(mutation.rules)}"
    )
    return mutant


def test_every_mutation_of_every_applicable_golden_stream_is_rejected_with_a_declared_rule():
    cases = all_stream_cases()
    mutants = {_check_rejected(golden, mutation, params) for golden, mutation, params in cases}
    assert {mutation.kind for _, mutation, _ in cases} == {mutation.kind for mutation in MUTATIONS}
    assert len(cases) >= MIN_MUTANTS
    assert len(mutants) >= MIN_MUTANTS, f"only {len(mutants)} distinct mutated streams"


def test_hypothesis_mutants_of_golden_streams_are_each_rejected_with_a_declared_rule():
    mutants: set[bytes] = set()
    kinds: set[str] = set()

    @settings(max_examples=800, deadline=None, derandomize=True, database=None)
    @given(case=stream_cases())
    def check(case):
        golden, mutation, params = case
        mutants.add(_check_rejected(golden, mutation, params))
        kinds.add(mutation.kind)

    check()
    assert len(mutants) >= MIN_MUTANTS, f"only {len(mutants)} distinct mutated streams were generated"
    assert kinds == {mutation.kind for mutation in MUTATIONS}, "every mutation kind was drawn"


# ---------------------------------------------------------------------------------------------------------
# ... and every way of breaking a golden Message, at the path of the field
# ---------------------------------------------------------------------------------------------------------

MESSAGE_CASES = [
    pytest.param(doc, name, path, field, change, id=f"{doc['id']}: {name}")
    for doc in MESSAGES
    for name, path, field, change in message_cases(doc["body"])
]


def _check_message_rejected(body: dict, path: str, field: str) -> None:
    errors = schemas.validate("message", body)
    assert errors, "not rejected"
    named = [e for e in errors if e.path == path and (path != "$" or json.dumps(field) in e.message)]
    assert named, f"no error at {path} naming {field}: {[str(e) for e in errors]}"


@pytest.mark.parametrize(("doc", "name", "path", "field", "change"), MESSAGE_CASES)
def test_every_mutation_of_a_golden_message_is_rejected_at_the_path_of_the_field(doc, name, path, field, change):
    body = copy.deepcopy(doc["body"])
    change(body)
    _check_message_rejected(body, path, field)


@st.composite
def _message_mutants(draw: st.DrawFn):
    doc = draw(st.sampled_from(MESSAGES))
    name, path, field, change = draw(st.sampled_from(message_cases(doc["body"])))
    return doc, name, path, field, change


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(case=_message_mutants())
def test_hypothesis_mutants_of_golden_messages_are_rejected_at_the_path_of_the_field(case):
    doc, name, path, field, change = case
    body = copy.deepcopy(doc["body"])
    change(body)
    _check_message_rejected(body, path, field)




def _json_values() -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                            max_size=3), max_leaves=8)


@st.composite
def _schema_instances(draw: st.DrawFn):
    """A golden message or stream event with one value anywhere in it replaced by any JSON value."""
    if draw(st.booleans()):
        name, instance = "message", copy.deepcopy(draw(st.sampled_from(MESSAGES))["body"])
    else:
        doc = draw(st.sampled_from([d for d in by_kind("stream")]))
        name, instance = "stream-event", draw(st.sampled_from([e.data for e in parse(doc["sse"]) if e.data]))
        instance = copy.deepcopy(instance)
    holders = [instance]
    node = instance
    for _ in range(draw(st.integers(0, 4))):
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        children = [k for k in keys if isinstance(node[k], (dict, list))]
        if not children:
            break
        node = node[draw(st.sampled_from(children))]
        holders.append(node)
    target = holders[-1]
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    if keys:
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) and isinstance(target, dict):
            del target[key]
        else:
            target[key] = draw(_json_values())
    return name, instance


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(case=_schema_instances())
def test_the_fast_validator_agrees_with_jsonschema_on_every_instance(case):
    """The compiled validator answers valid/invalid for speed; jsonschema gives the errors. They must never disagree:
    a fast "valid" for an invalid instance would hide a violation."""
    name, instance = case
    detailed = not list(schemas._validator(name).iter_errors(instance))
    try:
        fast = schemas._fast(name).is_valid(instance)
    except (ValueError, TypeError, OverflowError):
        return  # the fast validator cannot take the value (beyond 64 bits): validate() falls back to jsonschema
    assert fast == detailed
    assert (schemas.validate(name, instance) == []) == detailed
