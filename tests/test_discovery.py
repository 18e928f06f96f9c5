"""Before a run: when does a target's answer clearly say that it does not know the model (and when not)."""

from __future__ import annotations

import pytest

from conformance.discovery import listed_models, model_unknown, says_model_unknown


def anthropic_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(("status", "body", "model"), [
    (404, anthropic_error("not_found_error", "model: claude-sonet-4"), "claude-sonet-4"),  # the real API
    (404, anthropic_error("not_found_error", "Model not found"), "x-1"),
    (400, anthropic_error("invalid_request_error", "Invalid model name passed in model=claude-3.5"), "claude-3.5"),
    (400, {"error": {"message": "The model `gpt-x` does not exist", "type": "invalid_request_error",
                     "code": "model_not_found"}}, "gpt-x"),  # OpenAI's envelope
    (422, {"error": "unknown model: my-model"}, "my-model"),
    (404, {"error": {"message": "no deployment", "code": "model_not_found"}}, "m"),
])
def test_a_target_that_says_the_model_is_unknown_is_believed(status, body, model):
    said = says_model_unknown(status, body, model)
    assert said is not None and said.startswith(f"HTTP {status}")


@pytest.mark.parametrize(("status", "body", "model"), [
    (404, anthropic_error("not_found_error", "Not Found"), "claude-x"),  # a wrong path, not a wrong model
    (400, anthropic_error("invalid_request_error", "max_tokens: Field required"), "claude-x"),
    (400, anthropic_error("invalid_request_error", "unknown field: top_k"), "claude-x"),  # unknown, not the model
    (400, anthropic_error("invalid_request_error", "claude-x does not support thinking"), "claude-x"),  # named, known
    (400, anthropic_error("invalid_request_error", "model claude-x.5 not found"), "claude-x"),  # another model
    (401, anthropic_error("authentication_error", "unknown model claude-x"), "claude-x"),  # the key, first
    (429, anthropic_error("rate_limit_error", "model claude-x not found"), "claude-x"),
    (500, anthropic_error("api_error", "model claude-x not found"), "claude-x"),  # not a 4xx
    (200, {"type": "message"}, "claude-x"),
    (None, None, "claude-x"),  # no answer at all
    (404, "<html>404 model not found</html>", "claude-x"),  # not JSON: nothing clear
])
def test_any_other_answer_is_left_to_the_checks(status, body, model):
    assert says_model_unknown(status, body, model) is None


def test_the_quoted_answer_is_cut_and_on_one_line():
    said = says_model_unknown(404, anthropic_error("not_found_error", "model: m\n" + "x " * 200), "m")
    assert "\n" not in said and len(said) < 200 and said.endswith("…")


def test_listed_models_reads_the_first_ids_of_a_models_list():
    body = {"data": [{"id": f"m{i}"} for i in range(8)] + [{"name": "no id"}]}
    assert listed_models(body) == ["m0", "m1", "m2", "m3", "m4"]
    assert listed_models({"error": "x"}) == [] and listed_models(None) == []


def test_the_probe_against_the_reference_server(make_target):
    assert model_unknown(make_target(model="no-such-model")) == "HTTP 404 not_found_error: model: no-such-model"
    assert model_unknown(make_target(model="reference-model")) is None
    assert model_unknown(make_target("/faults/unknown-model-200", model="no-such-model")) is None
