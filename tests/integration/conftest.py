"""The real-client tests' run summary: which client versions were installed (or why a client was skipped)."""

from __future__ import annotations

import pytest

CLIENT_VERSIONS = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[CLIENT_VERSIONS] = {}


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    versions = config.stash.get(CLIENT_VERSIONS, {})
    if versions:
        terminalreporter.write_sep("-", "real clients")
        for client, version in versions.items():
            terminalreporter.write_line(f"{client}: {version}")


@pytest.fixture(scope="session")
def client_versions(request: pytest.FixtureRequest) -> dict[str, str]:
    """Client name -> the installed version, or `skipped: <reason>`; printed at the end of the run."""
    return request.config.stash.setdefault(CLIENT_VERSIONS, {})
