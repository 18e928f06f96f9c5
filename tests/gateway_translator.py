"""A translating test gateway (Anthropic Messages in, OpenAI Chat Completions out), small and faithful, as LiteLLM's
default route, ant2oai, local-openai2anthropic and padwan-proxy are meant to be; and faulty variants of it, each with
one fault such translators have. ASGI; serve it with gateway_proxies.Served.

Faithful means: tool call ids kept both ways, finish_reason mapped (stop -> end_turn, tool_calls -> tool_use,
length -> max_tokens), usage mapped (prompt_tokens -> input_tokens, completion_tokens -> output_tokens, streamed usage
asked for with stream_options.include_usage), an upstream error mapped by status to the Anthropic envelope with the
upstream's retry-after kept, and an upstream error chunk mid-stream mapped to an Anthropic `error` event that ends the
stream (no `data: [DONE]`).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
from gateway_proxies import Gateway

TRANSLATOR_FAULTS = ("wrong-finish", "invent-tool-ids", "drop-usage", "no-stream-usage", "rate-limit-as-api-error",
                     "drop-retry-after", "done-after-stream-error", "stream-error-as-text")
# Not faults: ways of translating that the checks must not blame (they cannot observe the fault they look for).
TRANSLATOR_VARIANTS = ("buffered-upstream",  # asks the upstream for one JSON answer, streams it to its client
                       "responses-api")  # speaks OpenAI's Responses API (/v1/responses), which the upstream lacks
STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error",
               529: "overloaded_error"}
SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def openai_request(body: dict[str, Any], fault: str) -> dict[str, Any]:
    """The Chat Completions request for a Messages request."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": text_of(system)})
    for item in body.get("messages") or []:
        role, content = item.get("role"), item.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        if role == "assistant":
            reply: dict[str, Any] = {"role": "assistant", "content": text_of(blocks) or None}
            calls = [{"id": b["id"], "type": "function",
                      "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
                     for b in blocks if b.get("type") == "tool_use"]
            if calls:
                reply["tool_calls"] = calls
            messages.append(reply)
            continue
        for block in blocks:
            if block.get("type") == "tool_result":
                messages.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                                 "content": text_of(block.get("content"))})
        text = text_of(blocks)
        if text:
            messages.append({"role": "user", "content": text})
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages, "max_tokens": body.get("max_tokens")}
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if body.get("tools"):
        out["tools"] = [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                                          "parameters": t.get("input_schema") or {}}}
                        for t in body["tools"]]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif choice.get("type") in ("any", "none", "auto"):
        out["tool_choice"] = {"any": "required"}.get(choice["type"], choice["type"])
    if body.get("stream") is True and fault != "buffered-upstream":
        out["stream"] = True
        if fault != "no-stream-usage":
            out["stream_options"] = {"include_usage": True}
    return out


def stop_reason(finish: str | None, fault: str) -> str:
    if fault == "wrong-finish" and finish == "length":
        return "end_turn"
    return STOP_REASONS.get(finish or "stop", "end_turn")


def usage_of(usage: dict[str, Any] | None, fault: str) -> dict[str, int]:
    usage = usage or {}
    if fault == "drop-usage":
        return {"input_tokens": 0, "output_tokens": 0}
    return {"input_tokens": usage.get("prompt_tokens") or 0, "output_tokens": usage.get("completion_tokens") or 0}


def tool_id(call_id: str, fault: str) -> str:
    return "toolu_" + secrets.token_hex(12) if fault == "invent-tool-ids" else call_id


def message_of(done: dict[str, Any], model: str, fault: str) -> dict[str, Any]:
    choice = (done.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if reply.get("content"):
        content.append({"type": "text", "text": reply["content"]})
    for call in reply.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": tool_id(call.get("id", ""), fault), "name": function.get("name"),
                        "input": json.loads(function.get("arguments") or "{}")})
    return {"id": "msg_" + secrets.token_hex(12), "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason(choice.get("finish_reason"), fault), "stop_sequence": None,
            "usage": usage_of(done.get("usage"), fault)}


def error_of(status: int, body: Any, fault: str) -> tuple[int, dict[str, Any]]:
    """The Anthropic status and envelope for an upstream error answer (OpenAI's envelope, message kept)."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if fault == "rate-limit-as-api-error" and status == 429:
        status = 500
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return status, {"type": "error", "error": {"type": kind, "message": message or f"upstream HTTP {status}"}}


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class Translator(Gateway):
    """ASGI: POST /v1/messages -> POST {upstream}/v1/chat/completions, and the answer back in Anthropic form."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await self.body(receive)
        if scope["method"] != "POST" or scope["path"].rstrip("/") != "/v1/messages":
            await self.json(send, 404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            await self.json(send, 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                   "message": "invalid JSON"}})
            return
        translated = openai_request(body, self.fault)
        path = "/v1/chat/completions"
        if self.fault == "responses-api":
            path = "/v1/responses"
            translated = {"model": translated["model"], "input": translated["messages"],
                          "max_output_tokens": translated["max_tokens"]}
        request = self.client.build_request("POST", self.upstream + path, json=translated,
                                            headers={"authorization": "Bearer sk-upstream-test"})
        response = await self.client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                status, envelope = error_of(response.status_code, answer, self.fault)
                extra = {}
                if response.headers.get("retry-after") and self.fault != "drop-retry-after":
                    extra["retry-after"] = response.headers["retry-after"]
                await self.json(send, status, envelope, extra)
            elif body.get("stream") is True and self.fault == "buffered-upstream":
                await response.aread()
                await self.replay(message_of(response.json(), body.get("model") or "", self.fault), send)
            elif body.get("stream") is True:
                await self.stream(response, body.get("model") or "", send)
            else:
                await response.aread()
                await self.json(send, 200, message_of(response.json(), body.get("model") or "", self.fault))
        finally:
            await response.aclose()

    async def json(self, send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        content = json.dumps(body).encode()
        raw = [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})

    async def replay(self, message: dict[str, Any], send: Any) -> None:
        """A whole message as a stream."""
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        frames = [event("message_start", {"type": "message_start",
                                          "message": {**message, "content": [], "stop_reason": None,
                                                      "usage": {**message["usage"], "output_tokens": 0}}})]
        for index, block in enumerate(message["content"]):
            empty = {**block, "input": {}} if block["type"] == "tool_use" else {**block, "text": ""}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])} \
                if block["type"] == "tool_use" else {"type": "text_delta", "text": block["text"]}
            frames += [event("content_block_start", {"type": "content_block_start", "index": index,
                                                     "content_block": empty}),
                       event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                       event("content_block_stop", {"type": "content_block_stop", "index": index})]
        frames += [event("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                                              "stop_sequence": None},
                                           "usage": message["usage"]}),
                   event("message_stop", {"type": "message_stop"})]
        await send({"type": "http.response.body", "body": b"".join(frames)})

    async def stream(self, response: httpx.Response, model: str, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE})

        async def out(name: str, data: dict[str, Any]) -> None:
            await send({"type": "http.response.body", "body": event(name, data), "more_body": True})

        await out("message_start", {"type": "message_start", "message": {
            "id": "msg_" + secrets.token_hex(12), "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})
        index, open_kind, finish, usage = -1, None, None, None
        tools: dict[int, int] = {}  # the upstream's tool call index -> our block index

        async def close() -> None:
            nonlocal open_kind
            if open_kind is not None:
                await out("content_block_stop", {"type": "content_block_stop", "index": index})
                open_kind = None

        async def ended() -> None:
            await close()
            await out("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": stop_reason(finish, self.fault), "stop_sequence": None},
                                        "usage": usage_of(usage, self.fault)})
            await out("message_stop", {"type": "message_stop"})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        pending = ""
        async for piece in response.aiter_text():
            pending += piece
            *frames, pending = pending.split("\n\n")
            for frame in frames:
                data = "\n".join(line[5:].strip() for line in frame.splitlines() if line.startswith("data:"))
                if not data:
                    continue
                if data == "[DONE]":
                    await ended()
                    return
                chunk = json.loads(data)
                if "error" in chunk:  # OpenAI's error envelope mid-stream
                    failure = chunk.get("error") or {}
                    message = failure.get("message") or "upstream stream error"
                    if self.fault == "stream-error-as-text":
                        await close()
                        index += 1
                        await out("content_block_start", {"type": "content_block_start", "index": index,
                                                          "content_block": {"type": "text", "text": ""}})
                        await out("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": {"type": "text_delta", "text": message}})
                        open_kind = "text"
                        await ended()
                        return
                    await out("error", {"type": "error", "error": {"type": "api_error", "message": message}})
                    tail = b"data: [DONE]\n\n" if self.fault == "done-after-stream-error" else b""
                    await send({"type": "http.response.body", "body": tail, "more_body": False})
                    return
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        if open_kind != "text":
                            await close()
                            index += 1
                            open_kind = "text"
                            await out("content_block_start", {"type": "content_block_start", "index": index,
                                                              "content_block": {"type": "text", "text": ""}})
                        await out("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": {"type": "text_delta", "text": delta["content"]}})
                    for call in delta.get("tool_calls") or []:
                        if call.get("id"):
                            await close()
                            index += 1
                            open_kind = "tool_use"
                            tools[call.get("index", 0)] = index
                            block = {"type": "tool_use", "id": tool_id(call["id"], self.fault),
                                     "name": (call.get("function") or {}).get("name"), "input": {}}
                            await out("content_block_start", {"type": "content_block_start", "index": index,
                                                              "content_block": block})
                        arguments = (call.get("function") or {}).get("arguments")
                        if arguments:
                            await out("content_block_delta", {"type": "content_block_delta",
                                                              "index": tools.get(call.get("index", 0), index),
                                                              "delta": {"type": "input_json_delta",
                                                                        "partial_json": arguments}})
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        await ended()  # the upstream ended without [DONE]
