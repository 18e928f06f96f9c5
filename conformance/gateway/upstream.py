"""The recording upstream: the reference server's app, wrapped to record every request and response by nonce and to
answer as told by a probe's directive (a 429, a 529, a 500, a stream cut by an `error` event, a pause with pings,
refusal and pause_turn stop reasons, a very long stream); it also serves OpenAI Chat Completions (openai_upstream).

`with Upstream(port=0) as up:` serves on 127.0.0.1 from a daemon thread; up.base_url, up.recorder.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from conformance.gateway.records import Record, Recorder, correlate

SSE_TYPE = "text/event-stream; charset=utf-8"
RETRY_AFTER = "7"  # an unusual value, so that a client that gets it got the upstream's and not a gateway's default
PAUSE_SECONDS = 1.5  # a pause directive without a number
PINGS_PER_PAUSE = 3
LONG_WORDS = 3000  # words of a `long` stream (about a thousand deltas)


def ratelimit_headers(remaining: int) -> dict[str, str]:
    """The anthropic-ratelimit-* headers of an answer: the per-minute families the real API sends to an API key
    (docs: api/rate-limits), and the unified family it sends to a subscription, which Claude Code reads to tell a
    usage limit from a transient throttle (a 429 without it sends Claude Code into retries: BerriAI/litellm#37754).
    `remaining` 0 is the 429's (rejected)."""
    return {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:07Z",
            "anthropic-ratelimit-tokens-limit": "40000", "anthropic-ratelimit-tokens-remaining": str(remaining * 800),
            "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:07Z",
            "anthropic-ratelimit-unified-status": "allowed" if remaining else "rejected",
            "anthropic-ratelimit-unified-reset": "1767225607",
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-utilization": "0.02" if remaining else "1.0"}


# status -> (error.type, message); the wording of the real API's errors (Claude Code's recovery matches on it)
ERRORS = {"rate-limit": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
          "overloaded": (529, "overloaded_error", "Overloaded"),
          "server-error": (500, "api_error", "Internal server error")}


def directive_parts(directive: str) -> tuple[str, float | None]:
    """('pause', 1500.0) from 'pause-1500'; (name, None) without a number."""
    name, _, number = directive.rpartition("-")
    if name and number.isdigit():
        return name, float(number)
    return directive, None


class UpstreamApp:
    """ASGI: records, then answers by directive or hands the request to the reference server's app."""

    def __init__(self, recorder: Recorder | None = None, app: Any = None) -> None:
        from reference_server.app import create_app

        self.recorder = recorder or Recorder()
        self.app = app or create_app(None)  # any non-empty key: the gateway's own upstream key is not ours to know
        self.served = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_all(receive)
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        nonce, directive, found_by = correlate(body, headers)
        record = Record(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), headers,
                        body[: 4 * 1024 * 1024], time.monotonic(), nonce, directive, found_by)
        self.recorder.add(record)
        self.served += 1
        sent_body = False

        async def replay() -> dict[str, Any]:
            nonlocal sent_body
            if sent_body:
                return await receive()  # after the body: the client's disconnect, when it comes
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [] if record.openai else [(k.encode(), v.encode()) for k, v in ratelimit_headers(49).items()]
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                record.status = message["status"]
                record.response_headers = [(k.decode("latin-1").lower(), v.decode("latin-1"))
                                           for k, v in message["headers"]]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk and self.recorder.grew(record, len(chunk)):
                    record.chunks.append((time.monotonic(), chunk))
            await send(message)

        try:
            if record.openai:
                from conformance.gateway.openai_upstream import answer as openai_answer

                await openai_answer(body, directive, nonce, recording_send)
            elif directive and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/v1/messages"):
                await self._directed(body, directive, nonce, recording_send, replay, scope)
            else:
                await self.app(scope, replay, recording_send)
        finally:
            self.recorder.finish(record)

    async def _directed(self, raw: bytes, directive: str, nonce: str, send: Any, replay: Any, scope: Any) -> None:
        from reference_server.ids import request_id

        name, number = directive_parts(directive)
        rid = request_id()
        if name in ERRORS:
            status, kind, message = ERRORS[name]
            extra = {"retry-after": RETRY_AFTER} if status in (429, 529) else {}
            if status == 429:
                extra.update(ratelimit_headers(0))
            body = {"type": "error", "error": {"type": kind, "message": f"{message} (upstream {nonce})"},
                    "request_id": rid}
            await send_json(send, status, body, {"request-id": rid, **extra})
            return
        try:
            request = json.loads(raw)
        except ValueError:
            request = None
        if not isinstance(request, dict) or name not in ("stream-error", "pause", "refusal", "pause-turn", "long"):
            await self.app(scope, replay, send)  # nothing to direct (or not valid): the reference server answers
            return
        message = directed_message(request, name, rid)
        if request.get("stream") is not True:
            if name == "stream-error":  # no stream to cut: the error is the answer
                body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                        "request_id": rid}
                await send_json(send, 529, body, {"request-id": rid, "retry-after": RETRY_AFTER})
                return
            await send_json(send, 200, message, {"request-id": rid})
            return
        await send_stream(send, message, rid, name, (number or PAUSE_SECONDS * 1000) / 1000)


def directed_message(request: dict[str, Any], name: str, rid: str) -> dict[str, Any]:
    """The reference responder's Message for `request`, changed as the directive says."""
    from reference_server.responder import respond

    message = respond(request, seed=rid)
    if name == "refusal":
        return {**message, "stop_reason": "refusal", "stop_sequence": None}
    if name == "pause-turn":
        return {**message, "stop_reason": "pause_turn", "stop_sequence": None}
    if name == "long":
        words = " ".join(f"word{i}" for i in range(LONG_WORDS))
        usage = {**message.get("usage", {}), "output_tokens": LONG_WORDS}
        return {**message, "content": [{"type": "text", "text": words}], "usage": usage, "stop_reason": "end_turn"}
    return message


async def send_json(send: Any, status: int, body: Any, headers: dict[str, str]) -> None:
    content = json.dumps(body, separators=(",", ":")).encode()
    raw = [(k.encode(), v.encode()) for k, v in {"content-type": "application/json", **headers}.items()]
    raw.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


async def send_stream(send: Any, message: dict[str, Any], rid: str, name: str, pause: float) -> None:
    """The Message as a stream, one event per write; `stream-error` cuts it after the first delta with an `error`
    event, `pause` stops after the first delta for `pause` seconds with pings in between."""
    from reference_server.streaming import SseEvent, encode_event, message_events

    events = message_events(message)
    names = [item.name for item in events]
    first_delta = names.index("content_block_delta") + 1 if "content_block_delta" in names else min(2, len(events))
    if name == "stream-error":
        failure = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        events = [*events[:first_delta], SseEvent("error", failure)]
    headers = [(b"content-type", SSE_TYPE.encode()), (b"cache-control", b"no-cache"), (b"request-id", rid.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index, item in enumerate(events):
        await send({"type": "http.response.body", "body": encode_event(item).encode(), "more_body": True})
        if name == "pause" and index == first_delta - 1:
            for _ in range(PINGS_PER_PAUSE):
                await asyncio.sleep(pause / (PINGS_PER_PAUSE + 1))
                ping = encode_event(SseEvent("ping", {"type": "ping"})).encode()
                await send({"type": "http.response.body", "body": ping, "more_body": True})
            await asyncio.sleep(pause / (PINGS_PER_PAUSE + 1))
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _read_all(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class Upstream:
    """The recording upstream served on host:port (0: a free port) from a daemon thread; stop() on every exit."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", startup_timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.startup_timeout = startup_timeout
        self.recorder = Recorder()
        self.app = UpstreamApp(self.recorder)
        self.base_url = ""
        self._served: Any = None  # reference_server.server.InThread

    def start(self) -> Upstream:
        """Bind (OSError when the port is taken) and serve; returns once it accepts connections."""
        from reference_server.server import InThread

        self._served = InThread(self.app.app, self.app, what="recording upstream",
                                startup_timeout=self.startup_timeout).start(self.host, self.port)
        self.base_url, self.port = self._served.base_url, self._served.port
        self.recorder.port = self.port  # a finding's reproduce line names it (conformance.verdicts.reproduce_command)
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
