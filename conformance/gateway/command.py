"""`anthropic-conformance gateway`: start the recording upstream, wait (bounded) for the gateway in front of it, and
run the suites through the gateway with the upstream's recorder attached (the gateway/* checks compare both ends)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from conformance.gateway.records import new_nonce, token
from conformance.settings import DEFAULT_ANTHROPIC_VERSION

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_CODES = {EXIT_OK: "every selected check passed, warned, or was skipped with a reason",
              EXIT_FAILED: "at least one check failed or errored",
              EXIT_USAGE: "usage error (a bad --gateway-url, a port that cannot be listened on, a gateway URL that is "
                          "the upstream itself)",
              EXIT_UNREACHABLE: "the gateway did not answer within --wait seconds, or answers HTML instead of the API"}
DEFAULT_MODEL = "reference-model"  # the upstream serves the reference server's models
PLACEHOLDER_KEY = "sk-ant-conformance-gateway"  # public: a gateway that needs no key of its own gets this one


class Stop(Exception):
    """Nothing can be run: one sentence and an exit code."""

    def __init__(self, code: int, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code


def add_parser(subparsers) -> argparse.ArgumentParser:
    from conformance.settings import GATEWAY, add_arguments

    codes = "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = subparsers.add_parser(
        "gateway", help="test a gateway from both sides: the harness is its client and its upstream", epilog=codes)
    add_arguments(parser, GATEWAY)  # conformance.settings: run's rows, --gateway-url, --upstream-port and --wait
    parser.add_argument("--pytest-output", action="store_true", help="show pytest's own report")
    return parser


def run(args: argparse.Namespace) -> int:
    from conformance.inputs import InputError, run_inputs
    from conformance.settings import GATEWAY, Settings

    try:
        url = checked_url(args.gateway_url)
        settings = Settings.from_args(args, GATEWAY)
        settings = settings.replace(base_url=url, model=settings.model or DEFAULT_MODEL,
                                    api_key=settings.api_key or PLACEHOLDER_KEY)
        run_inputs(settings, args)
    except InputError as exc:
        return said(Stop(EXIT_USAGE, str(exc)))
    except Stop as stop:
        return said(stop)
    try:
        upstream = open_upstream(url, args.upstream_port, settings.api_key, settings.model, settings.wait)
    except Stop as stop:
        return said(stop)
    try:
        return run_suites(args, settings, upstream)
    finally:
        upstream.stop()


def open_upstream(url: str, port: int, key: str, model: str, wait: float,
                  names: tuple[str, str] = ("--gateway-url", "--upstream-port")):
    """The recording upstream listening on 127.0.0.1:`port`, its base URL printed first, and the gateway at `url`
    answering (within `wait` seconds). Stop, with the upstream stopped, when the port cannot be listened on, the URL
    is the upstream itself, or the gateway does not answer. `names` say where the URL and the port were given."""
    from conformance.gateway.upstream import Upstream

    url_name, port_name = names
    upstream = Upstream(port=port)
    try:
        upstream.start()
    except OSError as exc:
        raise Stop(EXIT_USAGE, f"cannot listen on 127.0.0.1:{port} for the upstream ({exc.strerror or exc}); pick "
                               f"another {port_name}, or 0 for a free one.") from None
    try:
        print(upstream.base_url, flush=True)
        print(f"upstream ready: configure the gateway at {url} to send to {upstream.base_url} (any API key; models: "
              f"reference-model and the Claude ids {upstream.base_url}/v1/models lists; OpenAI Chat Completions at "
              f"{upstream.base_url}/v1/chat/completions)", file=sys.stderr, flush=True)
        if points_at(url, upstream.port):
            raise Stop(EXIT_USAGE, f"{url_name} {url} is the upstream itself, not a gateway in front of it; "
                                   "pass the gateway's own URL.")
        wait_for_gateway(url, key, model, upstream, wait)
    except BaseException:
        upstream.stop()
        raise
    return upstream


@contextmanager
def upstreams_of(specs) -> Iterator[dict]:
    """compare: for each gateway target of a targets file (`upstream_port`), its upstream listening and its gateway
    answering, before anything runs; yields target name -> the upstream's recorder, and stops them all at the end.
    Stop as open_upstream does, naming the target's keys."""
    opened = {}
    try:
        for spec in specs:
            keys = (f"[targets.{spec.name}] base_url", f"[targets.{spec.name}] upstream_port")
            opened[spec.name] = open_upstream(spec.target.base_url, spec.upstream_port, spec.target.api_key.reveal(),
                                              spec.target.model, spec.wait, names=keys)
        yield {name: upstream.recorder for name, upstream in opened.items()}
    finally:
        for upstream in opened.values():
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
    headers = {"x-api-key": key, "authorization": f"Bearer {key}", "anthropic-version": DEFAULT_ANTHROPIC_VERSION}
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


def run_suites(args: argparse.Namespace, settings, upstream) -> int:
    import pytest

    from conformance.cli import pytest_broke, run_pytest, write_views
    from conformance.run import Run

    run = Run(settings)
    run.upstreams[""] = upstream.recorder  # every session of the run reaches the upstream's records
    code = run_pytest(run, settings.keyword, pytest_output=args.pytest_output)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        return said(Stop(EXIT_USAGE, "no check matched the selection (-k)."))
    if run.report is None or code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
                                      pytest.ExitCode.USAGE_ERROR):
        return pytest_broke(code, args.pytest_output)
    from conformance.summary import print_summary

    print_summary(run.report, settings.level, details=not args.pytest_output)
    write_views({run.report["target"]["base_url"]: run.report}, settings.markdown, settings.html)
    if settings.junit:
        from conformance.junit import write_junit

        write_junit(run.report, settings.junit)
    return EXIT_FAILED if run.failing(run.report) else EXIT_OK
