"""Conformance suite: the features checks."""

import pytest

from conformance.suites import items


@pytest.mark.parametrize("check_id", items("features"))
def test_check(check_id, conformance_check):
    conformance_check(check_id)
