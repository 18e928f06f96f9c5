"""Shared fixtures of the tool's own tests: one reference server process for the whole test session."""

from __future__ import annotations

import pytest

from conformance.embedded import EmbeddedServer
from conformance.target import Target
from conformance.transport import Limits


@pytest.fixture(scope="session")
def reference_server():
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="session")
def make_target(reference_server):
    """Target(prefix) -> a deterministic target on the shared reference server, under an optional path prefix."""

    def make(prefix: str = "", **kwargs) -> Target:
        kwargs.setdefault("retry_base", 0.05)  # a fault that answers 429 costs a few quick retries and two seconds of
        kwargs.setdefault("retries", 2)  # back-off, not the bounds a real target gets
        kwargs.setdefault("limits", Limits(max_backoff=2.0))
        return reference_server.target(prefix, **kwargs)

    return make
