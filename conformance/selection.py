"""Which check items a `-k` expression selects (pytest's rule), without a pytest session."""

from __future__ import annotations


def selected_items(area: str | None, keyword: str | None) -> list[str]:
    """The check items (of `area`, or of every area) that `-k keyword` selects: case-insensitive substrings."""
    from _pytest.mark.expression import Expression

    from conformance.engine import all_checks

    items = [i for c in all_checks().values() if area is None or c.area == area for i in c.item_ids()]
    if not keyword:
        return items
    expression = Expression.compile(keyword)
    return [i for i in items if expression.evaluate(lambda sub, i=i: sub.lower() in i.lower())]
