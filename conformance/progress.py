"""The run's own progress: one line per area (per target in compare), live with rich on a terminal, plain otherwise."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

import pytest

ORDER = ("fail", "error", "warn", "unsupported", "skipped")  # what a line counts besides passes, in this order
COLOURS = {"fail": "red", "error": "red", "warn": "yellow", "unsupported": "magenta", "skipped": "dim"}
AREA_WIDTH = 14


def fancy(stream=None) -> bool:
    """Live lines with colour: stdout is a terminal and neither NO_COLOR nor TERM=dumb is set."""
    stream = stream or sys.stdout
    return (hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb")


def _tick(stream) -> str:
    encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
    return "✓" if encoding.startswith("utf") else "ok"


class Progress:
    """A pytest plugin the CLI registers: counts each check's verdict as its report reaches this process (the
    controller, under xdist) and shows a line per area; an area's final line when its last check is in."""

    def __init__(self, targets: list[str], keyword: str | None = None, live: bool | None = None, stream=None):
        from conformance.selection import selected_items

        self.stream = stream or sys.stdout
        self.live = fancy(self.stream) if live is None else live
        self.targets = list(targets)
        self.counts: dict[tuple[str, str], Counter] = {}
        self.totals: dict[tuple[str, str], int] = {}  # from the selection until collection says better
        areas = sorted({check.area for check in _checks()})
        for name in self.targets:
            for area in areas:
                if total := len(selected_items(area, keyword)):
                    self.totals[(name, area)] = total
        self.done: set[tuple[str, str]] = set()
        self._live = None
        self._console = None

    # pytest hooks ---------------------------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Without xdist the controller collects: the totals are exactly what will run."""
        totals: Counter = Counter()
        for item in session.items:
            params = getattr(getattr(item, "callspec", None), "params", {})
            if isinstance(params.get("check_id"), str):
                totals[(params.get("conformance_target", ""), params["check_id"].split("/")[0])] += 1
        if totals:
            self.totals = dict(totals)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from conformance.pytest_run import OUTSIDE_PROPERTY, USER_PROPERTY

        for key, value in report.user_properties:
            if key == OUTSIDE_PROPERTY or (key == USER_PROPERTY and report.when == "call"):
                record = json.loads(value)
                verdict = "error" if key == OUTSIDE_PROPERTY else record["verdict"]
                self.count(record.get("target", ""), record["id"], verdict)

    def pytest_sessionfinish(self) -> None:
        self.close()

    # the view -------------------------------------------------------------------------------------------------
    def count(self, target: str, item_id: str, verdict: str) -> None:
        key = (target, item_id.split("/")[0])
        self.counts.setdefault(key, Counter())[verdict] += 1
        self.totals[key] = max(self.totals.get(key, 0), sum(self.counts[key].values()))
        if sum(self.counts[key].values()) >= self.totals[key]:
            self.finish(key)
        elif self.live:
            self.refresh()

    def finish(self, key: tuple[str, str]) -> None:
        if key in self.done:
            return
        self.done.add(key)
        if self.live:  # the live region without the area first, then its final line above the region
            self.refresh()
            self._live.console.print(self.line(key, markup=True), highlight=False)
        else:
            print(self.line(key), file=self.stream, flush=True)

    def line(self, key: tuple[str, str], markup: bool = False) -> str:
        """`  streaming     24/31  2 fail` (with the target in brackets in compare)."""
        target, area = key
        counts = self.counts.get(key, Counter())
        seen = sum(counts.values())
        parts = [f"{counts[v]} {v}" for v in ORDER if counts[v]]
        if markup:
            parts = [f"[{COLOURS[v]}]{counts[v]} {v}[/]" for v in ORDER if counts[v]]
        if not parts and seen and seen == self.totals.get(key):
            parts = ["[green]✓[/]" if markup else _tick(self.stream)]
        width = max(map(len, self.targets)) + 3
        name = f"[{target}] ".ljust(width) if len(self.targets) > 1 or target else ""
        if markup:
            name = name.replace("[", "\\[")
        return f"  {name}{area:{AREA_WIDTH}}{seen:>4}/{self.totals.get(key, seen):<4} {', '.join(parts)}".rstrip()

    def _start(self) -> None:
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream, highlight=False)
            self._live = Live(console=self._console, auto_refresh=False, transient=True)
            self._live.start()

    def refresh(self) -> None:
        from rich.text import Text

        self._start()
        running = [Text.from_markup(self.line(key, markup=True)) for key in self.counts if key not in self.done]
        self._live.update(Text("\n").join(running) if running else Text(""), refresh=True)

    def close(self) -> None:
        """The session ended: a final line for every area that was started but not finished (a check deselected
        differently than counted, or a run cut short), then the live region goes."""
        for key in list(self.counts):
            self.finish(key)
        if self._live is not None:
            self._live.update("", refresh=True)
            self._live.stop()
            self._live = None


def _checks():
    from conformance.engine import all_checks

    return all_checks().values()
