"""Data files check themselves, and the generated docs are in sync with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import docs
from conformance.data import load_json, rules
from conformance.engine import FEATURES, all_checks
from conformance.profiles import matching, patterns

DOCS = Path(__file__).resolve().parent.parent / "docs"
ALL_IDS = sorted(item for check in all_checks().values() for item in check.item_ids())
# The rows of the shared defect catalogue (its numbering skips 24, 25 and 46).
DEFECT_ROWS = [*range(1, 24), *range(26, 46), 47, 48, 49]


def test_every_check_cites_a_rule_that_exists():
    assert {c.rule for c in all_checks().values()} <= set(rules())


def test_every_rule_has_a_statement_and_a_source():
    assert all(r["statement"].strip() and r["source"].strip() for r in rules().values())


def test_check_ids_are_unique_and_well_formed():
    import re

    assert len(ALL_IDS) == len(set(ALL_IDS))
    assert all(re.fullmatch(r"[a-z][a-z-]*/[a-z0-9-]+(\[[A-Za-z0-9._-]+\])?", i) for i in ALL_IDS)


def test_features_are_from_the_closed_list():
    assert {c.feature for c in all_checks().values() if c.feature} <= set(FEATURES)


def test_there_are_at_least_120_distinct_check_ids():
    assert len({c.id for c in all_checks().values()}) >= 120


def test_every_defect_row_maps_to_checks_that_exist():
    defects = load_json("fixtures", "defects.json")["defects"]
    assert sorted(map(int, defects)) == DEFECT_ROWS
    for number, row in defects.items():
        assert row["checks"], number
        assert set(row["checks"]) <= {c.id for c in all_checks().values()}, number


def test_every_check_that_catches_a_defect_has_a_fault_that_trips_it():
    fault_map = load_json("fixtures", "fault_map.json")["checks"]
    for row in load_json("fixtures", "defects.json")["defects"].values():
        for check_id in row["checks"]:
            assert any(item.split("[")[0] == check_id for item in fault_map), check_id


@pytest.mark.parametrize("name", sorted(load_json("fixtures", "profiles.json")["profiles"]))
def test_every_profile_pattern_matches_some_check(name):
    spec = load_json("fixtures", "profiles.json")["profiles"][name]
    for pattern in patterns(spec["required"] + spec.get("degrading", [])):
        assert matching([pattern], ALL_IDS), pattern


@pytest.mark.parametrize("page", sorted(docs.PAGES))
def test_the_generated_docs_are_in_sync(page):
    assert (DOCS / page).read_text(encoding="utf-8") == docs.PAGES[page](), "run: python -m conformance.docs"
