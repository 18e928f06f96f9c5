"""Property-based fuzzing of the reference server: no 5xx, no hang, Anthropic error envelopes, 413 over the cap."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loadgen import TIMEOUT, RawResponse, exchange, read_response, request_bytes, stream_problems, thread_server
from refserver import (
    APP,
    CACHED,
    CALL,
    CLAUDE_CODE_BETAS,
    COUNT_BODY,
    DOCUMENT,
    IMAGE,
    KEY,
    REQUEST_ID,
    RESULT,
    THINK,
    THINKING_TURN,
    TOOL,
    USE,
    USER,
    V2023,
    body,
    live_base_url,
)

from conformance.schemas import validate as schema_errors
from reference_server import FAULTS
from reference_server.app import MAX_BODY_BYTES
from reference_server.errors import ERROR_TYPES

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
CRASHING_FAULTS = frozenset(
    {
        "crash-on-missing-messages",
        "crash-on-messages-object",
        "invalid-json-500",
        "unknown-beta-500",
        "prefill-500",
        "images-500",
        "documents-500",
    }
)  # the faults whose very point is a 5xx
ENDPOINTS = {"/v1/messages": "POST", "/v1/messages/count_tokens": "POST", "/v1/models": "GET",
             "/v1/models/reference-model": "GET"}
URL_SAFE = "/?&=%+;:@!$'()*,~"  # what a path keeps as it is when it is put in a URL
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


# ----- the app in process, and what every answer must be -------------------------------------------------------


class InProcess:
    """The app over httpx.ASGITransport on one event loop kept for the module; every request is bounded in time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://reference.test")

    def request(self, method: str, path: str, headers: Any = None, content: bytes = b"") -> httpx.Response:
        """One request; an exception the app lets escape fails the test (raise_app_exceptions).

        The path is sent as written, percent-encoding only what cannot go in a URL (existing % escapes are kept).
        """
        url = self.client.base_url.copy_with(raw_path=quote(path, safe=URL_SAFE).encode("ascii"))
        call = self.client.request(method, url, headers=headers, content=content)
        return self.loop.run_until_complete(asyncio.wait_for(call, TIMEOUT))

    def asgi(self, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str], bytes]:
        """One request as a bare ASGI call, for what an HTTP client refuses to send (e.g. paths over 64 kB)."""
        sent: list[dict[str, Any]] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
                 "raw_path": quote(path, safe=URL_SAFE).encode("ascii"), "query_string": b"", "headers": headers}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(asyncio.wait_for(APP(scope, receive, send), TIMEOUT))
        start = sent[0]
        response_headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
        return start["status"], response_headers, b"".join(message.get("body", b"") for message in sent[1:])

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def app() -> Iterator[InProcess]:
    client = InProcess()
    yield client
    client.close()


def encode(value: Any) -> bytes:
    """JSON as a client sends it: UTF-8, or ASCII escapes when the value holds lone surrogates."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


def assert_envelope(status: int, headers: Any, content: bytes) -> None:
    """The Anthropic error envelope of errors.py, valid under schemas/error.schema.json, with the request id."""
    assert headers["content-type"] == "application/json", (status, headers, content[:300])
    error = json.loads(content)
    assert schema_errors("error", error) == [], error
    assert set(error) == {"type", "error", "request_id"} and error["type"] == "error", error
    assert set(error["error"]) == {"type", "message"} and isinstance(error["error"]["message"], str), error
    assert error["error"]["type"] == ERROR_TYPES[status], (status, error)
    assert error["request_id"] == headers["request-id"], error


def assert_sound(status: int, headers: Any, content: bytes, method: str = "POST") -> None:
    """No 5xx, a request-id, every 4xx an Anthropic envelope (413: request_too_large), every 200 stream valid."""
    assert status < 500, (status, content[:500])
    assert REQUEST_ID.fullmatch(headers.get("request-id", "")), (status, dict(headers))
    if method == "HEAD":
        return
    if status >= 400:
        assert_envelope(status, headers, content)
        if status == 405:
            assert headers["allow"] in ("GET", "POST")
    elif headers["content-type"].startswith("text/event-stream"):
        assert stream_problems(content) == [], content[:500]
    else:
        assert isinstance(json.loads(content), dict)


def sound(response: httpx.Response, method: str = "POST") -> httpx.Response:
    assert_sound(response.status_code, response.headers, response.content, method)
    return response


# ----- strategies ------------------------------------------------------------------------------------------------

TRICKY_STRINGS = ["", " ", "\x00", "\u2028", "🎉", "\ud800", "a\udfff", "\ufeff", "x" * 5000, "reference-model",
                  "user", "assistant", "system", "tool", "text", "image", "tool_use", "tool_result", "thinking",
                  "enabled", "disabled", "auto", "any", "none", "ephemeral", "base64", "toolu_1", "lookup",
                  "Reply with exactly: " + "é" * 40, CALL, 'Call the tool lookup with input ' + "[" * 990,
                  "Reply with exactly the tool result"]
TRICKY = st.sampled_from(
    [*TRICKY_STRINGS, -1, 0, 1, 1023, 1024, 2**31, 2**64, -(2**63), 10**300, 1e308, -0.0, 0.5, True, False, None,
     [], {}, [None], [[]], {"type": None}, {"type": "text"}, {"type": "text", "text": ""}, {"type": "ephemeral"},
     functools.reduce(lambda inner, _: [inner], range(960), 1),  # nearly as deep as json.loads allows
     functools.reduce(lambda inner, _: {"a": inner}, range(960), {})]
).map(copy.deepcopy)  # fresh containers: mutations must not change the constants
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)  # lone surrogates too
SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12
)
VALUES = TRICKY | TEXT | JSON
FIELDS = st.sampled_from(
    ["model", "max_tokens", "messages", "system", "stream", "tools", "tool_choice", "stop_sequences", "metadata",
     "thinking", "temperature", "top_p", "top_k", "service_tier", "container", "mcp_servers", "context_management",
     "type", "role", "content", "text", "source", "id", "name", "input", "tool_use_id", "is_error", "cache_control",
     "signature", "budget_tokens", "input_schema", "disable_parallel_tool_use", "citations"]
) | st.text(max_size=8)
BASES = [
    body(),
    body(stream=True),
    body(system="Reply with exactly: from system"),
    body(system=[{"type": "text", "text": "Reply with exactly: blocks"}, CACHED], stream=True),
    body(CALL, tools=[TOOL], tool_choice={"type": "auto"}),
    body(CALL, tools=[TOOL], stream=True, tool_choice={"type": "tool", "name": "lookup"}),
    {**body(), "messages": [USER, USE, RESULT], "tools": [TOOL]},
    {**body(), "messages": [USER, THINKING_TURN, USER], **THINK},
    {**body(stream=True), **THINK},
    {**body(), "messages": [{"role": "user", "content": [IMAGE, DOCUMENT, {"type": "text", "text": "hi"}]}]},
    body(stop_sequences=["gamma"], metadata={"user_id": "u-1"}, temperature=0.5),
    {**body(), "messages": [USER, {"role": "assistant", "content": "prefill"}]},
    {"model": "reference-model", "messages": [USER], "system": "counted"},  # a count_tokens body
]


def _spots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree, and (container, None) for an insertion into each container."""
    if isinstance(node, dict):
        yield node, None
        for key, value in node.items():
            yield node, key
            yield from _spots(value)
    elif isinstance(node, list):
        yield node, None
        for index, value in enumerate(node):
            yield node, index
            yield from _spots(value)


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request with one to three mutations: a value replaced, removed, inserted, wrapped or duplicated."""
    request = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        spots = list(_spots(request))
        target = draw(st.sampled_from(["anywhere", "top-level field", "some text"]))
        if target == "top-level field":
            request[draw(FIELDS)] = draw(VALUES)
            continue
        texts = [(container, key) for container, key in spots if key is not None and isinstance(container[key], str)]
        if target == "some text" and texts:
            container, key = draw(st.sampled_from(texts))
            extended = st.builds(str.__add__, st.just(container[key]), TEXT)  # e.g. a directive's text, changed
            container[key] = draw(TEXT | st.sampled_from(TRICKY_STRINGS) | extended)
            continue
        container, key = draw(st.sampled_from(spots))
        operation = draw(st.sampled_from(["replace", "remove", "wrap", "duplicate"] if key is not None else ["insert"]))
        if operation == "insert" and isinstance(container, dict):
            container[draw(FIELDS)] = draw(VALUES)
        elif operation == "insert":
            container.insert(draw(st.integers(0, len(container))), draw(VALUES))
        elif operation == "replace":
            container[key] = draw(VALUES)
        elif operation == "remove":
            del container[key]
        elif operation == "wrap":
            container[key] = draw(st.sampled_from([[container[key]], {"value": container[key]}]))
        elif isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        else:
            container[key + "_"] = copy.deepcopy(container[key]) if isinstance(key, str) else None
    return request


def _mangled(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    for at, piece in cuts:
        at %= len(data) + 1
        data = data[:at] + piece + data[at + 1 :]
    return data


RAW_BODIES = (
    st.binary(max_size=400)
    | st.builds(_mangled, st.sampled_from([encode(base) for base in BASES]),
                st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=3)), min_size=1, max_size=4))
    | st.sampled_from([b"", b"null", b"[]", b"0", b'"x"', b"{", b"{}" * 1000, b"[" * 100000, b'{"a":' * 50000,
                       b"NaN", b'{"max_tokens": Infinity}', b'{"max_tokens": 1e999}', b"1" * 5000,
                       b'{"model": "\\ud800"}', b'{"model": "\xed\xa0\x80"}', b"\xff\xfe{\x00}\x00",
                       b"\xef\xbb\xbf{}", "{}".encode("utf-16"), b'{"a": "\\u00"}'])
)
TOKENS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=12)
ODD = st.sampled_from(["é", "🎉", "\u202e", "\x7f", " ", "\t", "x" * 70000, "\u00ff" * 3, "%00", "null"])
ODD_VALUES = (ODD | st.text(max_size=30)).map(lambda text: text.encode("utf-8")) | st.binary(max_size=30)

# (value, good): good True when the value is what the server requires, False when it must be refused
KEYS = st.sampled_from([(KEY.encode(), True), (b" " + KEY.encode() + b" ", True), (b"", None), (b"wrong", False),
                        (KEY.encode() + b"x", False), (KEY.encode().upper(), False)]) | ODD_VALUES.map(lambda v: (v, False))
BEARERS = st.sampled_from([(b"Bearer " + KEY.encode(), True), (b"bearer  " + KEY.encode(), True),
                           (b"Bearer", None), (b"Basic " + KEY.encode(), None), (KEY.encode(), None),
                           (b"Bearer wrong", False)]) | ODD_VALUES.map(lambda v: (b"Bearer x" + v, False))
VERSIONS = st.sampled_from([(b"2023-06-01", True), (b"2026-10-21", True), (b"2023-01-01", False),
                            (b" 2023-06-01", False), (b"", False)]) | ODD_VALUES.map(lambda v: (b"v" + v, False))
BETAS = st.sampled_from([(b"", True), (b"prompt-caching-2024-07-31", True), (CLAUDE_CODE_BETAS.encode(), True),
                         (b" , ,", True), (b"tools", False), (b"prompt-caching", False)]) | ODD_VALUES.map(
    lambda v: (b"x" + v + b"y", False))
CONTENT_TYPES = st.sampled_from([b"application/json", b"text/plain", b"application/x-www-form-urlencoded",
                                 b"multipart/form-data; boundary=x", b"application/json; charset=latin-1", b""])
SEGMENTS = st.sampled_from(["v1", "messages", "models", "count_tokens", "faults", "..", ".", "%2F", "%00", "%ff",
                            "%", "%%", "+", ";", "reference-model", "a" * 3000, "é", "🎉", "%E2%80%AE", "~"]) | \
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs")), max_size=10)
JUNK_SPECS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs")), max_size=40).filter(
    lambda spec: "/" not in spec and "?" not in spec and "#" not in spec and "%" not in spec
    and any(name and name not in FAULTS for name in spec.split("+"))
)


# ----- bodies ------------------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(value=JSON | TRICKY, endpoint=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]))
def test_any_json_body_gets_an_answer_that_is_a_success_or_an_anthropic_error(app: InProcess, value: Any,
                                                                               endpoint: str) -> None:
    response = sound(app.request("POST", endpoint, V2023, encode(value)))
    assert response.status_code in (200, 400, 404)
    if not isinstance(value, dict):
        assert response.status_code == 400


@settings(FUZZ, max_examples=400)
@given(raw=RAW_BODIES, endpoint=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]))
def test_any_bytes_as_a_body_get_a_success_or_an_anthropic_error(app: InProcess, raw: bytes, endpoint: str) -> None:
    response = sound(app.request("POST", endpoint, V2023, raw))
    assert response.status_code in (200, 400, 404)


@settings(FUZZ, max_examples=1000)
@given(request=near_valid(), endpoint=st.sampled_from(["/v1/messages", "/v1/messages", "/v1/messages/count_tokens"]))
def test_a_near_valid_request_gets_a_valid_message_or_stream_or_an_anthropic_error(
    app: InProcess, request: dict[str, Any], endpoint: str
) -> None:
    response = sound(app.request("POST", endpoint, V2023, encode(request)))
    assert response.status_code in (200, 400, 404)


def test_a_lone_surrogate_escape_is_a_400_as_the_real_api_answers_and_a_paired_one_is_fine(app: InProcess) -> None:
    lone = b'{"model": "reference-model", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud83d"}]}'
    response = sound(app.request("POST", "/v1/messages", V2023, lone))
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and message.startswith("The request body is not valid JSON: no low surrogate")
    response = sound(app.request("POST", "/v1/messages", V2023, lone.replace(b"\\ud83d", b"\\udc00")))
    assert response.status_code == 400 and "no high surrogate" in response.json()["error"]["message"]
    echoed = encode(body("Reply with exactly: \ud83d\ude00 \\ud800"))  # a real emoji, and an escaped backslash
    response = sound(app.request("POST", "/v1/messages", V2023, echoed))
    assert response.json()["content"][0]["text"] == "\U0001f600 \\ud800"
    encoded = b'{"model": "reference-model", "max_tokens": 5, "messages": [{"role": "user", "content": "\xed\xa0\x80"}]}'
    assert sound(app.request("POST", "/v1/messages", V2023, encoded)).status_code == 400


# ----- headers -----------------------------------------------------------------------------------------------------


@st.composite
def header_sets(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], dict[str, bool | None]]:
    """Headers, each of auth/version/beta/content-type present or not, with whether each is good; plus extras."""
    headers: list[tuple[bytes, bytes]] = []
    verdicts: dict[str, bool | None] = {}
    for name, choices in ((b"x-api-key", KEYS), (b"authorization", BEARERS), (b"anthropic-version", VERSIONS),
                          (b"anthropic-beta", BETAS)):
        if draw(st.booleans()):
            value, good = draw(choices)
            headers.append((name, value))
            verdicts[name.decode()] = good
    if draw(st.booleans()):
        headers.append((b"content-type", draw(CONTENT_TYPES)))
    for name in draw(st.lists(TOKENS, max_size=3)):
        if name not in ("x-api-key", "authorization", "anthropic-version", "anthropic-beta", "content-length",
                        "transfer-encoding", "host"):
            headers.append((name.encode(), draw(ODD_VALUES)))
    return headers, verdicts


@settings(FUZZ, max_examples=600)
@given(case=header_sets(), stream=st.booleans())
def test_any_headers_get_the_status_their_auth_version_and_betas_call_for(
    app: InProcess, case: tuple[list[tuple[bytes, bytes]], dict[str, bool | None]], stream: bool
) -> None:
    headers, verdicts = case
    response = sound(app.request("POST", "/v1/messages", headers, encode(body(stream=stream))))
    # the real API authenticates with x-api-key when one is sent (non-empty), else with the Bearer token
    x_api_key = dict(headers).get(b"x-api-key", b"").decode("latin-1").strip()
    counted = verdicts.get("x-api-key") if x_api_key else verdicts.get("authorization")
    if counted is not True:
        assert response.status_code == 401
    elif verdicts.get("anthropic-version") is not True:
        assert response.status_code == 400 and "anthropic-version" in response.json()["error"]["message"]
    elif verdicts.get("anthropic-beta") is False:
        assert response.status_code == 400 and "anthropic-beta" in response.json()["error"]["message"]
    else:
        assert response.status_code == 200


# ----- paths and methods ----------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=300)
@given(
    prefix=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12), max_size=4),
    endpoint=st.sampled_from(sorted(ENDPOINTS)),
    method=st.sampled_from(METHODS),
)
def test_a_known_endpoint_under_any_prefix_answers_its_method_and_405s_the_others(
    app: InProcess, prefix: list[str], endpoint: str, method: str
) -> None:
    path = "".join("/" + part for part in prefix if part != "faults") + endpoint
    payload = {"/v1/messages": encode(body()), "/v1/messages/count_tokens": encode(COUNT_BODY)}.get(endpoint, b"")
    response = sound(app.request(method, path, V2023, payload), method)
    if method == ENDPOINTS[endpoint]:
        assert response.status_code == 200
    else:
        assert response.status_code == 405 and response.headers["allow"] == ENDPOINTS[endpoint]


@settings(FUZZ, max_examples=500)
@given(segments=st.lists(SEGMENTS, max_size=6), method=st.sampled_from(METHODS),
       query=st.sampled_from(["", "?beta=true", "?limit=0", "?limit=abc", "?limit=99999999999999999999",
                              "?after_id=%ff&before_id=x", "?" + "a=1&" * 500, "?%zz"]))
def test_any_path_and_method_get_a_sound_answer(app: InProcess, segments: list[str], method: str, query: str) -> None:
    path = "".join("/" + segment for segment in segments) or "/"
    sound(app.request(method, path + query, V2023, encode(body())), method)


@settings(FUZZ, max_examples=200)
@given(spec=JUNK_SPECS, endpoint=st.sampled_from(sorted(ENDPOINTS)))
def test_an_unknown_fault_name_is_a_404_not_found_error(app: InProcess, spec: str, endpoint: str) -> None:
    response = sound(app.request(ENDPOINTS[endpoint], f"/faults/{spec}{endpoint}", V2023, encode(body())))
    assert response.status_code == 404 and response.json()["error"]["message"].startswith("Unknown fault: ")


def test_very_long_paths_and_fault_specs_get_a_sound_answer(app: InProcess) -> None:
    headers = [(name.encode(), value.encode()) for name, value in V2023.items()]
    for path, status in (("/" + "a" * 1_000_000, 404), ("/x" * 500_000 + "/v1/models", 200),
                         ("/faults/" + "+" * 500_000 + "/v1/models", 200),
                         ("/faults/" + "z" * 1_000_000 + "/v1/models", 404),
                         ("/faults/" + "crlf+" * 100_000 + "/v1/models", 200)):
        assert_sound(*app.asgi("GET", path, headers), method="GET")
        assert app.asgi("GET", path, headers)[0] == status


# ----- under real faults: the app always answers, and a 5xx only where the fault means one --------------------


@settings(FUZZ, max_examples=500)
@given(names=st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=3), request=near_valid(),
       endpoint=st.sampled_from(sorted(ENDPOINTS)))
def test_under_any_faults_the_app_always_answers_and_a_5xx_comes_only_from_a_crashing_fault(
    app: InProcess, names: list[str], request: dict[str, Any], endpoint: str
) -> None:
    assert CRASHING_FAULTS <= set(FAULTS)
    response = app.request(ENDPOINTS[endpoint], f"/faults/{'+'.join(names)}{endpoint}", V2023, encode(request))
    if response.status_code >= 500:
        assert CRASHING_FAULTS & set(names), (names, response.status_code, response.text[:300])


def test_a_websocket_handshake_is_answered_like_the_plain_get_it_is() -> None:
    sent: list[dict[str, Any]] = []
    scope = {"type": "websocket", "path": "/v1/models", "raw_path": b"/v1/models", "query_string": b"",
             "headers": [(b"host", b"x")], "extensions": {"websocket.http.response": {}}, "asgi": {"version": "3.0"}}

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    assert start["type"] == "websocket.http.response.start" and start["status"] == 401
    assert_envelope(401, {k.decode(): v.decode() for k, v in start["headers"]}, content)
    sent.clear()
    asyncio.run(APP({**scope, "extensions": {}}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]  # a server without denial responses sends 403


# ----- over a real socket ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, int]]:
    """A server with the settings of `python -m reference_server`, in a thread: its (host, port)."""
    url, stop = thread_server(KEY)
    host, port = url.removeprefix("http://").split(":")
    yield host, int(port)
    stop()


def assert_still_serving(addr: tuple[str, int]) -> None:
    response = exchange(addr, request_bytes("GET", "/v1/models", [(b"x-api-key", KEY.encode()),
                                                                (b"anthropic-version", b"2023-06-01")]),
                        half_close=False)
    assert response.status == 200, response


def assert_answered_or_closed(response: RawResponse) -> None:
    """The app's sound answer (it has a request-id), HTTP's 400 for bytes that are no request, or a closed connection."""
    if response.status is None:
        return
    if "request-id" in response.headers:
        assert_sound(response.status, response.headers, response.body)
    else:
        assert response.status == 400, response


WEBSOCKET_UPGRADE = (
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
MALFORMED = [
    b"\x00\xff" * 50,
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /v1/models HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: y\r\n" * 20_000 + b"\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
    b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\nx-api-key: \xe9\r\n\r\n",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    WEBSOCKET_UPGRADE,
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
    b"GET /v1/models HTTP/1.0\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n" * 50 + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n\x00",
    b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n",
    b"GET http://elsewhere.invalid/v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_http_bytes_get_a_400_or_a_closed_connection_and_the_server_keeps_serving(
    live: tuple[str, int], raw: bytes
) -> None:
    assert_answered_or_closed(exchange(live, raw))
    assert_still_serving(live)


RAW_REQUESTS = (
    st.binary(max_size=300)
    | st.builds(_mangled, st.just(request_bytes("POST", "/v1/messages", [(b"x-api-key", KEY.encode()),
                                                                          (b"anthropic-version", b"2023-06-01")],
                                                encode(body(stream=True)))),
                st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=3)), min_size=1, max_size=4))
    | st.builds(lambda method, target, version, lines: method + b" " + target + b" " + version + b"\r\n"
                + b"".join(line + b"\r\n" for line in lines) + b"\r\n",
                st.sampled_from([b"GET", b"POST", b"get", b"G\xffT", b"", b"BREW"]),
                st.binary(min_size=0, max_size=30), st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"ICY"]),
                st.lists(st.binary(max_size=40), max_size=4))
)


@settings(FUZZ, max_examples=100)
@given(raw=RAW_REQUESTS)
def test_random_bytes_on_a_socket_get_a_400_or_a_closed_connection_never_a_hang(
    live: tuple[str, int], raw: bytes
) -> None:
    assert_answered_or_closed(exchange(live, raw))
    assert_still_serving(live)


@settings(FUZZ, max_examples=100)
@given(case=header_sets(), stream=st.booleans())
def test_odd_header_bytes_on_a_socket_get_a_sound_answer_or_http_s_400(
    live: tuple[str, int], case: tuple[list[tuple[bytes, bytes]], dict[str, bool | None]], stream: bool
) -> None:
    headers, _ = case
    response = exchange(live, request_bytes("POST", "/v1/messages", headers, encode(body(stream=stream))),
                        half_close=False)
    assert response.status is not None, "the server closed the connection without answering a whole request"
    assert_answered_or_closed(response)


def test_a_websocket_upgrade_on_the_default_uvicorn_settings_gets_an_anthropic_error_not_a_500() -> None:
    host, port = live_base_url().removeprefix("http://").split(":")
    raw = WEBSOCKET_UPGRADE.replace(b"\r\n\r\n", b"\r\nanthropic-version: 2023-06-01\r\n\r\n")
    response = exchange((host, int(port)), raw, half_close=False)
    assert response.status == 401
    assert_envelope(401, response.headers, response.body)


# ----- the size cap over a real socket ----------------------------------------------------------------------


def assert_too_large(response: RawResponse) -> None:
    assert response.status == 413, response
    assert_envelope(413, response.headers, response.body)
    assert json.loads(response.body)["error"]["type"] == "request_too_large"


AUTH = [(b"x-api-key", KEY.encode()), (b"anthropic-version", b"2023-06-01")]


def test_a_declared_content_length_over_the_cap_gets_413_before_any_body_is_sent(live: tuple[str, int]) -> None:
    for endpoint in ("/v1/messages", "/v1/messages/count_tokens"):
        head = request_bytes("POST", endpoint, AUTH).replace(b"content-length: 0",
                                                             f"content-length: {MAX_BODY_BYTES + 1}".encode())
        with socket.create_connection(live, timeout=TIMEOUT) as sock:
            sock.sendall(head)
            assert_too_large(read_response(sock))
    assert_still_serving(live)


def test_a_body_at_the_cap_is_answered_and_one_byte_more_gets_413_over_a_socket(live: tuple[str, int]) -> None:
    payload = encode(body())
    padded = payload + b" " * (MAX_BODY_BYTES - len(payload))
    assert exchange(live, request_bytes("POST", "/v1/messages", AUTH, padded), half_close=False).status == 200
    assert_too_large(exchange(live, request_bytes("POST", "/v1/messages", AUTH, padded + b" "), half_close=False))


def test_a_chunked_body_without_content_length_gets_413_once_it_crosses_the_cap(live: tuple[str, int]) -> None:
    head = b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n" + b"".join(
        name + b": " + value + b"\r\n" for name, value in AUTH
    ) + b"\r\n"
    mebibyte = b" " * (1024 * 1024)
    chunk = f"{len(mebibyte):x}\r\n".encode() + mebibyte + b"\r\n"
    sent = [0]

    def send_body(sock: socket.socket) -> None:
        try:
            for _ in range(MAX_BODY_BYTES // len(mebibyte) + 16):
                sock.sendall(chunk)
                sent[0] += len(mebibyte)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed, or the test closed the socket: either way sending is over

    with socket.create_connection(live, timeout=TIMEOUT) as sock:
        sock.sendall(head)
        sender = threading.Thread(target=send_body, args=(sock,), daemon=True)
        sender.start()
        response = read_response(sock)
        sock.shutdown(socket.SHUT_RDWR)
    sender.join(TIMEOUT)
    assert not sender.is_alive()
    assert_too_large(response)
    assert "content-length" not in head.decode().lower() and sent[0] >= MAX_BODY_BYTES
    assert_still_serving(live)
