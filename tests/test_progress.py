"""The run's own progress lines: one per area when it completes, plain in a pipe, live with rich on a terminal."""

from __future__ import annotations

import io

import pytest

from conformance.progress import Progress, fancy


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def plain(targets=("",)) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    progress = Progress(list(targets), live=False, stream=out)
    progress.totals = {(t, area): n for t in targets for area, n in (("auth", 2), ("streaming", 3))}
    return progress, out


def test_a_plain_line_per_area_when_its_last_check_is_in():
    progress, out = plain()
    progress.count("", "auth/x-api-key", "pass")
    assert out.getvalue() == ""  # nothing while the area runs: no carriage returns in a pipe
    progress.count("", "auth/bearer", "pass")
    progress.count("", "streaming/a", "fail")
    progress.count("", "streaming/b[x]", "skipped")
    progress.count("", "streaming/b[y]", "fail")
    progress.close()
    assert out.getvalue().splitlines() == ["  auth             2/2    ok",
                                           "  streaming        3/3    2 fail, 1 skipped"]


def test_an_area_cut_short_still_gets_its_line_at_the_end_with_what_ran():
    progress, out = plain()
    progress.count("", "streaming/a", "error")
    progress.close()
    assert out.getvalue().splitlines() == ["  streaming        1/3    1 error"]


def test_compare_names_the_target_on_each_line():
    progress, out = plain(("a", "b"))
    for target in ("a", "b"):
        progress.count(target, "auth/x", "pass")
        progress.count(target, "auth/y", "warn")
    assert out.getvalue().splitlines() == ["  [a] auth             2/2    1 warn", "  [b] auth             2/2    1 warn"]


@pytest.mark.parametrize(("env", "tty", "live"), [({}, True, True), ({}, False, False),
                                                  ({"NO_COLOR": "1"}, True, False), ({"TERM": "dumb"}, True, False)])
def test_live_lines_only_on_a_terminal_without_no_color_or_a_dumb_term(monkeypatch, env, tty, live):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert fancy(Terminal() if tty else io.StringIO()) is live


def test_the_live_view_leaves_one_final_line_per_area(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    progress = Progress([""], stream=out)
    progress.totals = {("", "auth"): 2}
    assert progress.live
    progress.count("", "auth/x", "pass")
    progress.count("", "auth/y", "fail")
    progress.close()
    text = out.getvalue()
    assert "\x1b[" in text and "auth" in text and "1 fail" in text and "1/2" in text
