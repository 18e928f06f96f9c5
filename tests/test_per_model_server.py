"""The reference server answers each model of fixtures/models.json by its row (reference_server/per_model.py)."""

from __future__ import annotations

import pytest
from refserver import CALL, TOOL, USER, V2023, V2026, assert_error, body, call, post, stream, text_of

from conformance.model_table import row_for, row_names

ENABLED = {"type": "enabled", "budget_tokens": 1024}
MAX = 1100
SYSTEM = {"role": "system", "content": "Reply with exactly: from the system message"}


def table_models() -> list[str]:
    return [row_for(None, override=name).data["ids"][0] for name in row_names() if name != "default"]


def answer(model: str, **fields):
    return post(body(model=model, max_tokens=MAX, **fields))


@pytest.mark.parametrize("model", table_models())
def test_each_thinking_mode_is_accepted_or_refused_with_the_rows_wording(model):
    row = row_for(model)
    for mode, accepted in row.thinking_modes.items():
        thinking = ENABLED if mode == "enabled" else {"type": mode}
        response = answer(model, thinking=thinking)
        if accepted is False:
            wording = row.thinking_rejection(mode) or f'"thinking.type.{mode}" is not supported for this model.'
            assert_error(response, 400, "invalid_request_error", wording)
        else:  # accepted, or unknown: accepted
            assert response.status_code == 200, (mode, response.text)


@pytest.mark.parametrize("model", table_models())
def test_sampling_parameters_follow_the_row_in_every_version(model):
    row = row_for(model)
    response = answer(model, temperature=0.5)
    if row.sampling("temperature") == "rejected":
        assert_error(response, 400, "invalid_request_error", "`temperature` is deprecated for this model")
    else:
        assert response.status_code == 200
    assert answer(model, temperature=1).status_code == 200  # the default value is no "non-default value"
    # under 2026-10-21 the parameter is removed for every model, whatever the row
    assert_error(post(body(model=model, temperature=0.5), headers=V2026), 400, "invalid_request_error")


def test_temperature_with_top_p_is_refused_where_the_row_says_so():
    assert_error(answer("claude-sonnet-4-5", temperature=0.5, top_p=0.9), 400, "invalid_request_error",
                 "cannot both be specified for this model")
    assert answer("claude-sonnet-4-5", temperature=0.5).status_code == 200
    assert answer("claude-haiku-4-5", temperature=0.5, top_p=0.9).status_code == 200  # unknown: accepted


def test_effort_levels_are_the_rows():
    adaptive = {"type": "adaptive"}
    assert answer("claude-opus-4-8", thinking=adaptive, output_config={"effort": "xhigh"}).status_code == 200
    assert_error(answer("claude-opus-4-5", thinking=ENABLED, output_config={"effort": "xhigh"}), 400,
                 "invalid_request_error", "This model does not support effort level 'xhigh'")
    assert_error(answer("claude-haiku-4-5", output_config={"effort": "high"}), 400, "invalid_request_error",
                 "not supported on this model")
    assert answer("claude-opus-5-5", thinking=adaptive, output_config={"effort": "xhigh"}).status_code == 200


@pytest.mark.parametrize("model", table_models())
def test_role_system_messages_follow_the_row_and_the_placement_rules(model):
    row = row_for(model)
    leading = answer(model, messages=[SYSTEM, USER])
    assert_error(leading, 400, "invalid_request_error", "use the top-level 'system' parameter")
    after_user = answer(model, messages=[USER, SYSTEM])
    if row.system_messages is False:
        assert_error(after_user, 400, "invalid_request_error", "not supported on this model")
        return
    assert after_user.status_code == 200
    assert "from the system message" in text_of(after_user)
    misplaced = answer(model, messages=[USER, {"role": "assistant", "content": "ok"}, SYSTEM, USER])
    if row.system_messages:
        assert_error(misplaced, 400, "invalid_request_error", "must immediately follow a user turn")
    else:  # unknown: accepted
        assert misplaced.status_code == 200


def test_omitted_display_rows_answer_signature_only_thinking_unless_summarized_is_asked():
    adaptive = {"type": "adaptive"}
    block = answer("claude-opus-4-8", thinking=adaptive).json()["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == "" and block["signature"]
    summarized = answer("claude-opus-4-8", thinking={**adaptive, "display": "summarized"}).json()["content"][0]
    assert summarized["thinking"] and summarized["signature"]
    _, events = stream(model="claude-opus-4-8", max_tokens=MAX, thinking=adaptive)
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta" and data["index"] == 0]
    assert deltas == ["signature_delta"]
    # a row whose display is unknown answers the thinking text, as the reference model does
    assert answer("claude-opus-4-6", thinking=ENABLED).json()["content"][0]["thinking"]


def test_replayed_thinking_must_be_intact_and_first_in_a_tool_loop():
    asked = {"model": "claude-opus-4-8", "max_tokens": MAX, "thinking": {"type": "adaptive"}, "tools": [TOOL],
             "messages": [{"role": "user", "content": CALL}]}
    content = post(asked).json()["content"]
    call_id = next(b["id"] for b in content if b["type"] == "tool_use")
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "r"}]}

    def replay(turn):
        return post({**asked, "messages": [*asked["messages"], {"role": "assistant", "content": turn}, result]})

    assert replay(content).status_code == 200
    assert_error(replay([{**content[0], "signature": "x" + content[0]["signature"]}, *content[1:]]), 400,
                 "invalid_request_error", "Invalid `signature` in `thinking` block")
    assert_error(replay([{**content[0], "thinking": "made up"}, *content[1:]]), 400, "invalid_request_error",
                 "Invalid `signature`")
    assert_error(replay(content[1:]), 400, "invalid_request_error", "must start with a thinking block")
    no_thinking = {k: v for k, v in asked.items() if k != "thinking"}  # thinking off: the rule does not apply
    assert post({**no_thinking, "messages": [*asked["messages"], {"role": "assistant", "content": content[1:]},
                                             result]}).status_code == 200


def test_reference_model_and_unknown_ids_stay_permissive():
    for model in ("reference-model", "claude-unknown-9"):
        assert answer(model, thinking=ENABLED, temperature=0.5, top_p=0.9).status_code == 200
        assert answer(model, messages=[SYSTEM, USER]).status_code == 200
        assert answer(model, output_config={"effort": "whatever"}).status_code == 200
        thinking = answer(model, thinking={"type": "adaptive"}).json()["content"][0]
        assert thinking["thinking"]


def test_every_model_of_the_table_is_listed_and_served():
    listed = [m["id"] for m in call("GET", "/v1/models?limit=1000", headers=V2023).json()["data"]]
    assert listed[0] == "reference-model" and set(table_models()) <= set(listed)
    for model in table_models():
        assert answer(model).status_code == 200, model


def test_models_that_think_by_default_think_unasked_until_told_not_to():
    assert [b["type"] for b in answer("claude-fable-5").json()["content"]] == ["thinking", "text"]  # always on
    assert [b["type"] for b in answer("claude-opus-5").json()["content"]] == ["thinking", "text"]  # on
    assert [b["type"] for b in answer("claude-opus-5", thinking={"type": "disabled"}).json()["content"]] == ["text"]
    assert [b["type"] for b in answer("claude-opus-4-8").json()["content"]] == ["text"]  # off
    assert [b["type"] for b in answer("claude-haiku-5-5").json()["content"]] == ["text"]  # unknown: as asked


@pytest.mark.parametrize("model", table_models())
def test_forced_tool_use_follows_the_row_on_messages_and_count_tokens(model):
    row = row_for(model)
    for choice in ({"type": "any"}, {"type": "tool", "name": TOOL["name"]}):
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            fields = {"tools": [TOOL], "tool_choice": choice}
            request = body(model=model, max_tokens=MAX, **fields)
            if path.endswith("count_tokens"):
                request.pop("max_tokens")
            response = post(request, path=path)
            if row.forced_tool_choice is False:
                assert_error(response, 400, "invalid_request_error", row.forced_tool_rejection)
            else:
                assert response.status_code == 200, (model, choice, path, response.text)
    for choice in ({"type": "auto"}, {"type": "none"}):  # accepted on every model
        assert answer(model, tools=[TOOL], tool_choice=choice).status_code == 200, (model, choice)


def test_effort_above_high_needs_thinking_where_the_row_says_so():
    """Opus 5 takes thinking disabled at effort high or below; Opus 4.8 (thinking off by default) refuses xhigh
    without thinking (anthropics/claude-code#76689)."""
    for model in ("claude-opus-5", "claude-opus-4-8"):
        wording = row_for(model).effort_without_thinking[1].format(effort="xhigh")
        assert_error(answer(model, thinking={"type": "disabled"}, output_config={"effort": "xhigh"}), 400,
                     "invalid_request_error", wording)
        assert answer(model, thinking={"type": "disabled"}, output_config={"effort": "high"}).status_code == 200
        assert answer(model, thinking={"type": "adaptive"}, output_config={"effort": "max"}).status_code == 200
    assert_error(answer("claude-opus-4-8", output_config={"effort": "max"}), 400, "invalid_request_error",
                 "'max' is not supported when thinking is disabled")
    assert answer("claude-opus-5", output_config={"effort": "max"}).status_code == 200  # thinking on by default
