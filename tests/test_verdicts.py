"""How one failure reads: the reproduce command carries the run's settings, never a credential."""

from __future__ import annotations

import shlex

from conformance.target import Secret, Target
from conformance.verdicts import reproduce_command

KEY = "sk-ant-canary-" + "r3pr0" * 6


def test_the_embedded_server_needs_only_the_check_id():
    target = Target(base_url="http://127.0.0.1:1", api_key=Secret(KEY), model="reference-model", embedded=True)
    assert reproduce_command(target, "auth/x-api-key") == "anthropic-conformance run -k 'auth/x-api-key'"


def test_a_real_target_repeats_every_setting_that_changes_what_is_judged():
    target = Target(base_url=f"https://user:{KEY}@gw.example/anthropic?api_key={KEY}", api_key=Secret(KEY),
                    model="claude x", headers=(("x-team", "blue"), ("x-gateway-key", KEY)),
                    anthropic_version="2026-10-21", without=frozenset({"thinking", "images"}))
    line = reproduce_command(target, "errors/envelope[auth-wrong]", expensive=True, level="compat")
    assert KEY not in line and "blue" not in line
    assert shlex.split(line) == [
        "anthropic-conformance", "run", "--base-url", "https://gw.example/anthropic?api_key=<redacted>",
        "--model", "claude x", "--header", "x-team:<value>", "--header", "x-gateway-key:<value>",
        "--anthropic-version", "2026-10-21", "--without", "images,thinking", "--expensive", "--level", "compat",
        "-k", "errors/envelope[auth-wrong]"]


def test_defaults_are_left_out():
    target = Target(base_url="http://127.0.0.1:9/p", api_key=Secret(KEY), model="m")
    assert reproduce_command(target, "a/b") == "anthropic-conformance run --base-url http://127.0.0.1:9/p --model m -k 'a/b'"
