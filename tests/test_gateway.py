"""Gateway mode: a transparent proxy passes every gateway check; each faulty proxy is caught by the check that names
its fault; the recorder correlates and stays bounded; the OpenAI upstream keeps OpenAI's shapes."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from gateway_proxies import FAULTS, Proxy, Served, run_gateway_checks

from conformance.engine import Session, all_checks, run_check
from conformance.gateway.records import Record, Recorder, correlate, new_nonce, token
from conformance.gateway.upstream import Upstream
from conformance.target import Secret, Target
from conformance.verdicts import Verdict

ITEMS = sorted(i for c in all_checks().values() if c.area == "gateway" for i in c.item_ids())
TRANSLATE = {i for i in ITEMS if i.startswith("gateway/translate-")}
CAUGHT_BY = {
    "strip-beta": {"gateway/anthropic-beta-forwarded", "gateway/context-management-forwarded",
                   "gateway/count-tokens-forwarded"},
    "drop-unknown-fields": {"gateway/unknown-field-forwarded"},
    "rewrap-errors": {f"gateway/error-{what}[{status}]" for what in ("type", "message") for status in (429, 529, 500)},
    "buffer-streams": {"gateway/not-buffered"},
    "drop-ratelimit-headers": {"gateway/ratelimit-headers[error]", "gateway/ratelimit-headers[success]"},
    "known-ratelimit-headers-only": {"gateway/ratelimit-headers[error]", "gateway/ratelimit-headers[success]"},
    "reorder-system": {"gateway/system-order-forwarded"},
    "swallow-pings": {"gateway/pings"},
    "drop-signature-only-thinking": {"gateway/thinking-replay-forwarded"},
}


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as up:
        yield up


# a fault shown with a model of its own: Opus 4.8 answers signature-only thinking blocks by default
FAULT_MODEL = {"drop-signature-only-thinking": "claude-opus-4-8"}


def run_through(upstream: Upstream, fault: str = "", model: str = "") -> dict:
    return run_gateway_checks(upstream, Proxy(upstream.base_url, fault),
                              model=model or FAULT_MODEL.get(fault, "reference-model"))


# a transparent pass-through passes for every kind of model: thinking by row (adaptive, enabled), display by default
@pytest.mark.parametrize("model", ["reference-model", "claude-opus-4-8", "claude-sonnet-4-5", "claude-opus-5-5"])
def test_a_transparent_proxy_passes_every_gateway_check(upstream, model):
    results = run_through(upstream, model=model)
    for item, result in results.items():
        expected = Verdict.SKIPPED if item in TRANSLATE else Verdict.PASS
        assert result.verdict is expected, (item, result.reason, result.findings)
    assert "mapped" not in results["gateway/model-forwarded"].evidence[-1].response


@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_proxy_is_caught_by_the_check_that_names_its_fault(upstream, fault):
    results = run_through(upstream, fault)
    failing = {item for item, r in results.items() if r.verdict is not Verdict.PASS and item not in TRANSLATE}
    assert failing == CAUGHT_BY[fault], {i: (results[i].reason, results[i].findings) for i in failing}
    for item in failing:
        rule = all_checks()[item.split("[")[0]].rule
        assert results[item].verdict is Verdict.FAIL and any(f.rule == rule for f in results[item].findings)


@pytest.mark.parametrize(("answer", "verdict", "said"), [
    ("count-tokens-unserved", Verdict.UNSUPPORTED, "does not serve it (HTTP 404"),
    ("count-tokens-local", Verdict.WARN, "answered by the gateway itself"),
])
def test_count_tokens_the_gateway_answers_itself_is_optional(upstream, answer, verdict, said):
    """count_tokens is optional for a gateway: not served is unsupported, a count of its own a warning; every other
    gateway check still passes."""
    results = run_through(upstream, answer)
    result = results["gateway/count-tokens-forwarded"]
    assert result.verdict is verdict and said in result.reason + " ".join(f.got for f in result.findings), result
    others = {i: r.verdict for i, r in results.items() if i != "gateway/count-tokens-forwarded" and i not in TRANSLATE}
    assert set(others.values()) == {Verdict.PASS}, others


def test_a_failure_shows_its_own_probe_first_not_the_control_it_only_consulted(upstream):
    result = run_through(upstream, "strip-beta")["gateway/count-tokens-forwarded"]
    assert result.verdict is Verdict.FAIL
    assert [name for name, *_ in result.exchanges] == ["gateway-count-tokens"]
    assert "/v1/messages/count_tokens" in result.evidence[0].request


def test_a_gateway_that_drops_thinking_fails_once_and_the_replay_names_that_cause(upstream):
    results = run_through(upstream, "drop-thinking")
    assert results["gateway/thinking-forwarded"].verdict is Verdict.FAIL
    replay = results["gateway/thinking-replay-forwarded"]
    assert replay.verdict is Verdict.SKIPPED and replay.blocked_by == "gateway/thinking-forwarded", replay


def test_without_an_upstream_every_gateway_check_is_skipped_with_the_reason():
    session = Session(Target(base_url="http://127.0.0.1:9", api_key=Secret("sk-unused-key"), model="m"))
    try:
        for item in ITEMS:
            result = run_check(session, item)
            assert result.verdict is Verdict.SKIPPED and "gateway mode only" in result.reason, item
    finally:
        session.close()


def test_a_probe_is_found_by_its_nonce_in_the_body_then_a_header_then_metadata():
    nonce = new_nonce()
    assert correlate(json.dumps({"messages": [{"content": "x " + token(nonce, "pause-20")}]}).encode(), []) == (
        nonce, "pause-20", "body")
    assert correlate(b"{}", [("x-trace", token(nonce))]) == (nonce, "", "header")
    assert correlate(b"{\"metadata\": {\"user_id\": \"" + token(nonce).encode() + b"\"}}", [])[2] == "body"
    assert correlate(b"{}", []) == ("", "", "")
    assert new_nonce() != new_nonce()


def test_the_recorder_keeps_a_bounded_number_of_records():
    recorder = Recorder(max_records=3)
    for index in range(5):
        recorder.add(Record("POST", "/v1/messages", "", [], b"{}", 0.0, nonce=str(index)))
    assert [r.nonce for r in recorder.all()] == ["2", "3", "4"] and recorder.dropped == 2
    assert recorder.find("0", wait=0.01) == []


def openai_post(upstream: Upstream, directive: str = "", **extra) -> httpx.Response:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Reply with exactly: one two\n"
                                               + token(new_nonce(), directive)}], **extra}
    return httpx.post(upstream.base_url + "/v1/chat/completions", json=body, timeout=10)


def test_the_openai_upstream_answers_in_openai_shapes(upstream):
    done = openai_post(upstream).json()
    assert done["object"] == "chat.completion" and done["choices"][0]["message"]["content"] == "one two"
    assert done["choices"][0]["finish_reason"] == "stop" and done["usage"]["total_tokens"] > 0
    stream = openai_post(upstream, stream=True, stream_options={"include_usage": True}).text
    assert stream.endswith("data: [DONE]\n\n")
    chunks = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: {")]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    # include_usage: usage null on every chunk but the last, which has empty choices and the usage (OpenAI's docs)
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == done["usage"]["total_tokens"]
    plain = openai_post(upstream, stream=True).text
    assert all("usage" not in json.loads(line[6:]) for line in plain.splitlines() if line.startswith("data: {"))
    cut = openai_post(upstream, "stream-error", stream=True).text
    assert "[DONE]" not in cut and '"type": "server_error"' in cut
    limited = openai_post(upstream, "rate-limit")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded" and limited.json()["error"]["type"] == "requests"
    assert {"x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"} <= set(limited.headers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_command(capsys, *argv: str) -> tuple[int, str, str]:
    from conformance.cli import main

    code = main(["gateway", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_runs_the_gateway_area_through_a_transparent_proxy(capsys, tmp_path):
    port = free_port()
    with Served(Proxy(f"http://127.0.0.1:{port}")) as gateway:
        code, out, err = gateway_command(capsys, "--gateway-url", gateway.base_url, "--upstream-port", str(port),
                                         "-k", "gateway", "--report", str(tmp_path / "r.json"), "--wait", "5")
    assert code == 0, out + err
    assert out.splitlines()[0] == f"http://127.0.0.1:{port}"
    report = json.loads((tmp_path / "r.json").read_text())
    assert {r["verdict"] for r in report["results"]} == {"pass", "skipped"}


def test_a_gateway_failure_reproduces_with_the_gateway_command_it_prints(capsys):
    """Its reproduce line is the gateway command on the same upstream port (a plain `run` would leave the gateway
    with no upstream to send to); run as printed, it fails the same check again."""
    import shlex

    port = free_port()
    with Served(Proxy(f"http://127.0.0.1:{port}", "known-ratelimit-headers-only")) as gateway:
        code, out, err = gateway_command(capsys, "--gateway-url", gateway.base_url, "--upstream-port", str(port),
                                         "-k", "ratelimit-headers and success", "--wait", "5")
        assert code == 1, out + err
        (line,) = [x for x in out.splitlines() if x.startswith("  reproduce ")]
        argv = shlex.split(line.removeprefix("  reproduce "))
        assert argv[:6] == ["anthropic-conformance", "gateway", "--gateway-url", gateway.base_url, "--upstream-port",
                            str(port)], argv
        again, out, err = gateway_command(capsys, *argv[2:], "--wait", "5")
    assert again == 1 and "FAIL gateway/ratelimit-headers[success]" in out, out + err


class Html:
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html><body>Welcome</body></html>"})


def test_a_gateway_that_never_answers_ends_in_one_sentence_and_exit_3(capsys):
    code, _, err = gateway_command(capsys, "--gateway-url", f"http://127.0.0.1:{free_port()}", "--upstream-port", "0",
                                   "--wait", "1")
    assert code == 3 and "did not answer within 1 s" in err and err.count("error:") == 1


def test_a_gateway_that_answers_html_ends_in_one_sentence_and_exit_3(capsys):
    with Served(Html()) as page:
        code, _, err = gateway_command(capsys, "--gateway-url", page.base_url, "--upstream-port", "0", "--wait", "5")
    assert code == 3 and "answers HTML" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_gateway_url_that_is_the_upstream_itself_is_refused(capsys, host):
    port = free_port()
    code, out, err = gateway_command(capsys, "--gateway-url", f"http://{host}:{port}", "--upstream-port", str(port))
    assert code == 2 and "is the upstream itself" in err


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:4000", "http://:80"])
def test_a_gateway_url_that_is_not_http_is_refused(capsys, url):
    code, _, err = gateway_command(capsys, "--gateway-url", url, "--upstream-port", "0")
    assert code == 2 and "not an http(s) URL" in err


def test_an_upstream_port_in_use_is_refused(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, _, err = gateway_command(capsys, "--gateway-url", "http://127.0.0.1:9", "--upstream-port", str(port))
    assert code == 2 and "cannot listen on" in err


class Hangs:
    """A gateway that forwards its first request to the upstream (the command's readiness probe), then hangs: a
    streamed request gets its headers and a ping and then nothing, any other request no answer at all (`streams`:
    only streams hang, the rest is forwarded), until the test releases it."""

    def __init__(self, upstream: str, streams: bool = False) -> None:
        import threading

        self.proxy = Proxy(upstream)
        self.streams = streams
        self.seen = 0
        self.released = threading.Event()

    async def __call__(self, scope, receive, send):
        import asyncio

        if scope["type"] != "http":
            return
        self.seen += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        streamed = b'"stream": true' in body or b'"stream":true' in body
        if self.seen == 1 or (self.streams and not streamed):
            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            await self.proxy(scope, replay, send)
            return
        if streamed:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
                        "more_body": True})
        while not self.released.is_set():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("streams", [False, True], ids=["everything", "streams"])
def test_a_gateway_that_answers_then_hangs_mid_run_never_hangs_the_harness(tmp_path, streams):
    import subprocess
    import sys
    import time

    port = free_port()
    app = Hangs(f"http://127.0.0.1:{port}", streams)
    selection = "gateway and (reaches or sse-events or error-status or not-buffered or pings or metadata)"
    try:
        with Served(app) as gateway:
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "conformance", "gateway", "--gateway-url", gateway.base_url, "--upstream-port",
                 str(port), "--wait", "5", "-k", selection, "--timeout", "3", "--read-timeout", "2",
                 "--check-timeout", "8", "--report", str(tmp_path / "r.json")],
                capture_output=True, text=True, timeout=150)
            took = time.monotonic() - started
            app.released.set()
    finally:
        app.released.set()
    assert done.returncode == 1 and took < 120, (took, done.stdout + done.stderr)
    verdicts = {r["id"]: r["verdict"] for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    hung = {i for i in verdicts if i in ("gateway/sse-events", "gateway/not-buffered", "gateway/pings")
            or not streams}
    assert {verdicts[i] for i in hung} == {"error"}, verdicts
    if streams:  # what did not hang was judged
        assert verdicts["gateway/reaches-upstream"] == verdicts["gateway/metadata-forwarded"] == "pass", verdicts
