"""The fixtures the conformance suites use; registered only when a conformance run is active."""

from __future__ import annotations

import pytest

from conformance.engine import Session
from conformance.pytest_run import find_run


@pytest.fixture
def conformance_target() -> str:
    """The name of the target an item runs against ("" in a single-target run; parametrized by compare)."""
    return ""


@pytest.fixture
def conformance_session(request: pytest.FixtureRequest, conformance_target: str) -> Session:
    """The target's Session: its nonces and the exchanges every check shares."""
    return find_run(request.config).session_for(conformance_target)


@pytest.fixture
def conformance_check(request: pytest.FixtureRequest, conformance_target: str):
    """Call with a check item id: runs it and turns its verdict into the pytest outcome."""
    return find_run(request.config).check_runner(request, conformance_target)
