"""Shared fixtures of the tool's own tests: one reference server process for the whole test session."""

from __future__ import annotations

import pytest

from conformance.embedded import EmbeddedServer
from conformance.target import Target


@pytest.fixture(scope="session")
def reference_server():
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="session")
def make_target(reference_server):
    """Target(prefix) -> a deterministic target on the shared reference server, under an optional path prefix."""

    def make(prefix: str = "", **kwargs) -> Target:
        kwargs.setdefault("model", "reference-model")
        kwargs.setdefault("embedded", True)
        kwargs.setdefault("retry_base", 0.05)
        return Target(base_url=reference_server.base_url + prefix, api_key=reference_server.api_key, **kwargs)

    return make
