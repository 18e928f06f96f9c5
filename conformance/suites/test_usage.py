"""Conformance suite: the usage checks."""

import pytest

from conformance.suites import items


@pytest.mark.parametrize("check_id", items("usage"))
def test_check(check_id, conformance_check):
    conformance_check(check_id)
