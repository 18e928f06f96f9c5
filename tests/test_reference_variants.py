"""Tests of the reference server's variants: legal framings of the same stream (line ends, comments, chunks...)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from refserver import (
    APP,
    CALL,
    TOOL,
    V2023,
    accumulate,
    assert_well_ordered,
    body,
    datas,
    fpost,
    parse_sse,
    stream,
    summary,
)

from reference_server import FAULTS

# ----- variants ---------------------------------------------------------------------------------------------

RICH = {"text": "Reply with exactly: one two three four five\n" + CALL, "tools": [TOOL], "max_tokens": 2048}
RICH_THINKING = {**RICH, "thinking": {"type": "enabled", "budget_tokens": 1024}}
VARIANT_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "crlf": lambda raw: b"\r\n\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"),
    "cr": lambda raw: b"\r\r" in raw and b"\n" not in raw,
    "sse-comments": lambda raw: raw.startswith(b": ") and raw.count(b"\n: ") > raw.count(b"\n\n"),
    "multiline-data": lambda raw: raw.count(b"data: ") > 3 * raw.count(b"\n\n"),
    "no-space-after-colon": lambda raw: b"event:message_start\ndata:{" in raw and b"data: " not in raw,
    "small-chunks": lambda raw: True,
    "pings-everywhere": lambda raw: (
        parse_sse(raw)[0][0] == "message_start" and {name for name, _ in parse_sse(raw)[1::2]} == {"ping"}
    ),
    "extra-fields": lambda raw: all("x_reference_extra" in d for d in datas(parse_sse(raw))),
    "several-text-blocks": lambda raw: (
        [b["type"] for b in accumulate(parse_sse(raw))["content"]][:3] == ["thinking", "text", "text"]
    ),
    "bom": lambda raw: raw.startswith("\ufeff".encode()),
}


@pytest.mark.parametrize("name", [n for n, f in FAULTS.items() if f.kind == "variant"])
def test_each_variant_keeps_the_stream_parseable_and_the_same(name: str) -> None:
    clean = accumulate(stream(**RICH_THINKING)[1])
    response = fpost(name, stream=True, **RICH_THINKING)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = parse_sse(response.content)
    assert_well_ordered(events)
    assert summary(accumulate(events)) == summary(clean)
    assert VARIANT_CHECKS[name](response.content)
    non_stream = fpost(name, **RICH_THINKING).json()
    assert summary(non_stream) == summary(clean)


def test_small_chunks_writes_the_stream_three_bytes_at_a_time() -> None:
    sent: list[bytes] = []

    async def go() -> None:
        payload = json.dumps(body(stream=True)).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/faults/small-chunks/v1/messages",
            "raw_path": b"/faults/small-chunks/v1/messages",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in V2023.items()],
        }
        messages = iter([{"type": "http.request", "body": payload, "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                sent.append(message["body"])

        await APP(scope, receive, send)

    asyncio.run(go())
    assert len(sent) > 100 and all(len(chunk) <= 3 for chunk in sent)
    assert_well_ordered(parse_sse(b"".join(sent)))


def test_extra_fields_and_several_text_blocks_show_in_non_stream_messages_too() -> None:
    extra = fpost("extra-fields").json()
    assert "x_reference_extra" in extra and "x_reference_extra" in extra["usage"]
    assert all("x_reference_extra" in block for block in extra["content"])
    split = fpost("several-text-blocks").json()["content"]
    assert [b["text"] for b in split] == ["alpha beta", " gamma delta"]
