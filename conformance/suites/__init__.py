"""The conformance suites: one pytest item per check id, grouped by area."""

from __future__ import annotations

import pytest


def items(area: str) -> list:
    """pytest params for every check item of `area`, named by check id and marked with its cost tier."""
    from conformance.engine import all_checks

    params = []
    for check in all_checks().values():
        if check.area != area:
            continue
        for item_id in check.item_ids():
            params.append(pytest.param(item_id, id=item_id, marks=[getattr(pytest.mark, check.tier)]))
    return params
