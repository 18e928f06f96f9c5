"""The fixtures the conformance suites use; registered only when a conformance run is active."""

from __future__ import annotations

import pytest

from conformance.engine import Session
from conformance.pytest_run import find_run


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Session:
    """The run's Session: the target, its nonces and the exchanges every check shares."""
    return find_run(request.config).session


@pytest.fixture
def conformance_check(request: pytest.FixtureRequest, conformance_session: Session):
    """Call with a check item id: runs it and turns its verdict into the pytest outcome."""
    return find_run(request.config).check_runner(request)
