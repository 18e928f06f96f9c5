"""The ASGI app: routing (any base-URL prefix, /faults/<spec>/), auth, version, validation, responses."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope, Send

from . import betas, features, models, per_model
from .answers import Answer, StreamAnswer
from .auth import check_key
from .errors import ApiError, error_body, internal, invalid_request, not_found, too_large
from .faults import UnknownFault, fault_set
from .hooks import FaultSet, RequestInfo
from .ids import request_id
from .responder import DEFAULT_SETTINGS, respond
from .rules import Outcome, RuleBook
from .streaming import COMPACT_JSON, PLAIN, Framing, SseEvent, body_chunks, message_events
from .tokens import input_tokens
from .validation import validate

VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_VERSION = "2023-06-01"  # what a version-optional layer assumes
MAX_BODY_BYTES = 32 * 1024 * 1024  # the real API's request size cap for /v1/messages; larger bodies get 413
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"
FAULT_PREFIX = "/faults/"
RETRY_AFTER_SECONDS = 1
# What the real API says of the limit a 429 hit (docs: rate-limits, response headers); the reset is a fixed instant,
# as the reference server keeps no clock of its own.
RATELIMIT_HEADERS = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
                     "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z"}
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]")
# An escaped backslash (skipped, so that `\\ud800` is not read as an escape), or a surrogate escape, paired or not.
_SURROGATE_ESCAPE = re.compile(r"\\\\|\\u[dD][89a-fA-F][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?")
ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/v1/messages$"), "messages", "POST"),
    (re.compile(r"/v1/messages/count_tokens$"), "count_tokens", "POST"),
    (re.compile(r"/v1/models$"), "models", "GET"),
    (re.compile(r"/v1/models/(?P<model_id>[^/]+)$"), "model", "GET"),
)


class _Reply(Exception):
    """Ends request handling early with an API error."""

    def __init__(self, error: ApiError, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = headers or {}


def create_app(api_key: str | None = None, rules: RuleBook | None = None) -> ReferenceApp:
    """The reference server app; with `api_key` None every non-empty key is accepted; `rules` script answers."""
    return ReferenceApp(api_key, rules)


class ReferenceApp:
    """A deterministic fake of the Anthropic Messages API, with switchable faults and scripted answers."""

    def __init__(self, api_key: str | None = None, rules: RuleBook | None = None) -> None:
        self.api_key = api_key
        self.rules = rules
        self.draining = False

    def drain(self) -> None:
        """Shutting down: streams in flight and to come send their remaining events at once, without pauses."""
        self.draining = True

    def _is_draining(self) -> bool:
        return self.draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":  # there is no WebSocket API: the handshake is answered as a plain GET
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})  # no denial responses: the server sends 403
                return
            response = await self._respond({**scope, "type": "http", "method": "GET"}, _no_body)
        elif scope["type"] == "http":
            response = await self._respond(scope, receive)
        else:
            return
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Answer:
        """The response to an HTTP request: always one, an API error (500 api_error at worst) if need be."""
        rid = request_id()
        faults = FaultSet()
        try:
            path = scope["path"]
            if path.startswith(FAULT_PREFIX):
                spec, _, rest = path[len(FAULT_PREFIX) :].partition("/")
                try:
                    faults = fault_set(spec)
                except UnknownFault as unknown:
                    raise _Reply(not_found(f"Unknown fault: {unknown.args[0]}")) from None
                make_id = faults.replacement("request_id")
                rid = make_id() if make_id else rid
                path = "/" + rest
            return await self._handle(Request(scope, receive), path, rid, faults)
        except _Reply as reply:
            return _error_response(reply.error, rid, faults, reply.headers)
        except Exception:  # the server always answers (500 api_error), never drops the connection
            return _error_response(internal(), rid, faults)

    async def _handle(self, request: Request, path: str, rid: str, faults: FaultSet) -> Answer:
        endpoint, method, params = _route(path)
        if endpoint is None and path == "/" and request.method == "HEAD":  # Claude Code's connectivity probe
            endpoint, method = "root", "HEAD"
        info = RequestInfo(request.method, endpoint or "", request.scope["query_string"].decode("latin-1"), request.headers)
        _raise(faults.first_error("route", info))
        if endpoint == "root":
            return Answer(b"", 200, faults.pipe("response_headers", {"request-id": rid}, "raw"))
        if endpoint is None:
            raise _Reply(not_found("Not Found"))
        if request.method != method:
            error = ApiError(405, "invalid_request_error", f"Method Not Allowed: {path} accepts {method}")
            raise _Reply(error, {"allow": method})
        auth = faults.auth(endpoint)
        _raise(auth(request.headers, self.api_key) if auth else check_key(request.headers, self.api_key))
        _raise(faults.first_error("headers", info))
        relaxed = faults.relaxed
        version = _version(request.headers, relaxed)
        # Betas shaped like name-YYYY-MM-DD are ignored, anything else is the real API's 400 (see betas.py).
        beta = faults.pipe("beta", request.headers.get("anthropic-beta"))  # as a layer forwards it
        _raise(betas.check(beta))
        if endpoint in ("models", "model"):
            settings = faults.pipe("models", models.DEFAULT_MODELS_SETTINGS)
            if endpoint == "models":
                return _json_response(_ok(models.page(dict(request.query_params), settings)), rid, faults)
            return _json_response(_ok(models.model(params["model_id"], settings)), rid, faults)
        limit = None if "body-size" in relaxed else MAX_BODY_BYTES
        body = await _json_body(request, faults, limit)
        body = faults.pipe("request", body, endpoint)
        _raise(faults.first_error("validate", body, endpoint))
        if endpoint == "messages" or "count-tokens-validation" not in relaxed:
            _raise(validate(body, endpoint, version, relaxed))
            _raise(features.validate(body, beta))
            if "unknown-model" not in relaxed:
                _raise(models.unknown_model(body.get("model")))
            _raise(per_model.check(body))  # the model's own rules (fixtures/models.json)
        if endpoint == "count_tokens":
            count = faults.pipe("count_tokens", input_tokens(body), body)
            return _json_response({"input_tokens": count}, rid, faults)
        outcome = self.rules.match(body) if self.rules else None  # the scripted-answer hook (rules.py)
        if outcome is not None:
            if outcome.latency > 0:
                await asyncio.sleep(outcome.latency)
            faults = FaultSet(faults.faults + tuple(f for f in outcome.faults.faults if f not in faults.faults))
            if outcome.error is not None:
                retry = {"retry-after": str(outcome.retry_after)} if outcome.retry_after is not None else None
                raise _Reply(outcome.error, retry)
        return _messages_response(per_model.served(body), rid, faults, self._is_draining, outcome)


def _route(path: str) -> tuple[str | None, str, dict[str, str]]:
    for pattern, endpoint, method in ROUTES:
        if match := pattern.search(path):
            return endpoint, method, match.groupdict()
    return None, "", {}


def _version(headers: Mapping[str, str], relaxed: frozenset[str]) -> str:
    version = headers.get("anthropic-version")
    if version is None:
        if "anthropic-version" in relaxed:
            return DEFAULT_VERSION
        raise _Reply(invalid_request("anthropic-version: header is required"))
    if version not in VERSIONS:
        raise _Reply(invalid_request(f"anthropic-version: unsupported version '{version}'"))
    return version


def _raise(error: ApiError | None) -> None:
    if error is not None:
        raise _Reply(error)


def _ok(result: dict[str, Any] | ApiError) -> dict[str, Any]:
    if isinstance(result, ApiError):
        raise _Reply(result)
    return result


async def _read_body(request: Request, limit: int | None) -> bytes:
    """The request body, read chunk by chunk: a body over `limit` bytes is a 413 without being read further."""
    if limit is not None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Reply(too_large(limit))
    first = await request.receive()  # most bodies come in one message: no stream machinery for them
    if first["type"] == "http.request" and not first.get("more_body", False):
        body = first.get("body", b"")
        if limit is not None and len(body) > limit:
            raise _Reply(too_large(limit))
        return body
    chunks: list[bytes] = [first.get("body", b"")] if first["type"] == "http.request" else []
    size = len(chunks[0]) if chunks else 0
    if limit is not None and size > limit:
        raise _Reply(too_large(limit))
    if first["type"] == "http.disconnect":
        raise ClientDisconnect()
    async for chunk in request.stream():
        size += len(chunk)
        if limit is not None and size > limit:
            raise _Reply(too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, faults: FaultSet, limit: int | None) -> dict[str, Any]:
    raw = await _read_body(request, limit)
    try:
        # Decoded strictly (json.loads would let UTF-8-encoded surrogates through), and, as the real API does,
        # a string with an unpaired \uD800-\uDFFF escape is invalid: such text cannot be encoded in a reply.
        text = raw.decode(json.detect_encoding(raw))
        body = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        _reject_lone_surrogates(text)
    except (ValueError, RecursionError) as problem:
        replacement = faults.replacement("bad_json")
        raise _Reply(
            replacement or invalid_request(f"The request body is not valid JSON: {problem}")
        ) from None
    if not isinstance(body, dict):
        raise _Reply(invalid_request("The request body must be a JSON object"))
    return body


def _reject_lone_surrogates(text: str) -> None:
    """Raise a JSONDecodeError at the first \\u escape of a surrogate that is not half of a pair."""
    if not _SURROGATE_HINT.search(text):
        return
    for match in _SURROGATE_ESCAPE.finditer(text):
        escape, low = match.group(), match.group(1)
        if escape == "\\\\" or (escape[3] in "89abAB" and low):
            continue
        problem = "no low surrogate in string" if escape[3] in "89abAB" else "no high surrogate in string"
        raise json.JSONDecodeError(problem, text, match.start())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def _messages_response(body: dict[str, Any], rid: str, faults: FaultSet, draining: Callable[[], bool],
                       outcome: Outcome | None = None) -> Answer:
    settings = faults.pipe("responder", DEFAULT_SETTINGS)
    message = respond(body, settings, seed=rid, plan=outcome.plan if outcome else None)
    message = faults.pipe("message", features.apply(body, message))
    mid_stream = outcome.mid_stream if outcome else None
    if body.get("stream") is not True:
        if mid_stream is not None:  # no stream to cut: the error is the answer
            raise _Reply(mid_stream)
        return _json_response(faults.pipe("json_message", message), rid, faults)
    events = faults.pipe("events", message_events(faults.pipe("stream_message", message)))
    if mid_stream is not None:
        events = _cut_with_error(events, mid_stream)
    framing = faults.pipe("framing", Framing())
    chunks = list(body_chunks(events, framing))
    if framing == PLAIN:  # nothing to show in how it is cut: the whole precomputed stream in one write
        chunks = [b"".join(chunks)]
    headers = {"request-id": rid, "content-type": SSE_TYPE, "cache-control": "no-cache"}
    return StreamAnswer(chunks, faults.pipe("response_headers", headers, "sse"), framing.pause_after_first, draining)


def _cut_with_error(events: list[SseEvent], error: ApiError) -> list[SseEvent]:
    """The stream up to its first delta (or its message_start), then an `error` event, as the API ends a failed one."""
    names = [item.name for item in events]
    end = names.index("content_block_delta") + 1 if "content_block_delta" in names else min(2, len(events))
    failure = {"type": "error", "error": {"type": error.type, "message": error.message}}
    return [*events[:end], SseEvent("error", failure)]


def _json_response(
    data: Any, rid: str, faults: FaultSet, status: int = 200, extra_headers: dict[str, str] | None = None
) -> Answer:
    content = COMPACT_JSON(data).encode("utf-8")
    headers = {"request-id": rid, "content-type": JSON_TYPE, **(extra_headers or {})}
    return Answer(content, status, faults.pipe("response_headers", headers, "json"))


def _error_response(
    error: ApiError, rid: str, faults: FaultSet, headers: dict[str, str] | None = None
) -> Answer:
    error = faults.pipe("error", error)
    if error.status in (429, 529):  # as the real API: tell the client when to retry
        headers = {"retry-after": str(RETRY_AFTER_SECONDS), **(headers or {})}
    if error.status == 429:  # and which limit was hit (Claude Code reads the anthropic-ratelimit-* family)
        headers = {**RATELIMIT_HEADERS, **(headers or {})}
    if isinstance(error.raw_body, str):
        raw_headers = {"request-id": rid, "content-type": error.media_type, **(headers or {})}
        raw_headers = faults.pipe("response_headers", raw_headers, "raw")
        return Answer(error.raw_body.encode("utf-8"), error.status, raw_headers)
    if error.raw_body is not None:
        body = error.raw_body
    else:
        body = faults.pipe("error_body", error_body(error, rid), error)
    return _json_response(body, rid, faults, error.status, headers)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
