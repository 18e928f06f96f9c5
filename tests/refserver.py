"""Shared helpers of the test_reference_* modules: requests to the reference server and readers of its answers.

Not a test module: the tests import it as `from refserver import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
import time
from typing import Any

import httpx
import uvicorn

from reference_server import create_app
from reference_server.server import base_url, bind

KEY = "k-test"
APP = create_app(api_key=KEY)
V2023 = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
V2026 = {"authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}
REQUEST_ID = re.compile(r"req_[0-9A-Za-z]{24}")
TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
CALL = 'Call the tool lookup with input {"q": "nonce-7"}'
USER = {"role": "user", "content": "hi"}
USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}
CACHED = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
DOCUMENT = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc text"}}
THINKING_TURN = {
    "role": "assistant",
    "content": [{"type": "thinking", "thinking": "t", "signature": "c2ln"}, {"type": "text", "text": "ok"}],
}
TWO_CALLS = CALL + '\nCall the tool lookup with input {"q": "second"}'
THINK = {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048}
USE_2 = {
    "role": "assistant",
    "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
        {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {}},
    ],
}
RESULTS_2 = {
    "role": "user",
    "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "first-result"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "second-result"},
        {"type": "text", "text": "Reply with exactly the tool result"},
    ],
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BIG = 32 * 1024 * 1024 + 10
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24"
)
TOOLS_24 = [
    {"name": f"tool_{n}", "description": f"Tool {n}.", "input_schema": {"type": "object", "properties": {}}}
    for n in range(24)
]
NO_PARALLEL = {"type": "auto", "disable_parallel_tool_use": True}
COUNT_BODY = {"model": "reference-model", "messages": [USER]}


# ----- requests to the app in process, and what they answer --------------------------------------------------


def call(method: str, path: str, *, json_body: Any = None, content: bytes | None = None, headers: Any = None):
    """One request to the app in process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference.test") as client:
            return await client.request(method, path, json=json_body, content=content, headers=headers)

    return asyncio.run(go())


def body(text: str = "Reply with exactly: alpha beta gamma delta", **fields: Any) -> dict[str, Any]:
    return {
        "model": "reference-model",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def post(
    payload: Any = None, path: str = "/v1/messages", headers: Any = None, **fields: Any
) -> httpx.Response:
    return call(
        "POST", path, json_body=body(**fields) if payload is None else payload, headers=headers or V2023
    )


def parse_sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """A small WHATWG event-stream decoder: (event name, JSON data or raw text) per event."""
    text = raw.decode("utf-8").removeprefix("\ufeff")
    events: list[tuple[str | None, Any]] = []
    name: str | None = None
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line:
            if data:
                joined = "\n".join(data)
                events.append((name, json.loads(joined) if joined.startswith("{") else joined))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def stream(
    path: str = "/v1/messages", headers: Any = None, **fields: Any
) -> tuple[httpx.Response, list[Any]]:
    response = post(path=path, headers=headers, stream=True, **fields)
    assert response.status_code == 200, response.text
    return response, parse_sse(response.content)


def datas(events: list[Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        data for _, data in events if isinstance(data, dict) and (kind is None or data.get("type") == kind)
    ]


def accumulate(events: list[Any]) -> dict[str, Any]:
    """The message a stream builds, with each block's text, thinking and parsed tool input."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    for data in datas(events):
        kind = data["type"]
        if kind == "message_start":
            message = dict(data["message"])
        elif kind == "content_block_start":
            blocks[data["index"]] = {**data["content_block"], "_json": ""}
        elif kind == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}
            if delta["type"] == "input_json_delta":
                block["_json"] += delta["partial_json"]
            else:
                key = field[delta["type"]]
                block[key] = block.get(key, "") + delta[key]
        elif kind == "message_delta":
            message.update(data["delta"], usage={**message.get("usage", {}), **data["usage"]})
    for block in blocks.values():
        raw = block.pop("_json")
        if block["type"] == "tool_use":
            block["input"] = json.loads(raw) if raw else {}
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def summary(message: dict[str, Any]) -> tuple[Any, ...]:
    """What a message says, independent of how its text is split into blocks."""
    content = message["content"]
    text = "".join(b["text"] for b in content if b["type"] == "text")
    thinking = [(b["thinking"], b["signature"]) for b in content if b["type"] == "thinking"]
    tools = [(b["name"], b["input"]) for b in content if b["type"] == "tool_use"]
    return text, thinking, tools, message["stop_reason"], message["stop_sequence"]


def assert_well_ordered(events: list[Any]) -> None:
    """Event order of contract 7.2, pings allowed anywhere."""
    kinds = [d for d in datas(events) if d["type"] != "ping"]
    assert all(name == data["type"] for name, data in events if isinstance(data, dict))
    assert kinds[0]["type"] == "message_start" and kinds[-1]["type"] == "message_stop"
    assert [d["type"] for d in kinds].count("message_start") == 1
    open_index, next_index = None, 0
    for data in kinds[1:-1]:
        if data["type"] == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif data["type"] in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index
            open_index = None if data["type"] == "content_block_stop" else open_index
        else:
            assert data["type"] == "message_delta" and open_index is None
            assert isinstance(data["usage"]["output_tokens"], int) and data["delta"]["stop_reason"]


def assert_error(response: httpx.Response, status: int, kind: str, message: str = "") -> bool:
    """Assert an Anthropic-shaped error with a request id (True, so checks can chain with `and`)."""
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"type", "error", "request_id"} and error["type"] == "error"
    assert error["error"]["type"] == kind and message in error["error"]["message"]
    assert (
        REQUEST_ID.fullmatch(response.headers["request-id"])
        and error["request_id"] == response.headers["request-id"]
    )
    assert response.headers["content-type"] == "application/json"
    return True


# ----- under a fault prefix, count_tokens and models, and what a message says --------------------------------


def fpost(fault: str, payload: Any = None, headers: Any = None, path: str = "/v1/messages", **fields: Any):
    return post(payload, path=f"/faults/{fault}{path}", headers=headers, **fields)


def fstream(fault: str, **fields: Any) -> list[Any]:
    response = fpost(fault, stream=True, **fields)
    assert response.status_code == 200
    return parse_sse(response.content)


def text_of(response: httpx.Response) -> str:
    return "".join(b["text"] for b in response.json()["content"] if b["type"] == "text")


def with_fields(**fields: Any) -> dict[str, Any]:
    """The default body with fields replaced (None removes one)."""
    return {k: v for k, v in {**body(), **fields}.items() if v is not None}


def fcount(fault: str, payload: Any, headers: Any = None) -> httpx.Response:
    prefix = f"/faults/{fault}" if fault else ""
    return call("POST", prefix + "/v1/messages/count_tokens", json_body=payload, headers=headers or V2023)


def fget(fault: str, path: str, headers: Any = None) -> httpx.Response:
    prefix = f"/faults/{fault}" if fault else ""
    return call("GET", prefix + path, headers=headers or V2023)


def counted(fault: str, **fields: Any) -> Any:
    payload = {
        "model": "reference-model",
        "messages": [{"role": "user", "content": "one two three"}],
        **fields,
    }
    response = fcount(fault, payload)
    assert response.status_code == 200, response.text
    return response.json()["input_tokens"]


def block_types(message: dict[str, Any]) -> list[str]:
    return [block["type"] for block in message["content"]]


def tool_ids(message: dict[str, Any]) -> list[str]:
    return [block["id"] for block in message["content"] if block["type"] == "tool_use"]


# ----- reading streams and messages --------------------------------------------------------------------------


def delta_types(events: list[Any]) -> set[str]:
    return {d["delta"]["type"] for d in datas(events, "content_block_delta")}


def start_usage(events: list[Any]) -> dict[str, Any]:
    return datas(events, "message_start")[0]["message"]["usage"]


def block_events(events: list[Any]) -> list[tuple[str, int]]:
    """(start|delta|stop, index) for each content block event, in order."""
    return [
        (d["type"].removeprefix("content_block_"), d["index"])
        for d in datas(events)
        if d["type"].startswith("content_block_")
    ]


def final_delta(events: list[Any]) -> dict[str, Any]:
    return datas(events, "message_delta")[-1]


# ----- a live server, for what only a socket shows (timing) --------------------------------------------------


@functools.cache
def live_base_url() -> str:
    """A live server for the app (key KEY) on a loopback port, run by uvicorn in a daemon thread; started once."""
    sock = bind()
    config = uvicorn.Config(create_app(api_key=KEY), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the live reference server did not start"
        time.sleep(0.01)
    return base_url(sock)


def live_stream(fault: str, **fields: Any) -> tuple[bytes, list[float]]:
    """One streamed request to the live server under `fault`: the raw body and when each of its chunks arrived."""
    url = f"{live_base_url()}/faults/{fault}/v1/messages"
    raw, arrivals = b"", []
    with httpx.stream(
        "POST", url, json=body(stream=True, **fields), headers=V2023, timeout=10, trust_env=False
    ) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_raw():
            arrivals.append(time.monotonic())
            raw += chunk
    return raw, arrivals
