"""Test gateways: a transparent pass-through proxy (ASGI + httpx) in front of an upstream, and faulty variants of it,
each with one fault a real gateway has; served on loopback from a thread."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

FAULTS = ("strip-beta", "drop-unknown-fields", "rewrap-errors", "buffer-streams", "drop-ratelimit-headers",
          "known-ratelimit-headers-only", "reorder-system", "swallow-pings", "drop-signature-only-thinking")
# the per-minute families a gateway that lists the headers it passes back knows (the unified family is dropped)
PER_MINUTE = tuple(f"anthropic-ratelimit-{kind}-{what}".encode() for kind in ("requests", "tokens", "input-tokens",
                                                                            "output-tokens")
                   for what in ("limit", "remaining", "reset"))
# the gateway answers count_tokens itself, without forwarding it (not faults of the gateway/* checks' FAULTS list:
# the endpoint is optional, so the first is unsupported and the second a warning)
COUNT_TOKENS_ANSWERS = ("count-tokens-unserved", "count-tokens-local")
HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding"}


class Gateway:
    """An ASGI gateway in front of `upstream` (base URL), with one `fault` ("" for none): the HTTP client it forwards
    with, and the request body read whole."""

    def __init__(self, upstream: str, fault: str = "") -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault
        self.client: httpx.AsyncClient | None = None

    async def body(self, receive: Any) -> bytes:
        """The request's body (and the client made on first use)."""
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=30.0)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                return body


def run_gateway_checks(upstream: Any, gateway: Gateway, model: str = "reference-model") -> dict:
    """Every gateway/* item against `gateway` served on loopback, the recording `upstream` attached: item -> result."""
    from conformance.engine import Session, all_checks, run_check
    from conformance.target import Secret, Target

    items = sorted(i for c in all_checks().values() if c.area == "gateway" for i in c.item_ids())
    with Served(gateway) as served:
        target = Target(base_url=served.base_url, api_key=Secret("sk-test-gateway-key"), model=model, retries=0)
        session = Session(target)
        session.upstream = upstream.recorder
        try:
            return {item: run_check(session, item) for item in items}
        finally:
            session.close()


class Proxy(Gateway):
    """ASGI: forwards every request to `upstream` (base URL) and streams the answer back, bytes as they come."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await self.body(receive)
        if self.fault in COUNT_TOKENS_ANSWERS and scope["path"].endswith("/count_tokens"):
            await self.answer_count_tokens(body, send)
            return
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in HOP]
        if self.fault == "strip-beta":
            headers = [(k, v) for k, v in headers if k.lower() != "anthropic-beta"]
        if self.fault in ("drop-unknown-fields", "reorder-system", "drop-signature-only-thinking", "drop-thinking") \
                and body:
            data = json.loads(body)
            if self.fault == "drop-thinking":  # thinking and output_config dropped from every request
                data.pop("thinking", None)
                data.pop("output_config", None)
            elif self.fault == "drop-signature-only-thinking":  # BerriAI/litellm#41361
                for message in data.get("messages", []):
                    if isinstance(message.get("content"), list):
                        message["content"] = [b for b in message["content"]
                                              if not (b.get("type") == "thinking" and not b.get("thinking"))]
            elif self.fault == "drop-unknown-fields":
                data = {k: v for k, v in data.items() if not k.startswith("conformance_")}
            elif isinstance(data.get("system"), list):
                data["system"] = list(reversed(data["system"]))
            body = json.dumps(data).encode()
        url = self.upstream + scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        response = await self.client.send(request, stream=True)
        try:
            out = [(k.encode(), v.encode()) for k, v in response.headers.items() if k.lower() not in HOP]
            if self.fault == "drop-ratelimit-headers":
                out = [(k, v) for k, v in out if not k.startswith(b"anthropic-ratelimit-")]
            if self.fault == "known-ratelimit-headers-only":
                out = [(k, v) for k, v in out if not k.startswith(b"anthropic-ratelimit-") or k in PER_MINUTE]
            if self.fault == "rewrap-errors" and response.status_code >= 400:
                await response.aread()
                content = json.dumps({"error": {"message": "Upstream request failed", "type": "proxy_error",
                                                "code": response.status_code}}).encode()
                out = [(k, v) for k, v in out if k != b"content-type"] + [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out})
                await send({"type": "http.response.body", "body": content})
                return
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            if self.fault == "buffer-streams":
                await send({"type": "http.response.body", "body": await response.aread()})
                return
            pending = b""
            async for chunk in response.aiter_raw():
                if self.fault == "swallow-pings":
                    pending += chunk
                    events, _, pending = pending.rpartition(b"\n\n")
                    kept = [e for e in events.split(b"\n\n") if e and b"event: ping" not in e]
                    chunk = b"".join(e + b"\n\n" for e in kept)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": pending, "more_body": False})
        finally:
            await response.aclose()

    async def answer_count_tokens(self, body: bytes, send: Any) -> None:
        """The gateway's own answer to count_tokens: a 404 (not served) or an estimate (len // 4), never forwarded."""
        if self.fault == "count-tokens-unserved":
            status, answer = 404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}
        else:
            status, answer = 200, {"input_tokens": max(1, len(body) // 4)}
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


class Served:
    """An ASGI app on a free loopback port, from a daemon thread: `with Served(app) as s: s.base_url`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Served:
        import uvicorn

        from reference_server.server import base_url, bind

        sock = bind("127.0.0.1", 0)
        self.base_url = base_url(sock)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
