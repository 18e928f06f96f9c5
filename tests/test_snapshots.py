"""Snapshots (syrupy) of the reference server's normalised exchanges for the message, streaming, tools and system checks."""

from __future__ import annotations

import pytest

from conformance.engine import Session, all_checks, run_check
from conformance.target import Target
from conformance.transcripts import normalise

AREAS = ("message", "streaming", "tools", "system")
SEED = 12345
PREFIX = ""  # a path prefix on the reference server: "/faults/<spec>" serves a broken variant


@pytest.fixture(scope="module")
def records(reference_server) -> dict[str, dict]:
    """Exchange name -> normalised record, sorted by name, from one seeded session over the areas' checks."""
    target = Target(reference_server.base_url + PREFIX, reference_server.api_key, model="reference-model", embedded=True)
    session = Session(target, seed=SEED)
    try:
        for check in all_checks().values():
            if check.area in AREAS:
                for item in check.item_ids():
                    run_check(session, item)
        exchanges = session.exchanges
    finally:
        session.close()
    return {name: normalise(exchanges[name], target) for name in sorted(exchanges)}


def test_the_set_of_exchanges_the_checks_send_is_locked(records, snapshot) -> None:
    assert list(records) == snapshot


def test_every_exchange_of_the_reference_server_matches_its_snapshot(records, snapshot) -> None:
    for name, record in records.items():
        assert record == snapshot(name=name), f"exchange {name!r} differs from its snapshot"
