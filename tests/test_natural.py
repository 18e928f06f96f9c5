"""Natural prompts: a prompt that names an offered tool gets a call of it, with input filled from the prompt."""

from __future__ import annotations

import jsonschema
import pytest

from reference_server.natural import fill
from reference_server.responder import AFTER_TOOL_REPLY, DEFAULT_REPLY, respond
from reference_server.schema_instance import instance

CALCULATE = {"name": "calculate", "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}},
                                                   "required": ["expression"]}}
WEATHER = {"name": "get_weather", "input_schema": {
    "type": "object", "required": ["city", "unit"],
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}
ADD = {"name": "add", "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "integer"}},
                                       "required": ["a", "b"]}}


def answer(prompt, tools=(CALCULATE, WEATHER, ADD), **extra):
    body = {"model": "m", "max_tokens": 200, "tools": list(tools), "messages": [{"role": "user", "content": prompt}]}
    return respond({**body, **extra})


@pytest.mark.parametrize(("prompt", "name", "expected"), [
    ("Use the calculate tool to compute 12 * 7", "calculate", {"expression": "12 * 7"}),
    ("Please use calculate: expression = 2+2", "calculate", {"expression": "2+2"}),
    ("Use the get_weather tool to get the weather in Paris.", "get_weather", {"city": "Paris", "unit": "celsius"}),
    ("Call get_weather with city: Berlin", "get_weather", {"city": "Berlin", "unit": "celsius"}),
    ("Use add to add 2.5 and 3", "add", {"a": 2.5, "b": 3}),
])
def test_a_prompt_naming_a_tool_gets_a_valid_call_filled_from_it(prompt, name, expected):
    message = answer(prompt)
    assert message["stop_reason"] == "tool_use"
    (call,) = [block for block in message["content"] if block["type"] == "tool_use"]
    assert (call["name"], call["input"]) == (name, expected)
    schema = next(t for t in (CALCULATE, WEATHER, ADD) if t["name"] == name)["input_schema"]
    jsonschema.validate(call["input"], schema)


def test_without_a_tool_named_or_with_tool_choice_none_there_is_no_call():
    assert answer("What is 12 * 7?")["content"] == [{"type": "text", "text": DEFAULT_REPLY}]
    none = answer("Use the calculate tool", tool_choice={"type": "none"})
    assert none["stop_reason"] == "end_turn" and all(b["type"] == "text" for b in none["content"])
    assert answer("Use the calculate tool", tools=())["stop_reason"] == "end_turn"


def test_after_the_tool_result_the_answer_is_text_not_another_call():
    messages = [
        {"role": "user", "content": "Use the calculate tool to compute 12 * 7"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "calculate",
                                           "input": {"expression": "12 * 7"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "84"}]},
    ]
    message = respond({"model": "m", "max_tokens": 99, "tools": [CALCULATE], "messages": messages})
    assert message["content"] == [{"type": "text", "text": AFTER_TOOL_REPLY}]


def test_a_directive_still_wins_over_the_natural_reading():
    message = answer('Use calculate. Call the tool calculate with input {"expression": "1+1"}')
    assert [b["input"] for b in message["content"]] == [{"expression": "1+1"}]
    assert answer("calculate this. Reply with exactly: no")["content"] == [{"type": "text", "text": "no"}]


def test_a_constrained_property_keeps_the_schema_instance():
    tool = {"name": "lookup", "input_schema": {"type": "object", "required": ["code"],
                                               "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}}}
    assert fill(tool, "Use lookup for paris") == instance(tool["input_schema"])  # "paris" would break the pattern


def test_a_tool_is_named_only_in_its_own_case():
    read = {"name": "Read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                                             "required": ["file_path"]}}
    assert answer("please read me a poem", tools=[read])["stop_reason"] == "end_turn"
    assert answer("Use Read on file_path: /tmp/a.txt", tools=[read])["content"][0]["input"] == {"file_path": "/tmp/a.txt"}
