"""The detection matrix: built against a few faults, and its judgement of what counts as a problem."""

from __future__ import annotations

from conformance import selftest
from conformance.verdicts import Verdict

P, F, W, S = Verdict.PASS, Verdict.FAIL, Verdict.WARN, Verdict.SKIPPED


def matrix(rows, expected=None, limits=None):
    return selftest.Matrix(rows, expected or {}, limits or {})


def row(name, kind, **verdicts):
    return selftest.Row(name, kind, "", {k.replace("_", "/"): (v, v) for k, v in verdicts.items()})


def test_a_fault_that_misses_its_expected_check_is_a_problem():
    m = matrix([row("f", "fault", a_x=P, a_y=F)], expected={"f": {"a/x"}})
    assert "fault f: not caught by a/x" in m.problems()


def test_a_check_that_no_fault_trips_is_a_problem():
    m = matrix([row("f", "fault", a_x=F, a_y=P)], expected={"f": {"a/x"}})
    assert m.problems() == ["check a/y: no fault trips it"]


def test_a_variant_that_trips_a_check_is_a_false_positive_unless_it_is_a_known_client_limit():
    rows = [row("f", "fault", a_x=F, a_y=F), row("v", "variant", a_x=W, a_y=S)]
    assert matrix(rows).problems() == ["variant v: false positive on a/x"]
    assert matrix(rows, limits={"v a/x": "a client cannot read it"}).problems() == []


def test_it_runs_every_check_against_the_named_faults_on_one_server():
    m = selftest.build(workers=4, only=["sse-no-message-stop", "crlf"])
    by_name = {r.name: r for r in m.rows}
    assert set(by_name) == {"clean", "sse-no-message-stop", "crlf"}
    assert "streaming/message-stop-last" in by_name["sse-no-message-stop"].tripped
    assert by_name["crlf"].tripped == [] and by_name["clean"].tripped == []
    assert "| `sse-no-message-stop` | fault |" in selftest.markdown(m)
