"""The upstream's OpenAI Chat Completions endpoint, for translating gateways (Anthropic in, OpenAI out).

POST .../chat/completions answers as OpenAI documents (docs: api-reference/chat): a `chat.completion` object, or with
`stream: true` `chat.completion.chunk` events as `data:` lines ending with `data: [DONE]`; tools and tool_calls; errors
in OpenAI's envelope {"error": {"message", "type", "param", "code"}}.

Sources, checked against OpenAI's reference (platform.openai.com/docs/api-reference/chat/create, .../chat/object and
.../chat/streaming, as mirrored in the generated SDK docs of openai-ruby (rubydoc.info OpenAI::Models::Chat::
ChatCompletionChunk) and openai-struct (docs.rs, ChatCompletionStreamOptions, from OpenAI's openapi.yaml)):
- stream_options.include_usage: "an additional chunk will be streamed before the data: [DONE] message. The usage field
  on this chunk shows the token usage statistics for the entire request, and the choices field will always be an empty
  array. All other chunks will also include a usage field, but with a null value."
- a chunk: id, object "chat.completion.chunk", created, model, system_fingerprint, service_tier, choices[{index, delta,
  logprobs, finish_reason}], usage; each chunk has the same id and created.
- usage: prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details {cached_tokens, audio_tokens},
  completion_tokens_details {reasoning_tokens, audio_tokens, accepted_prediction_tokens, rejected_prediction_tokens}.
- a 429 (platform.openai.com/docs/guides/rate-limits, /docs/guides/error-codes): the envelope with type "requests"
  (or "tokens") and code "rate_limit_exceeded", "Rate limit reached for ... Please try again in 7s.", with
  retry-after and the x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers (reset as a duration, e.g. 7s).

The fake model is the reference server's responder, reached by turning the request into a Messages body.
Directives: rate-limit (429 with retry-after and x-ratelimit-* headers), overloaded (503), server-error (500),
stream-error (an error chunk mid-stream, no [DONE]), length (finish_reason length).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from conformance.gateway.upstream import RETRY_AFTER, send_json

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
ERRORS = {"rate-limit": (429, "requests", "rate_limit_exceeded",
                         "Rate limit reached for requests. Please try again in 7s."),
          "overloaded": (503, "server_error", None, "The server is overloaded or not ready yet."),
          "server-error": (500, "server_error", None,
                           "The server had an error while processing your request. Sorry about that!")}
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def messages_body(request: dict[str, Any]) -> dict[str, Any]:
    """A Messages API body with the same conversation, tools and limits (for the reference responder)."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for item in request.get("messages") or []:
        if not isinstance(item, dict):
            continue
        role, content = item.get("role"), item.get("content")
        text = content if isinstance(content, str) else "".join(
            part.get("text", "") for part in content or [] if isinstance(part, dict) and part.get("type") == "text")
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            messages.append({"role": "user", "content": [{"type": "text", "text": text or "."}]})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            for call in item.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                blocks.append({"type": "tool_use", "id": call.get("id") or call_id(), "name": function.get("name", ""),
                               "input": arguments if isinstance(arguments, dict) else {}})
            messages.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "."}]})
        elif role == "tool":
            result = {"type": "tool_result", "tool_use_id": item.get("tool_call_id", ""), "content": text}
            if messages and messages[-1]["role"] == "user" and messages[-1]["content"][0].get("type") == "tool_result":
                messages[-1]["content"].append(result)
            else:
                messages.append({"role": "user", "content": [result]})
    body: dict[str, Any] = {"model": "reference-model", "messages": messages,
                            "max_tokens": request.get("max_completion_tokens") or request.get("max_tokens") or 1024}
    if system:
        body["system"] = "\n".join(system)
    tools = [{"name": (t.get("function") or {}).get("name", ""),
              "input_schema": (t.get("function") or {}).get("parameters") or {"type": "object"}}
             for t in request.get("tools") or [] if isinstance(t, dict)]
    if tools:
        body["tools"] = tools
        choice = request.get("tool_choice")
        if choice == "required":
            body["tool_choice"] = {"type": "any"}
        elif choice == "none":
            body["tool_choice"] = {"type": "none"}
        elif isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
            body["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return body


def completion(request: dict[str, Any], directive: str) -> dict[str, Any]:
    """The chat.completion object the fake model answers with."""
    from reference_server.responder import respond

    message = respond(messages_body(request))
    text = "".join(block.get("text", "") for block in message["content"] if block.get("type") == "text")
    calls = [{"id": call_id(), "type": "function",
              "function": {"name": block["name"], "arguments": json.dumps(block["input"])}}
             for block in message["content"] if block.get("type") == "tool_use"]
    finish = "length" if directive == "length" else FINISH.get(message.get("stop_reason"), "stop")
    reply: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None, "annotations": []}
    if calls:
        reply["tool_calls"] = calls
    usage = message.get("usage") or {}
    prompt, output = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    return {"id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model") or "reference-model", "system_fingerprint": "fp_conformance",
            "service_tier": "default",
            "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}}}


def chunks(done: dict[str, Any], include_usage: bool, cut: bool) -> list[dict[str, Any]]:
    """The chat.completion.chunk objects of a completion (cut after the first content piece when `cut`)."""
    base = {key: done[key] for key in ("id", "created", "model", "service_tier", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    if include_usage:
        base["usage"] = None  # every chunk but the last carries usage: null (OpenAI: stream_options.include_usage)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    message = done["choices"][0]["message"]
    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    text = message.get("content") or ""
    for start in range(0, len(text), 12):
        out.append(chunk({"content": text[start : start + 12]}))
    for index, call in enumerate(message.get("tool_calls") or []):
        arguments = call["function"]["arguments"]
        out.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                          "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        for start in range(0, len(arguments), 10):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 10]}}]}))
    if cut:
        return out[:2]
    out.append(chunk({}, done["choices"][0]["finish_reason"]))
    if include_usage:
        out.append({**base, "choices": [], "usage": done["usage"]})
    return out


async def answer(raw: bytes, directive: str, nonce: str, send: Any) -> None:
    """Answer one POST .../chat/completions."""
    try:
        request = json.loads(raw)
    except ValueError:
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        body = error_body("We could not parse the JSON body of your request.", "invalid_request_error")
        await send_json(send, 400, body, {})
        return
    rid = "req_" + secrets.token_hex(16)
    if directive in ERRORS:
        status, kind, code, message = ERRORS[directive]
        headers = {"x-request-id": rid}
        if status == 429:
            headers.update({"retry-after": RETRY_AFTER, "x-ratelimit-limit-requests": "50",
                            "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s",
                            "x-ratelimit-limit-tokens": "40000", "x-ratelimit-remaining-tokens": "39000",
                            "x-ratelimit-reset-tokens": "1.5s"})
        await send_json(send, status, error_body(f"{message} (upstream {nonce})", kind, code), headers)
        return
    done = completion(request, directive)
    if request.get("stream") is not True:
        await send_json(send, 200, done, {"x-request-id": rid})
        return
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    cut = directive == "stream-error"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"x-request-id", rid.encode())]})
    for item in chunks(done, include_usage, cut):
        await send({"type": "http.response.body", "body": f"data: {json.dumps(item)}\n\n".encode(), "more_body": True})
    if cut:
        failure = error_body(f"The server had an error while processing your request. (upstream {nonce})",
                             "server_error")
        await send({"type": "http.response.body", "body": f"data: {json.dumps(failure)}\n\n".encode(),
                    "more_body": True})
    else:
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
