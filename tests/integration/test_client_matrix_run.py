"""The clients x faults matrix for real, on a few rows: every client installed (cached by version), the clean server
and three faults whose outcome is known, written as JSON and Markdown. Marked `clients` (installs from npm/PyPI).
The full run is `python -m conformance.client_matrix --out docs/client-matrix`."""

from __future__ import annotations

import json

import pytest

from conformance.client_matrix import run_matrix
from conformance.client_matrix.outcome import BREAKS, DEGRADED, NOT_RUN, WORKS

pytestmark = pytest.mark.clients

ONLY = ["bearer-only-auth", "x-api-key-only-auth", "auth-not-enforced"]  # in the registry's order


def test_the_matrix_runs_every_client_and_knows_who_an_auth_dialect_breaks(tmp_path):
    matrix = run_matrix(only=ONLY, out=tmp_path / "client-matrix", budget=600)
    not_installed = [n for n in matrix.notes if "not installed" in n]
    if not_installed:
        pytest.skip("; ".join(not_installed))
    assert matrix.problems() == []
    rows = {row.name: {column: cell.outcome for column, cell in row.cells.items()} for row in matrix.rows}
    assert list(rows) == ["clean", *ONLY]
    assert set(rows["clean"].values()) == {WORKS}
    # Bearer senders (SDK 2.x, TypeScript SDK 1.x) against an x-api-key-only server, and the other way round
    assert rows["x-api-key-only-auth"] == {"claude-code": WORKS, "claude-code-model": WORKS, "python-sdk-2": BREAKS,
                                           "python-sdk-1": WORKS, "typescript-sdk": BREAKS}
    assert rows["bearer-only-auth"] == {"claude-code": BREAKS, "claude-code-model": BREAKS, "python-sdk-2": WORKS,
                                        "python-sdk-1": BREAKS, "typescript-sdk": WORKS}
    # a wrong key accepted: the SDKs' error path differs, Claude Code never sends a wrong key
    for sdk in ("python-sdk-2", "python-sdk-1", "typescript-sdk"):
        assert rows["auth-not-enforced"][sdk] == DEGRADED
    data = json.loads((tmp_path / "client-matrix.json").read_text())
    assert all(c["version"] for c in data["clients"]) and NOT_RUN not in json.dumps(data["counts"]).replace(
        f'"{NOT_RUN}": 0', "")
    assert "x-api-key-only-auth" in (tmp_path / "client-matrix.md").read_text()
