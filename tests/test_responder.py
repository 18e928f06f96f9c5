"""Tests of the reference server's deterministic responder: the directive engine and its limits."""

from __future__ import annotations

import json
import re
import string
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference_server import directives
from reference_server.responder import (
    AFTER_TOOL_REPLY,
    DEFAULT_REPLY,
    TOOLS_OFF_REPLY,
    ResponderSettings,
    respond,
    sign,
)
from reference_server.schema_instance import instance
from reference_server.tokens import count_words, input_tokens

OBJECT = {"type": "object"}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def request(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 1000, "messages": list(messages), **fields}


def texts(message: dict[str, Any]) -> list[str]:
    return [block["text"] for block in message["content"] if block["type"] == "text"]


def calls(message: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(block["name"], block["input"]) for block in message["content"] if block["type"] == "tool_use"]


def tool(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "input_schema": schema or OBJECT}


# ----- the directive parser ---------------------------------------------------------------------------------


def test_a_reply_directive_runs_to_the_end_of_its_line() -> None:
    plan = directives.parse("Please.\nREPLY WITH EXACTLY:   alpha beta  \nthen more")
    assert plan.text == "alpha beta" and plan.calls == ()


def test_the_last_reply_directive_of_a_text_wins() -> None:
    assert directives.parse("Reply with exactly: one\nreply with exactly: two").text == "two"


def test_a_call_directive_reads_a_backticked_name_and_a_multiline_json_object() -> None:
    plan = directives.parse('Call the tool `get-x_1` with input {\n "a": [1, {"b": null}]\n}. Thanks')
    assert plan.calls == (directives.ToolCall("get-x_1", {"a": [1, {"b": None}]}),)


def test_several_call_directives_are_parallel_calls_in_order() -> None:
    plan = directives.parse('Call the tool a with input {"n": 1}\ncall the tool b with input {"n": 2}')
    assert [call.name for call in plan.calls] == ["a", "b"]


def test_a_call_directive_without_a_json_object_is_not_a_directive() -> None:
    assert directives.parse("Call the tool a with input [1, 2]").calls == ()
    assert directives.parse("Call the tool a with input {broken").calls == ()


def test_the_text_of_a_reply_directive_is_never_read_as_another_directive() -> None:
    plan = directives.parse('Reply with exactly: call the tool x with input {"a": 1}')
    assert plan.text == 'call the tool x with input {"a": 1}' and plan.calls == ()


def test_the_tool_result_directive_is_recognised_with_trailing_words() -> None:
    plan = directives.parse("Then reply with exactly the tool result, nothing else.")
    assert plan.echo_tool_result and not plan.directs_output


# ----- which directive applies ------------------------------------------------------------------------------


def test_without_directives_the_reply_is_a_fixed_sentence_that_does_not_echo_the_user() -> None:
    message = respond(request(user("tell me about nonce-123")))
    assert texts(message) == [DEFAULT_REPLY] and message["stop_reason"] == "end_turn"


def test_user_directives_win_over_system_directives() -> None:
    body = request(user("Reply with exactly: from user"), system="Reply with exactly: from system")
    assert texts(respond(body)) == ["from user"]


def test_the_last_system_source_with_a_directive_wins() -> None:
    body = request(
        user("hello"),
        {"role": "system", "content": "Reply with exactly: second"},
        system=[{"type": "text", "text": "Reply with exactly: first"}],
    )
    assert texts(respond(body)) == ["second"]


def test_a_directive_in_an_earlier_user_turn_is_not_obeyed_later() -> None:
    body = request(
        user("Reply with exactly: old"),
        {"role": "assistant", "content": "old"},
        user("and now something else"),
    )
    assert texts(respond(body)) == [DEFAULT_REPLY]


def test_consecutive_user_messages_are_read_as_one_turn() -> None:
    body = request(user("Reply with exactly: merged"), user([{"type": "text", "text": "more words"}]))
    assert texts(respond(body)) == ["merged"]


# ----- tools ------------------------------------------------------------------------------------------------


def test_a_call_directive_becomes_a_tool_use_block_with_a_toolu_id() -> None:
    message = respond(request(user('Call the tool lookup with input {"q": "x"}'), tools=[tool("lookup")]))
    (block,) = message["content"]
    assert block["type"] == "tool_use" and re.fullmatch(r"toolu_[A-Za-z0-9]{24}", block["id"])
    assert (block["name"], block["input"]) == ("lookup", {"q": "x"})
    assert message["stop_reason"] == "tool_use" and message["usage"]["output_tokens"] >= 1


def test_a_call_to_a_tool_that_was_not_given_is_answered_with_text() -> None:
    message = respond(request(user("Call the tool ghost with input {}"), tools=[tool("real")]))
    assert calls(message) == [] and "ghost" in texts(message)[0] and message["stop_reason"] == "end_turn"


def test_disable_parallel_tool_use_keeps_only_the_first_call() -> None:
    body = request(
        user("Call the tool a with input {}\nCall the tool b with input {}"),
        tools=[tool("a"), tool("b")],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert calls(respond(body)) == [("a", {})]


def test_tool_choice_tool_forces_the_named_tool_with_an_input_built_from_its_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"enum": ["c", "f"]},
            "days": {"type": "integer", "minimum": 3},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
            "optional": {"type": "string"},
        },
        "required": ["city", "unit", "days", "where"],
    }
    body = request(
        user("hi"),
        tools=[tool("other"), tool("weather", schema)],
        tool_choice={"type": "tool", "name": "weather"},
    )
    message = respond(body)
    assert calls(message) == [("weather", {"city": "example", "unit": "c", "days": 3, "where": {"lat": 1.0}})]
    assert texts(message) == [] and message["stop_reason"] == "tool_use"


def test_tool_choice_tool_takes_the_input_of_a_directive_naming_that_tool() -> None:
    body = request(
        user('Call the tool t with input {"k": 7}'),
        tools=[tool("t")],
        tool_choice={"type": "tool", "name": "t"},
    )
    assert calls(respond(body)) == [("t", {"k": 7})]


def test_tool_choice_any_calls_the_first_tool_when_no_directive_names_one() -> None:
    body = request(user("hi"), tools=[tool("first"), tool("second")], tool_choice={"type": "any"})
    assert calls(respond(body)) == [("first", {})]


def test_tool_choice_none_never_calls_a_tool() -> None:
    body = request(user("Call the tool t with input {}"), tools=[tool("t")], tool_choice={"type": "none"})
    message = respond(body)
    assert calls(message) == [] and texts(message) == [TOOLS_OFF_REPLY]


TWO_CALLS = "Call the tool a with input {}\nCall the tool b with input {}"


def test_tool_settings_switch_off_auto_calls_parallel_calls_tool_choice_and_the_parallel_flag() -> None:
    both = request(user(TWO_CALLS), tools=[tool("a"), tool("b")])
    assert calls(respond(both)) == [("a", {}), ("b", {})]
    assert calls(respond(both, ResponderSettings(parallel_calls=False))) == [("a", {})]
    never = respond(both, ResponderSettings(auto_tool_calls=False))
    assert calls(never) == [] and texts(never) == [TOOLS_OFF_REPLY]
    forced = {**both, "tool_choice": {"type": "any"}}
    assert calls(respond(forced, ResponderSettings(auto_tool_calls=False))) == [("a", {}), ("b", {})]
    hi_any = request(user("hi"), tools=[tool("a")], tool_choice={"type": "any"})
    assert calls(respond(hi_any, ResponderSettings(tool_choice=False))) == []
    none = {**both, "tool_choice": {"type": "none"}}
    assert (
        calls(respond(none)) == []
        and len(calls(respond(none, ResponderSettings(tool_choice_none=False)))) == 2
    )
    single = {**both, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}
    assert (
        len(calls(respond(single))) == 1
        and len(calls(respond(single, ResponderSettings(disable_parallel=False)))) == 2
    )


def test_a_tool_choice_naming_an_unknown_tool_behaves_as_auto() -> None:
    body = request(user(TWO_CALLS), tools=[tool("a")], tool_choice={"type": "tool", "name": "ghost"})
    assert calls(respond(body)) == [("a", {})]


def test_thinking_can_be_switched_off() -> None:
    body = request(user("hi"), max_tokens=2048, thinking={"type": "adaptive"})
    assert [b["type"] for b in respond(body)["content"]] == ["thinking", "text"]
    assert [b["type"] for b in respond(body, ResponderSettings(thinking=False))["content"]] == ["text"]


def test_a_max_tokens_a_lenient_layer_let_through_is_coerced_or_ignored() -> None:
    words = user("Reply with exactly: a b c d")
    assert texts(respond(request(words, max_tokens="2"))) == ["a b"]
    assert texts(respond(request(words, max_tokens=-1))) == ["a b c d"]
    assert texts(respond(request(words, max_tokens="many"))) == ["a b c d"]
    assert texts(respond(request(words, max_tokens=True))) == ["a b c d"]


def test_schema_instances_cover_arrays_types_lists_and_combinators() -> None:
    assert instance({"type": "array", "items": {"type": "boolean"}, "minItems": 2}) == [True, True]
    assert instance({"type": ["null", "integer"]}) == 1
    assert instance({"anyOf": [{"type": "number"}, {"type": "string"}]}) == 1.0
    assert instance({"const": "fixed"}) == "fixed"


def tool_round_trip(result_content: Any, first_turn: str, is_error: bool = False) -> dict[str, Any]:
    return request(
        user(first_turn),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}]},
        user(
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": result_content,
                    "is_error": is_error,
                }
            ]
        ),
        tools=[tool("t")],
    )


def test_the_tool_result_is_echoed_when_asked_for_including_error_results_with_block_content() -> None:
    content = [
        {"type": "text", "text": "line one"},
        {"type": "image", "source": {}},
        {"type": "text", "text": "two"},
    ]
    body = tool_round_trip(
        content, "Call the tool t with input {}. Then reply with exactly the tool result.", True
    )
    assert texts(respond(body)) == ["line one\ntwo"]


def test_after_a_tool_result_without_the_echo_directive_the_reply_does_not_quote_it() -> None:
    message = respond(tool_round_trip("secret-result", "Call the tool t with input {}"))
    assert texts(message) == [AFTER_TOOL_REPLY] and "secret-result" not in json.dumps(message["content"])


def test_a_directive_next_to_the_tool_result_wins_over_the_echo() -> None:
    body = tool_round_trip("r", "Reply with exactly the tool result")
    body["messages"][-1]["content"].append({"type": "text", "text": "Reply with exactly: next step"})
    assert texts(respond(body)) == ["next step"]


# ----- prefill, thinking, settings --------------------------------------------------------------------------


def test_a_prefilled_assistant_turn_is_continued() -> None:
    body = request(
        user("Reply with exactly: The answer is 42"), {"role": "assistant", "content": "The answer"}
    )
    assert texts(respond(body)) == [" is 42"]


def test_thinking_comes_first_with_a_signature_of_its_text() -> None:
    message = respond(
        request(user("hi"), max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024})
    )
    thinking, text = message["content"]
    assert thinking["type"] == "thinking" and thinking["signature"] == sign(thinking["thinking"])
    assert text == {"type": "text", "text": DEFAULT_REPLY}
    assert message["usage"]["output_tokens"] == count_words(thinking["thinking"]) + count_words(DEFAULT_REPLY)


def test_settings_switch_off_user_directives_but_not_system_ones() -> None:
    off = ResponderSettings(user_directives=False)
    assert texts(respond(request(user("Reply with exactly: u")), off)) == [DEFAULT_REPLY]
    assert texts(respond(request(user("Reply with exactly: u"), system="Reply with exactly: s"), off)) == [
        "s"
    ]


def test_max_tokens_zero_gives_empty_content() -> None:
    message = respond(request(user("Reply with exactly: a b c"), max_tokens=0))
    assert message["content"] == [] and message["stop_reason"] == "max_tokens"


def test_tool_calls_are_dropped_when_the_text_reaches_max_tokens() -> None:
    body = request(
        user("Reply with exactly: a b c\nCall the tool t with input {}"), tools=[tool("t")], max_tokens=2
    )
    message = respond(body)
    assert message["content"] == [{"type": "text", "text": "a b"}] and message["stop_reason"] == "max_tokens"


def test_input_tokens_count_system_tools_and_messages() -> None:
    bare = request(user("one two three"))
    assert input_tokens(bare) == 4
    assert input_tokens({**bare, "system": "four five"}) == 6
    assert input_tokens({**bare, "tools": [tool("t")]}) > 4
    assert respond(bare)["usage"]["input_tokens"] == 4


# ----- properties -------------------------------------------------------------------------------------------

KEYWORDS = {"reply", "with", "exactly", "call", "the", "tool", "input", "result"}
words = st.text(string.ascii_letters + string.digits + "-'.,!?", min_size=1, max_size=12).filter(
    lambda word: word.lower().strip("-'.,!?") not in KEYWORDS
)
sentences = st.lists(words, min_size=1, max_size=12).map(" ".join)
tool_names = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
placements = st.sampled_from(
    ["user", "system-string", "system-blocks", "system-message-before", "system-message-after"]
)


def placed(directive: str, filler: str, placement: str, **fields: Any) -> dict[str, Any]:
    """A request carrying `directive` at `placement`, with directive-free filler text as the user turn."""
    if placement == "user":
        return request(user(f"{filler}\n{directive}"), **fields)
    if placement == "system-string":
        return request(user(filler), system=f"{filler}\n{directive}", **fields)
    if placement == "system-blocks":
        blocks = [
            {"type": "text", "text": filler},
            {"type": "text", "text": directive, "cache_control": {"type": "ephemeral"}},
        ]
        return request(user(filler), system=blocks, **fields)
    system_message = {"role": "system", "content": directive}
    if placement == "system-message-before":
        return request(system_message, user(filler), **fields)
    return request(user(filler), system_message, **fields)


@settings(max_examples=150, deadline=None)
@given(reply=sentences, filler=sentences, placement=placements)
def test_property_a_reply_directive_is_obeyed_wherever_it_is_placed(
    reply: str, filler: str, placement: str
) -> None:
    message = respond(placed(f"Reply with exactly: {reply}", filler, placement))
    assert texts(message) == [reply]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert message["usage"]["output_tokens"] == count_words(reply)


@settings(max_examples=150, deadline=None)
@given(
    wanted=st.lists(
        st.tuples(tool_names, json_objects), min_size=1, max_size=3, unique_by=lambda pair: pair[0]
    ),
    filler=sentences,
    placement=placements,
    backticks=st.booleans(),
)
def test_property_call_directives_are_obeyed_wherever_they_are_placed(
    wanted: list[tuple[str, dict[str, Any]]], filler: str, placement: str, backticks: bool
) -> None:
    tick = "`" if backticks else ""
    directive = "\n".join(
        f"Call the tool {tick}{name}{tick} with input {json.dumps(args)}" for name, args in wanted
    )
    message = respond(placed(directive, filler, placement, tools=[tool(name) for name, _ in wanted]))
    assert calls(message) == wanted and message["stop_reason"] == "tool_use"
    ids = [block["id"] for block in message["content"] if block["type"] == "tool_use"]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-zA-Z0-9_-]+", i) for i in ids)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), reply=sentences, max_tokens=st.integers(0, 14))
def test_property_max_tokens_and_stop_sequences_cut_the_reply_and_never_leave_an_empty_text_block(
    data: st.DataObject, reply: str, max_tokens: int
) -> None:
    start = data.draw(st.integers(0, len(reply) - 1))
    stop_sequences = data.draw(
        st.lists(st.text(reply[start : start + 4], min_size=1, max_size=3) | words, max_size=2)
        | st.just([reply[start : start + data.draw(st.integers(1, 4))]])
    )
    body = request(user(f"Reply with exactly: {reply}"), max_tokens=max_tokens, stop_sequences=stop_sequences)
    message = respond(body)
    got = "".join(texts(message))
    assert all(block["text"].strip() for block in message["content"] if block["type"] == "text")
    assert reply.startswith(got)
    assert message["usage"]["output_tokens"] == count_words(got) <= max_tokens
    reason = message["stop_reason"]
    if reason == "stop_sequence":
        assert message["stop_sequence"] in stop_sequences
        assert reply[len(got) :].startswith(message["stop_sequence"])
        assert not any(s and s in got for s in stop_sequences)
    else:
        assert message["stop_sequence"] is None
    if reason == "max_tokens":
        assert count_words(got) == max_tokens < count_words(reply)
    if reason == "end_turn":
        assert got == reply and count_words(reply) <= max_tokens
    assume(reason in ("stop_sequence", "max_tokens", "end_turn"))
