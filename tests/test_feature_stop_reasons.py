"""The stop reasons beyond the first four (refusal, pause_turn, model_context_window_exceeded) are accepted by the
validators: in the vocabulary, and a Message and a stream's message_delta carrying each validate against the
packaged schemas (anthropic.types.StopReason)."""

from __future__ import annotations

import pytest

from conformance.schemas import validate
from conformance.vocabulary import STOP_REASONS

NEW_STOP_REASONS = ("refusal", "pause_turn", "model_context_window_exceeded")
USAGE = {"input_tokens": 5, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def message(stop_reason: str) -> dict:
    return {"id": "msg_01", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-8",
            "stop_reason": stop_reason, "stop_sequence": None, "usage": USAGE}


@pytest.mark.parametrize("stop_reason", NEW_STOP_REASONS)
def test_in_the_vocabulary(stop_reason: str) -> None:
    assert stop_reason in STOP_REASONS


@pytest.mark.parametrize("stop_reason", NEW_STOP_REASONS)
def test_a_message_with_it_validates(stop_reason: str) -> None:
    assert validate("message", message(stop_reason)) == []


@pytest.mark.parametrize("stop_reason", NEW_STOP_REASONS)
def test_a_stream_with_it_validates(stop_reason: str) -> None:
    start = {"type": "message_start", "message": {**message(stop_reason), "stop_reason": None}}
    delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": 0}}
    for event in (start, delta, {"type": "message_stop"}):
        assert validate("stream-event", event) == [], event


def test_an_unknown_stop_reason_does_not_validate() -> None:
    assert validate("message", message("finished")) != []
