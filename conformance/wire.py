"""Raw HTTP exchanges with the target: send one request, record status, headers and raw body bytes."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from conformance.pacing import BUSY, Pacer
from conformance.settings import DEFAULT_ANTHROPIC_VERSION
from conformance.target import Target, display_url
from conformance.transport import Breaker, Slots, TransportLimit, client, describe

if TYPE_CHECKING:
    from conformance.sse import StreamValidator

KEEP_ON_ERROR = 64 * 1024  # bytes of a failed response kept for the failure message
CACHE_PARSED_UP_TO = 1024 * 1024  # bodies up to this size keep their parsed JSON / SSE; larger ones are parsed anew
KEPT_RESPONSES = 8  # a run keeps at most this many times --max-response-bytes of one target's bodies in memory
USER_AGENT = "anthropic-conformance"


@dataclass(frozen=True)
class WireRequest:
    """What the harness sends; `auth` names the credential style, never the credential."""

    method: str = "POST"
    path: str = "/v1/messages"
    body: Any = None  # a JSON value, or raw bytes sent as they are
    auth: str = "x-api-key"  # x-api-key | bearer | none | wrong-x-api-key | wrong-bearer
    version: str | None = DEFAULT_ANTHROPIC_VERSION  # anthropic-version; None sends none
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def json(self) -> dict | None:
        return self.body if isinstance(self.body, dict) else None

    @property
    def max_tokens(self) -> int:
        body = self.json or {}
        value = body.get("max_tokens")
        valid = isinstance(value, int) and not isinstance(value, bool) and value > 0 and body.get("model")
        return value if valid else 0


@dataclass
class Exchange:
    """One recorded request and its response (or the transport error that stopped it)."""

    name: str
    request: WireRequest
    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    error: str | None = None  # transport failure: timeout, refused, reset, oversized
    elapsed: float = 0.0
    truncated: bool = False
    chunk_times: list[float] = field(default_factory=list)  # seconds from the response headers to each body chunk
    attempts: list[tuple[int | None, dict[str, str]]] = field(default_factory=list)  # earlier busy answers
    gave_up: str = ""  # why a busy answer was not waited for and sent again
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def busy(self) -> bool:
        """The target was still rate-limited or overloaded after the bounded back-off (see conformance.pacing), or
        answered a stream with nothing but an overloaded_error event (the real API's overload answer to a stream)."""
        return self.status in BUSY or self.overloaded_stream

    @property
    def overloaded_stream(self) -> bool:
        """A 200 stream whose first event (pings aside) is an `error` of type overloaded_error: the API was busy
        before it began the message, which a client retries; nothing of the target's conformance to judge."""
        if self.status != 200 or self.error or "event-stream" not in self.content_type or b"overloaded_error" not in \
                self.body[:4096]:
            return False
        first = next((data for _, data in self.stream.events if (data or {}).get("type") != "ping"), None)
        error = (first or {}).get("error") if (first or {}).get("type") == "error" else None
        return isinstance(error, dict) and error.get("type") == "overloaded_error"

    @property
    def longest_silence(self) -> float:
        """The longest wait between two body chunks (or before the first), in seconds."""
        times = [0.0, *self.chunk_times]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("request-id")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        return self._parsed("json", _parse_json)

    @property
    def stream(self) -> StreamValidator:
        """The body decoded and validated as an SSE message stream: the validator, which holds the decoded events,
        the violations (each with its `where`), and what accumulated (message, text, stop reasons, usage)."""
        from conformance.sse import validate_stream

        return self._parsed("stream", lambda body: validate_stream(body, self.beta)[1])

    @property
    def beta(self) -> bool:
        """A beta request (?beta=true, or an anthropic-beta header): its answer is judged against the beta types."""
        return "beta=true" in self.request.path or any(name.lower() == "anthropic-beta"
                                                       for name, _ in self.request.headers)

    def _parsed(self, key: str, parse) -> Any:
        """Parsed once and kept for a small body; parsed again each time for a large one (a hostile target's 10 MB
        answers must not be held three times over, as bytes, text and objects, for the whole run)."""
        if key in self._cache:
            return self._cache[key]
        value = parse(self.body)
        if len(self.body) <= CACHE_PARSED_UP_TO:
            self._cache[key] = value
        return value

    @property
    def usage_output_tokens(self) -> int:
        body = self.json if isinstance(self.json, dict) else None
        if body is None and self.content_type.startswith("text/event-stream"):
            tokens = self.stream.output_tokens
            return tokens[-1] if tokens else 0
        usage = (body or {}).get("usage")
        value = usage.get("output_tokens") if isinstance(usage, dict) else None
        return value if isinstance(value, int) else 0

    def describe_request(self, target: Target) -> str:
        body = self.request.json or {}
        parts = [f"{self.request.method} {display_url(self.url)}"]
        if body.get("stream"):
            parts.append("stream=true")
        if "model" in body:
            parts.append(f"model={body['model']}")
        if isinstance(self.request.body, bytes):
            parts.append(f"raw body {len(self.request.body)} bytes")
        parts.append(f"auth={self.request.auth}" + ("" if self.request.auth == "none" else " (key redacted)"))
        parts.append(f"anthropic-version={self.request.version or 'none'}")
        for name, value in self.request.headers:
            parts.append(f"{name}: {value}")
        return target.redact("  ".join(parts))

    def describe_response(self, target: Target) -> str:
        if self.error:
            return target.redact(f"no response: {self.error}")
        parts = [str(self.status), self.content_type or "(no content-type)"]
        parts.append(f"request-id: {self.request_id}" if self.request_id else "no request-id")
        if self.content_type.startswith("text/event-stream"):
            parts.append(f"{len(self.stream.events)} events")
        else:
            snippet = self.body[:160].decode("utf-8", "replace").replace("\n", " ")
            parts.append(f"body {snippet}{'...' if len(self.body) > 160 else ''}")
        return target.redact("  ".join(parts))


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def auth_headers(target: Target, auth: str) -> dict[str, str]:
    key = target.api_key.reveal()
    wrong = "sk-ant-conformance-wrong-" + "0" * 24
    return {
        "x-api-key": {"x-api-key": key},
        "bearer": {"authorization": f"Bearer {key}"},
        "wrong-x-api-key": {"x-api-key": wrong},
        "wrong-bearer": {"authorization": f"Bearer {wrong}"},
        "x-api-key+other-bearer": {"x-api-key": key, "authorization": f"Bearer {wrong}"},
        "none": {},
    }[auth]


class Wire:
    """Sends WireRequests to one target, bounded in time and size by the target's limits; never follows redirects.

    `breaker`, `slots` and `pacer` are shared with the SDK's client of the same session, so a target that stops
    answering stops the SDK checks too, and the concurrency cap and the pacing count every request."""

    def __init__(self, target: Target, breaker: Breaker | None = None, slots: Slots | None = None,
                 pacer: Pacer | None = None) -> None:
        self.target = target
        self.breaker = breaker or Breaker(target.limits.max_failures)
        self.slots = slots or Slots(target.limits.max_concurrency)
        self.pacer = pacer or target_pacer(target)
        self._client = client(target.limits, self.breaker, self.slots, pacer=self.pacer,
                              headers={"user-agent": USER_AGENT})
        self.kept = 0  # bytes of response bodies held by this wire's exchanges

    def close(self) -> None:
        self._client.close()

    def send(self, name: str, request: WireRequest, timeout: float | None = None) -> Exchange:
        """Send the request; the transport waits for and sends again what the target answers busy (429, 503, 529)
        within the pacer's bounds, and the earlier busy answers are kept in `exchange.attempts`. `timeout` is the
        time left for all of it (a check's), and shortens each attempt. A stream answered with nothing but an
        overloaded_error event is sent again too, after 1 s then 2 s (as often as a busy status, within `timeout`)."""
        deadline = time.monotonic() + timeout if timeout else None
        exchange = self._send_once(name, request, timeout)
        for attempt in range(min(3, self.target.retries)):
            pause = min(2.0 ** attempt * self.target.retry_base, 8.0)
            left = deadline - time.monotonic() if deadline else None
            if not exchange.overloaded_stream or (left is not None and left <= pause + 1):
                break
            time.sleep(pause)
            earlier = exchange.attempts + [(exchange.status, {"overloaded": "stream error event"})]
            exchange = self._send_once(name, request, deadline - time.monotonic() if deadline else None)
            exchange.attempts = earlier + exchange.attempts
        return exchange

    def _send_once(self, name: str, request: WireRequest, timeout: float | None = None) -> Exchange:
        target = self.target
        url = target.url(request.path)
        headers = {name.lower(): value for name, value in target.headers}
        headers.update(auth_headers(target, request.auth))
        if request.version:
            headers["anthropic-version"] = request.version
        if isinstance(request.body, bytes):
            content = request.body
            headers["content-type"] = "application/json"
        elif request.body is not None:
            content = json.dumps(request.body).encode()
            headers["content-type"] = "application/json"
        else:
            content = None
        headers["accept"] = "application/json"  # as the SDK sends, also for streams
        headers.update({k.lower(): v for k, v in request.headers})
        exchange = Exchange(name=name, request=request, url=url)
        started = time.monotonic()
        total = min(timeout, target.limits.request_timeout) if timeout else target.limits.request_timeout
        extensions: dict[str, Any] = {"conformance_timeout": total}
        if timeout:
            extensions["conformance_until"] = started + timeout
        chunks: list[bytes] = []
        try:
            with self._client.stream(request.method, url, headers=headers, content=content,
                                     extensions=extensions) as response:
                exchange.status = response.status_code
                exchange.headers = {k.lower(): v for k, v in response.headers.items()}
                exchange.attempts = list(response.extensions.get("conformance_busy", []))
                exchange.gave_up = response.extensions.get("conformance_gave_up", "")
                headers_at = time.monotonic()
                for chunk in response.iter_bytes():
                    exchange.chunk_times.append(time.monotonic() - headers_at)
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            exchange.error = f"timed out ({describe(exc)}) after {time.monotonic() - started:.1f} s"
        except (httpx.HTTPError, TransportLimit) as exc:
            exchange.error = describe(exc) if not isinstance(exc, TransportLimit) else str(exc)
        body = b"".join(chunks)
        budget = KEPT_RESPONSES * target.limits.max_response_bytes
        if not exchange.error and self.kept + len(body) > budget:
            exchange.error = (f"the response ({len(body)} bytes) was read but not kept: this run already holds "
                              f"{self.kept} bytes of the target's answers, and keeps at most {budget} "
                              f"({KEPT_RESPONSES} x --max-response-bytes)")
        if exchange.error:
            exchange.truncated = exchange.status is not None
            body = body[:KEEP_ON_ERROR]  # what was read before the failure, for the record; never megabytes
            exchange.error = target.redact(exchange.error)
        exchange.body = body
        self.kept += len(body)
        exchange.elapsed = time.monotonic() - started
        return exchange


def target_pacer(target: Target, folder: str | None = None) -> Pacer:
    """The pacer of a target's requests: its --max-rps and --max-backoff, its retries and first back-off."""
    return Pacer(target.limits.max_rps, folder, budget=target.limits.max_backoff, retries=target.retries,
                 base=target.retry_base)
