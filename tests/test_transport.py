"""The bounded transport: a total deadline on every socket operation, bounded inflation, the breaker, the slots."""

from __future__ import annotations

import concurrent.futures
import gzip
import subprocess
import sys
import time
import tracemalloc
import zlib

import pytest
from hostile import HostileServer

from conformance.checks.sdk import sdk_http
from conformance.engine import Session
from conformance.target import Secret, Target
from conformance.transport import PIECE, BadEncoding, Breaker, Limits, Slots, _Decoder, client
from conformance.wire import Wire, WireRequest

BODY = {"model": "hostile-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


def target(url: str, **limits) -> Target:
    return Target(base_url=url, api_key=Secret("sk-ant-transport-test"), model="hostile-model",
                  limits=Limits(**limits), retries=0)


def test_a_response_dripped_a_byte_a_second_ends_at_the_total_deadline(hostile):
    wire = Wire(target(hostile.base_url("drip"), request_timeout=2, read_timeout=5))
    started = time.monotonic()
    exchange = wire.send("drip", WireRequest(body=BODY))
    assert time.monotonic() - started < 4
    assert "the total time limit of 2 s per request was reached" in exchange.error


def test_a_stream_that_never_ends_is_cut_at_the_total_deadline(hostile):
    wire = Wire(target(hostile.base_url("endless"), request_timeout=1.5))
    exchange = wire.send("endless", WireRequest(body={**BODY, "stream": True}))
    assert exchange.status == 200 and exchange.truncated
    assert "total time limit" in exchange.error and len(exchange.body) <= 64 * 1024


def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating_it(hostile):
    wire = Wire(target(hostile.base_url("gzip-bomb"), max_response_bytes=2 * 1024 * 1024))
    tracemalloc.start()
    try:
        exchange = wire.send("bomb", WireRequest(body=BODY))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "exceeded 2097152 bytes" in exchange.error
    assert peak < 12 * 1024 * 1024  # 512 MB inflated; the harness held a few pieces of it at most


def test_a_200_mb_body_is_read_up_to_the_cap_and_not_kept(hostile):
    wire = Wire(target(hostile.base_url("huge"), max_response_bytes=1024 * 1024))
    exchange = wire.send("huge", WireRequest(body=BODY))
    assert "exceeded 1048576 bytes" in exchange.error and len(exchange.body) <= 64 * 1024


def test_inflation_hands_on_pieces_no_larger_than_a_piece():
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    decoder = _Decoder("gzip")
    pieces = [len(piece) for piece in decoder.feed(bomb)]
    assert max(pieces) <= PIECE and sum(pieces) == 8 * 1024 * 1024


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
])
def test_gzip_and_both_kinds_of_deflate_decode_to_the_body(encoding, encode):
    body = b'{"type": "message"}' * 5000
    decoder = _Decoder(encoding)
    raw = encode(body)
    out = b"".join(piece for i in range(0, len(raw), 100) for piece in decoder.feed(raw[i:i + 100])) + decoder.flush()
    assert out == body


def test_several_gzip_members_decode_to_all_of_them():
    decoder = _Decoder("gzip")
    assert b"".join(decoder.feed(gzip.compress(b"one ") + gzip.compress(b"two"))) == b"one two"


def test_an_encoding_that_was_not_asked_for_is_refused_by_name():
    with pytest.raises(BadEncoding, match="'br', which was not asked for"):
        _Decoder("br")


def test_an_encoding_nobody_asked_for_leaves_no_connection_in_use(hostile):
    wire = Wire(target(hostile.base_url("brotli"), read_timeout=2))
    errors = [wire.send(f"br-{i}", WireRequest(body=BODY)).error for i in range(120)]  # more than the pool holds
    assert all("'br', which was not asked for" in error for error in errors), errors[-1]


def test_a_dropped_body_stream_leaves_the_next_requests_deadline_alone(hostile):
    from conformance import transport

    with client(Limits(request_timeout=30), Breaker(3), Slots(1)) as http:
        response = http.send(http.build_request("POST", hostile.base_url("endless") + "/v1/messages", json=BODY),
                             stream=True)
        chunks = response.stream.__iter__()
        next(chunks)
        marker = (time.monotonic() + 99, 99.0)
        transport._local.deadline = marker  # another request's, in flight on this thread
        chunks.close()  # what the garbage collector does to a stream dropped half read
        assert transport._local.deadline is marker
        transport._local.deadline = None
        response.close()


def test_after_consecutive_failures_nothing_more_is_sent(hostile):
    wire = Wire(target(hostile.base_url("silent"), read_timeout=0.5, max_failures=2))
    started = time.monotonic()
    exchanges = [wire.send(f"silent-{i}", WireRequest(body=BODY)) for i in range(5)]
    assert time.monotonic() - started < 3  # two timeouts of half a second, then nothing sent
    assert [ex.error.split(" ")[0] for ex in exchanges] == ["timed", "timed", "not", "not", "not"]
    assert all("stopped sending to it (--max-failures 2)" in ex.error for ex in exchanges[2:])


def test_a_success_resets_the_count_of_failures():
    breaker = Breaker(2)
    breaker.failure("one")
    breaker.success()
    breaker.failure("two")
    assert not breaker.tripped
    breaker.failure("three")
    assert breaker.tripped and "three" in breaker.reason


def test_no_failure_limit_never_stops_sending():
    breaker = Breaker(0)
    for _ in range(50):
        breaker.failure("x")
    assert not breaker.tripped


@pytest.mark.parametrize("http", ["wire", "sdk"])
def test_neither_client_follows_a_redirect_to_another_host(hostile, http):
    session = Session(target(hostile.base_url("redirect")))
    if http == "wire":
        status = session.wire.send("redirect", WireRequest(body=BODY)).status
    else:
        with session.http_client(sdk_http()) as sdk:
            status = sdk.post(hostile.base_url("redirect") + "/v1/messages", headers={"x-api-key": "k"}).status_code
    assert status == 307
    assert hostile.recorder.requests == []


def _hold_slots(slots: Slots, times: int, seconds: float) -> list[tuple[float, float]]:
    """Take a slot `times` times, holding it `seconds` each: when each was held."""
    spans = []
    for _ in range(times):
        held = slots.acquire(10)
        start = time.monotonic()
        time.sleep(seconds)
        spans.append((start, time.monotonic()))
        held.release()
    return spans


def _hold_slot(folder: str, size: int) -> list[tuple[float, float]]:
    return _hold_slots(Slots(size, folder), 4, 0.03)  # in a worker process: slots shared through the folder


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_the_concurrency_cap_holds_across_processes(tmp_path):
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        spans = [span for result in pool.map(_hold_slot, [str(tmp_path)] * 4, [2] * 4) for span in result]
    assert len(spans) == 16 and _most_at_once(spans) <= 2


def test_the_concurrency_cap_holds_across_threads():
    slots = Slots(1)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        spans = [s for result in pool.map(lambda _: _hold_slots(slots, 3, 0.01), range(4)) for s in result]
    assert _most_at_once(spans) == 1


def test_the_sdk_client_is_bounded_like_the_wire(hostile):
    limits = Limits(request_timeout=1)
    with client(limits, Breaker(3), Slots(1), sdk_http()) as sdk:
        started = time.monotonic()
        with pytest.raises(sdk_http().ReadTimeout, match="total time limit of 1 s"):
            sdk.post(hostile.base_url("drip") + "/v1/messages", json=BODY)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("values, says", [
    ({"read_timeout": 0}, "read-timeout must be a number > 0"),
    ({"max_response_bytes": 10}, "max-response-bytes must be a whole number >= 1024"),
    ({"max_concurrency": 0}, "max-concurrency must be a whole number >= 1"),
])
def test_bad_limits_are_refused_with_a_sentence(values, says):
    with pytest.raises(ValueError, match=says):
        Limits.given(**values)


def test_a_bad_limit_on_the_command_line_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "--base-url", "http://127.0.0.1:9",
                           "--api-key", "k", "--timeout", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr == "error: --timeout must be a number > 0\n"  # the flag's own name


# -- a dropped kept-alive connection: one more try, on a fresh connection ------------------------------------------

@pytest.fixture(scope="module")
def relay(reference_server):
    """The hostile server with the reference server behind it, for the relayed modes."""
    with HostileServer(upstream=reference_server.base_url) as server:
        yield server


def _reference_target(url: str, key: Secret, **limits) -> Target:
    return Target(base_url=url, api_key=key, model="reference-model", limits=Limits(**limits), retries=0)


GOOD = {"model": "reference-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("http", ["wire", "sdk"])
def test_a_kept_alive_connection_dropped_before_the_answer_is_retried_once_on_a_fresh_one(relay, reference_server,
                                                                                           http):
    session = Session(_reference_target(relay.base_url("close-after-error"), reference_server.api_key))
    dropped = relay.dropped
    if http == "wire":
        bad = session.wire.send("bad", WireRequest(body={"model": "reference-model"}))  # 400: the relay dooms it
        good = session.wire.send("good", WireRequest(body=GOOD))  # on the same, dropped, connection
        statuses = (bad.status, good.status, good.error)
    else:
        headers = {"x-api-key": reference_server.api_key.reveal(), "anthropic-version": "2023-06-01"}
        with session.http_client(sdk_http()) as sdk:
            url = relay.base_url("close-after-error") + "/v1/messages"
            statuses = (sdk.post(url, headers=headers, json={"model": "reference-model"}).status_code,
                        sdk.post(url, headers=headers, json=GOOD).status_code, None)
    session.close()
    assert statuses == (400, 200, None)
    assert relay.dropped == dropped + 1  # the target did drop the connection under the second request
    assert session.pacer.waited()["reconnects"] == 1
    assert session.breaker.failures == 0


def test_a_fresh_connection_dropped_before_the_answer_is_not_retried(hostile):
    wire = Wire(target(hostile.base_url("close-before-headers")))
    exchange = wire.send("fresh", WireRequest(body=BODY))
    assert "Server disconnected without sending a response" in exchange.error
    assert hostile.seen["close-before-headers"] == 1
    assert wire.pacer.waited()["reconnects"] == 0 and wire.breaker.failures == 1


def test_a_target_that_always_drops_is_tried_once_more_on_a_fresh_connection_and_is_still_an_error(hostile):
    wire = Wire(target(hostile.base_url("close-before-headers+kept")))
    models = wire.send("models", WireRequest(method="GET", path="/v1/models"))  # leaves the connection alive
    exchange = wire.send("reused", WireRequest(body=BODY))
    assert models.status == 200 and "Server disconnected without sending a response" in exchange.error
    assert hostile.seen["close-before-headers+kept"] == 3  # models, then the POST twice: reused, then fresh
    assert wire.pacer.waited()["reconnects"] == 1 and wire.breaker.failures == 1


def test_a_kept_alive_connection_that_fails_after_a_byte_of_the_answer_is_not_retried(hostile):
    wire = Wire(target(hostile.base_url("reset-in-head+kept")))
    wire.send("models", WireRequest(method="GET", path="/v1/models"))
    exchange = wire.send("reused", WireRequest(body=BODY))
    assert "Connection reset by peer" in exchange.error
    assert hostile.seen["reset-in-head+kept"] == 2  # models, then the POST once: part of its answer had come
    assert wire.pacer.waited()["reconnects"] == 0


def test_a_timeout_on_a_kept_alive_connection_is_not_retried(hostile):
    wire = Wire(target(hostile.base_url("silent+kept"), read_timeout=0.3))
    wire.send("models", WireRequest(method="GET", path="/v1/models"))
    exchange = wire.send("reused", WireRequest(body=BODY))
    assert exchange.error.startswith("timed out") and hostile.seen["silent+kept"] == 2
    assert wire.pacer.waited()["reconnects"] == 0


# -- busy answers: waited for and sent again by both clients, within bounds ----------------------------------------

@pytest.mark.parametrize("http", ["wire", "sdk"])
def test_busy_answers_are_waited_for_and_sent_again_by_both_clients(relay, reference_server, http):
    url = relay.base_url(f"rate-limit-2+{http}")  # two requests a second: the third of a burst is answered 429
    session = Session(Target(base_url=url, api_key=reference_server.api_key, model="reference-model"))
    started = time.monotonic()
    if http == "wire":
        exchanges = [session.wire.send(f"r{i}", WireRequest(body=GOOD)) for i in range(4)]
        statuses = [ex.status for ex in exchanges]
        assert any(ex.attempts and ex.attempts[0][0] == 429 for ex in exchanges)  # the busy answers, for the record
    else:
        headers = {"x-api-key": reference_server.api_key.reveal(), "anthropic-version": "2023-06-01"}
        with session.http_client(sdk_http()) as sdk:
            statuses = [sdk.post(url + "/v1/messages", headers=headers, json=GOOD).status_code for _ in range(4)]
    session.close()
    waited = session.pacer.waited()
    assert statuses == [200] * 4
    assert waited["rate_limited"] >= 1 and waited["seconds"] >= 0.5 and time.monotonic() - started < 10


@pytest.mark.parametrize("http", ["wire", "sdk"])
def test_a_target_that_is_always_busy_ends_in_bounded_time_saying_why(relay, reference_server, http):
    url = relay.base_url(f"rate-limit-0+{http}")  # every request answered 429, retry-after: 1
    session = Session(Target(base_url=url, api_key=reference_server.api_key, model="reference-model",
                             limits=Limits(max_backoff=1.5)))
    started = time.monotonic()
    if http == "wire":
        answers = [session.wire.send(f"r{i}", WireRequest(body=GOOD)) for i in range(3)]
        gave_up = [(ex.status, ex.gave_up) for ex in answers]
    else:
        headers = {"x-api-key": reference_server.api_key.reveal(), "anthropic-version": "2023-06-01"}
        with session.http_client(sdk_http()) as sdk:
            responses = [sdk.post(url + "/v1/messages", headers=headers, json=GOOD) for _ in range(3)]
            gave_up = [(r.status_code, r.extensions["conformance_gave_up"]) for r in responses]
    session.close()
    assert time.monotonic() - started < 6
    assert all(status == 429 and "--max-backoff" in why for status, why in gave_up), gave_up
    assert session.pacer.waited()["backoff_seconds"] <= 1.5 + 0.2
