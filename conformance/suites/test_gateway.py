"""Conformance suite: the gateway checks (judged only in gateway mode; skipped with the reason otherwise)."""

import pytest

from conformance.suites import items


@pytest.mark.parametrize("check_id", items("gateway"))
def test_check(check_id, conformance_check):
    conformance_check(check_id)
