"""Every check fires on a reference-server fault of its own and passes on the clean server."""

from __future__ import annotations

import pytest

from conformance.data import load_json
from conformance.engine import Session, all_checks, run_check, split_item_id
from conformance.verdicts import Verdict
from reference_server import FAULTS

FAULT_MAP = load_json("fixtures", "fault_map.json")["checks"]
CASES = [(item, entry["fault"], entry["verdict"], entry.get("compat", entry["verdict"]))
         for item, entries in FAULT_MAP.items() for entry in entries]
# The gateway area needs a recording upstream behind a gateway: tests/test_gateway.py proves it with faulty proxies.
ALL_ITEMS = sorted(item for check in all_checks().values() if check.area != "gateway" for item in check.item_ids())
VARIANTS = [name for name, fault in FAULTS.items() if fault.kind == "variant"]
# Valid framing that a real client still cannot read: the client-compatibility check is right to fail there.
CLIENT_LIMITS = {tuple(key.split(" ")): why for key, why in load_json("fixtures", "fault_map.json")["client_limits"].items()}


@pytest.fixture(scope="module")
def clean_results(make_target):
    session = Session(make_target(), expensive=True, idle_gap_limit=1.0)
    try:
        yield {item: run_check(session, item) for item in ALL_ITEMS}
    finally:
        session.close()


def test_every_check_item_has_a_fault_that_trips_it():
    assert sorted(FAULT_MAP) == ALL_ITEMS


def test_every_fault_in_the_map_exists_on_the_reference_server():
    missing = {case[1] for case in CASES} - set(FAULTS)
    assert not missing


# Checks that judge what a target does only when it happens (a mid-stream error): skipped, with the reason, on a
# clean server that never does it; their faults prove they fire.
OBSERVATIONAL = set(load_json("fixtures", "fault_map.json")["observational"])


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_the_check_passes_on_the_clean_reference_server(item, clean_results):
    result = clean_results[item]
    expected = Verdict.SKIPPED if item in OBSERVATIONAL else Verdict.PASS
    assert (result.verdict, result.at("compat")) == (expected, expected), (result.reason, result.findings)


@pytest.mark.parametrize(("item", "fault", "verdict", "compat"), CASES, ids=[f"{c[0]}<-{c[1]}" for c in CASES])
def test_the_check_fires_under_its_fault_naming_its_rule(item, fault, verdict, compat, make_target):
    model = FAULTS[fault].model  # a layer in front of one model is judged on it
    session = Session(make_target(f"/faults/{fault}", **({"model": model} if model else {})), expensive=True,
                      idle_gap_limit=1.0)
    try:
        result = run_check(session, item)
    finally:
        session.close()
    assert (result.verdict.value, result.at("compat").value) == (verdict, compat), (result.reason, result.findings)
    rule = all_checks()[split_item_id(item)[0]].rule
    if verdict == "unsupported":
        assert result.reason.startswith("unsupported: ")
    else:
        assert any(f.rule == rule for f in result.findings) or rule in result.reason


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_check_fails_on_a_valid_but_unusual_variant(variant, make_target):
    session = Session(make_target(f"/faults/{variant}"), expensive=True, idle_gap_limit=1.0)
    try:
        bad = {}
        for item in ALL_ITEMS:
            result = run_check(session, item)
            expected = Verdict.SKIPPED if item in OBSERVATIONAL else Verdict.PASS
            if (variant, item) in CLIENT_LIMITS:
                assert result.verdict is Verdict.FAIL, CLIENT_LIMITS[variant, item]
            elif result.verdict is not expected or result.at("compat") is not expected:
                bad[item] = (result.verdict.value, result.reason, [f.got for f in result.findings][:2])
    finally:
        session.close()
    assert not bad


def test_no_check_fails_under_a_base_url_with_a_path_prefix(make_target):
    session = Session(make_target("/puterai/anthropic"), expensive=True, idle_gap_limit=1.0)
    try:
        results = {item: run_check(session, item) for item in ALL_ITEMS}
    finally:
        session.close()
    bad = {item: r.verdict.value for item, r in results.items()
           if r.verdict is not (Verdict.SKIPPED if item in OBSERVATIONAL else Verdict.PASS)}
    assert not bad
    assert all("/puterai/anthropic/v1/" in ex.url for ex in session.exchanges.values() if "/v1/" in ex.url)


def test_a_stream_that_is_an_error_event_alone_is_not_judged_for_pings(make_target):
    """The real API answers an overload with a lone error event on a 200 stream: nothing there to keep alive."""
    session = Session(make_target("/faults/sse-request-error-first"), idle_gap_limit=1.0)
    try:
        result = run_check(session, "streaming/has-ping")
    finally:
        session.close()
    assert result.verdict is Verdict.SKIPPED
    assert "streaming/message-start-first" in result.reason
