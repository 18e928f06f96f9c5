"""`anthropic-conformance gateway`: start the recording upstream, wait (bounded) for the gateway in front of it, and
run the suites through the gateway with the upstream's recorder attached (the gateway/* checks compare both ends)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import time
from urllib.parse import urlsplit

import httpx

from conformance.gateway.records import new_nonce, token

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_CODES = {EXIT_OK: "every selected check passed, warned, or was skipped with a reason",
              EXIT_FAILED: "at least one check failed or errored",
              EXIT_USAGE: "usage error (a bad --gateway-url, a port that cannot be listened on, a gateway URL that is "
                          "the upstream itself)",
              EXIT_UNREACHABLE: "the gateway did not answer within --wait seconds, or answers HTML instead of the API"}
PLACEHOLDER_KEY = "sk-ant-conformance-gateway"  # public: a gateway that needs no key of its own gets this one


class Stop(Exception):
    """Nothing can be run: one sentence and an exit code."""

    def __init__(self, code: int, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code


def add_parser(subparsers) -> argparse.ArgumentParser:
    from conformance.inputs import at_least, port

    codes = "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = subparsers.add_parser(
        "gateway", help="test a gateway from both sides: the harness is its client and its upstream", epilog=codes)
    parser.add_argument("--gateway-url", required=True, metavar="URL",
                        help="the gateway's base URL, as a client would use it (its /v1/messages is called)")
    parser.add_argument("--upstream-port", required=True, type=port, metavar="PORT",
                        help="the port of the recording upstream on 127.0.0.1 (0: a free one); configure the gateway "
                             "with the base URL printed first")
    parser.add_argument("--api-key", default=None, help="the gateway's key for its clients (default: "
                        "$ANTHROPIC_API_KEY, else a placeholder)")
    parser.add_argument("--model", default="reference-model", help="the model the client asks the gateway for "
                        "(default reference-model; the upstream serves the reference server's models)")
    parser.add_argument("--expensive", action="store_true", help="also run the expensive checks")
    parser.add_argument("--report", default=None, metavar="PATH", help="write the JSON report here")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                        help="pytest -k expression over check ids (e.g. gateway)")
    parser.add_argument("--wait", type=at_least(1), default=60, metavar="SECONDS",
                        help="how long to wait for the gateway to answer (default 60)")
    parser.add_argument("--pytest-output", action="store_true", help="show pytest's own report")
    return parser


def run(args: argparse.Namespace) -> int:
    from conformance.gateway.upstream import Upstream

    try:
        url = checked_url(args.gateway_url)
    except Stop as stop:
        return said(stop)
    upstream = Upstream(port=args.upstream_port)
    try:
        upstream.start()
    except OSError as exc:
        return said(Stop(EXIT_USAGE, f"cannot listen on 127.0.0.1:{args.upstream_port} for the upstream "
                                     f"({exc.strerror or exc}); pick another --upstream-port, or 0 for a free one."))
    try:
        print(upstream.base_url, flush=True)
        print(f"upstream ready: configure the gateway to send to {upstream.base_url} (any API key; models: "
              "reference-model, claude-opus-4-8, claude-sonnet-4-5, claude-haiku-4-5; OpenAI Chat Completions at "
              f"{upstream.base_url}/v1/chat/completions)", file=sys.stderr, flush=True)
        key = args.api_key or os.environ.get("ANTHROPIC_API_KEY") or PLACEHOLDER_KEY
        try:
            if points_at(url, upstream.port):
                raise Stop(EXIT_USAGE, f"--gateway-url {url} is the upstream itself, not a gateway in front of it; "
                                       "pass the gateway's own URL.")
            wait_for_gateway(url, key, args.model, upstream, args.wait)
        except Stop as stop:
            return said(stop)
        return run_suites(args, url, key, upstream)
    finally:
        upstream.stop()


def said(stop: Stop) -> int:
    print(f"error: {stop}", file=sys.stderr)
    return stop.code


def checked_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Stop(EXIT_USAGE, f"--gateway-url {text!r} is not an http(s) URL with a host (e.g. http://127.0.0.1:4000).")
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise Stop(EXIT_USAGE, f"--gateway-url {text!r} has an invalid port.") from None
    return text.rstrip("/")


def points_at(url: str, upstream_port: int) -> bool:
    """The URL's host is this machine (loopback or unspecified) and its port is the upstream's."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port != upstream_port:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except OSError:
        return False
    return any(ipaddress.ip_address(a.split("%")[0]).is_loopback or ipaddress.ip_address(a.split("%")[0]).is_unspecified
               for a in addresses)


def wait_for_gateway(url: str, key: str, model: str, upstream, wait: float) -> None:
    """Until the gateway answers a probe with anything but HTML, within `wait` seconds; Stop otherwise."""
    deadline = time.monotonic() + wait
    nonce = new_nonce()
    body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "Reply with exactly: ready\n"
                                                           + token(nonce)}]}
    headers = {"x-api-key": key, "authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}
    last = "no answer"
    announced = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Stop(EXIT_UNREACHABLE, f"the gateway at {url} did not answer within {wait:g} s ({last}); start it, "
                                         f"configured with the upstream {upstream.base_url}, and run again.")
        try:
            response = httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=min(10.0, max(left, 0.5)))
        except httpx.HTTPError as exc:
            last = type(exc).__name__.replace("Error", " error").lower().strip()
            if not announced:
                print(f"waiting up to {wait:g} s for the gateway at {url} ...", file=sys.stderr, flush=True)
                announced = True
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
            continue
        kind = response.headers.get("content-type", "")
        if "html" in kind or response.content.lstrip()[:1] == b"<":
            raise Stop(EXIT_UNREACHABLE, f"the gateway at {url} answers HTML (HTTP {response.status_code} "
                                         f"{kind or 'no content-type'}), not the Messages API: pass its API base URL.")
        if not upstream.recorder.find(nonce, wait=1.0):
            print(f"note: the gateway answered HTTP {response.status_code}, but the probe did not reach the upstream "
                  f"{upstream.base_url}; gateway/reaches-upstream will say so.", file=sys.stderr, flush=True)
        return


def run_suites(args: argparse.Namespace, url: str, key: str, upstream) -> int:
    import pytest

    from conformance.cli import failing, pytest_broke, run_pytest
    from conformance.pytest_run import ConformanceRun
    from conformance.target import Secret, Target

    target = Target(base_url=url, api_key=Secret(key), model=args.model)
    selection = {"keyword": args.keyword, "expensive": args.expensive, "level": "strict", "budget_tokens": None}
    conformance_run = ConformanceRun(target, expensive=args.expensive, report_path=args.report, selection=selection)
    conformance_run.upstream = upstream.recorder  # every session of the run reaches the upstream's records
    code = run_pytest(conformance_run, args.keyword, pytest_output=args.pytest_output)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        return said(Stop(EXIT_USAGE, "no check matched the selection (-k)."))
    if conformance_run.report is None or code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
                                                  pytest.ExitCode.USAGE_ERROR):
        return pytest_broke(code, args.pytest_output)
    from conformance.summary import print_summary

    print_summary(conformance_run.report, "strict", details=not args.pytest_output)
    return EXIT_FAILED if failing(conformance_run.report, "strict") else EXIT_OK
