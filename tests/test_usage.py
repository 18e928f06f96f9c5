"""The usage checks' bounds: impossible numbers are caught, the documented real answers stay inside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.checks.usage import (
    MAX_CHARS_PER_TOKEN,
    SLACK,
    input_total,
    length,
    output_bounds,
    output_findings,
    reply_length,
)
from conformance.sse import validate_stream
from conformance.verdicts import Verdict

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"
# a 140-word reply, the length of the one a layer reported as 1 output token
PROSE = " ".join(["The quick brown fox jumps over the lazy dog, and then it rests in the warm sun."] * 9)[:900]


def text(value: str) -> list[dict]:
    return [{"type": "text", "text": value}]


def test_a_run_of_one_repeated_character_counts_once() -> None:
    assert length("ab") == 2
    assert length("a" + " " * 40 + "=" * 16 + "b") == 4
    assert length("line\n\n\n\nnext") == len("line\nnext")
    assert length("") == 0


def test_input_total_adds_the_cache_counts_and_needs_an_integer_input_count() -> None:
    assert input_total({"input_tokens": 3, "cache_read_input_tokens": 5, "cache_creation_input_tokens": None}) == 8
    assert input_total({"input_tokens": 0}) == 0
    assert input_total({"input_tokens": "3"}) is None
    assert input_total({"input_tokens": True}) is None
    assert input_total(None) is None


def test_the_reply_length_counts_text_thinking_and_tool_input_but_not_redacted_data() -> None:
    content = [
        {"type": "thinking", "thinking": "abc", "signature": "x" * 500},
        {"type": "redacted_thinking", "data": "y" * 500},
        {"type": "text", "text": "de"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"k": 1}},
    ]
    assert reply_length(content) == (3 + 2 + len('{"k":1}'), False)
    assert reply_length(text("hello")) == (len("helo"), True)
    assert reply_length(None) == (0, True)


def test_a_text_only_reply_is_bounded_on_both_sides() -> None:
    least, most, size = output_bounds(text(PROSE), "end_turn")
    assert len(PROSE.split()) >= 140
    assert least == size // MAX_CHARS_PER_TOKEN >= 50  # a real tokenizer makes about 180 of it
    assert most == len(PROSE.encode()) + SLACK


@pytest.mark.parametrize(("content", "stop_reason"), [
    ([{"type": "thinking", "thinking": "", "signature": "c2ln"}, *text("hi")], "end_turn"),  # omitted thinking
    ([{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}], "tool_use"),
    (text("hi"), "refusal"),
    (text("hi"), "pause_turn"),
    ([*text("hi"), {"type": "some_future_block"}], "end_turn"),
])
def test_there_is_no_upper_bound_where_hidden_tokens_are_possible(content: list, stop_reason: str) -> None:
    assert output_bounds(content, stop_reason)[1] is None


def test_an_empty_reply_may_cost_a_few_tokens_or_none() -> None:
    assert output_bounds([], "end_turn") == (0, SLACK, 0)
    assert output_findings(0, [], "end_turn", "w") == []
    assert output_findings(3, [], "end_turn", "w") == []


def test_one_output_token_for_a_140_word_reply_is_a_strict_failure_and_a_compat_warning() -> None:
    [finding] = output_findings(1, text(PROSE), "end_turn", "here", rule="USAGE-OUTPUT-BOUNDS")
    assert (finding.verdict, finding.compat_verdict) == (Verdict.FAIL, Verdict.WARN)
    assert finding.got == "1" and "at least 1 per 12 characters" in finding.expected


def test_zero_output_tokens_for_any_text_is_caught() -> None:
    [finding] = output_findings(0, text("ok"), "end_turn", "here")
    assert "> 0 for a non-empty reply" in finding.expected


def test_more_tokens_than_bytes_of_text_is_caught() -> None:
    reply = text("alpha beta gamma")
    assert output_findings(len("alpha beta gamma") + SLACK, reply, "end_turn", "w") == []
    [finding] = output_findings(len("alpha beta gamma") + SLACK + 1, reply, "end_turn", "w")
    assert finding.got == f"{len('alpha beta gamma') + SLACK + 1} for 16 bytes of text"


def test_a_plausible_count_passes_for_prose_nonce_words_and_non_latin_text() -> None:
    for reply, tokens in ((PROSE, 190), ("bafoke12 lomisu34 tarepa56", 12), ("こんにちは、元気ですか", 9), ("Hi", 1)):
        assert output_findings(tokens, text(reply), "end_turn", "w") == [], reply


def _documented() -> list[tuple[str, int, list, object]]:
    """(id, output_tokens, content, stop_reason) of every documented answer that carries usage."""
    found = []
    for path in sorted(TRANSCRIPTS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["kind"] == "message":
            body = doc["body"]
            found.append((doc["id"], body["usage"]["output_tokens"], body["content"], body["stop_reason"]))
        elif doc["kind"] == "stream":
            validator = validate_stream(doc["sse"].encode("utf-8"))[1]
            if validator.output_tokens:
                found.append((doc["id"], validator.output_tokens[-1], validator.message["content"],
                               validator.stop_reasons[-1]))
    return found


def test_the_documented_answers_of_the_real_api_are_within_the_bounds() -> None:
    documented = _documented()
    assert len(documented) >= 8
    for name, tokens, content, stop_reason in documented:
        assert output_findings(tokens, content, stop_reason, name) == [], name
