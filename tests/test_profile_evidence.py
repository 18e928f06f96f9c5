"""Client profiles derived from real clients (docs/client-matrix.json) and the harness's own verdicts for every
reference-server fault (fixtures/selftest_verdicts.json), and their agreement with what the clients did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import profile_agreement as pa
from conformance import profile_evidence as pe
from conformance.diff import PROFILE_ORDER
from conformance.profiles import readiness, status_of
from conformance.summary import profile_line

VERDICTS = pe.load_verdicts()
# the checkout's docs/ (the tests run from a checkout; an installed package has no docs/)
MATRIX_PATH = Path(__file__).resolve().parent.parent / "docs" / "client-matrix.json"
MATRIX = pe.load_matrix(MATRIX_PATH)
RANK = {"ready": 0, "degraded": 1, "not-covered": 1, "not-ready": 2}


def test_profiles_json_is_what_the_derivation_writes_from_the_committed_evidence():
    committed = json.loads(pe.PROFILES_FIXTURE.read_text(encoding="utf-8"))
    assert pe.derive(VERDICTS, MATRIX, committed) == committed, "run: python -m conformance.profile_evidence derive"


def test_every_profile_agrees_with_every_real_client_on_every_fault_and_variant():
    compared, wrong = pa.agreement(VERDICTS, MATRIX)
    rows = {r["name"] for r in MATRIX["rows"]} - set(pe.CONTENT_ROWS)
    assert {e["row"] for e in compared} == rows and len(compared) == len(rows) * 5
    assert pa.unexplained(compared, wrong) == [], "\n".join(pa.agreement_lines(compared, wrong))


def test_no_disagreement_is_a_false_alarm_every_one_is_a_profile_softer_than_its_client():
    _, wrong = pa.agreement(VERDICTS, MATRIX)
    assert all(RANK[e["prediction"]] < RANK[pe.PREDICTS[e["outcome"]]] for e in wrong), wrong


def test_the_agreement_command_exits_0_and_prints_the_agreement_per_client(capsys):
    assert pe.main(["agree", "--matrix", str(MATRIX_PATH)]) == 0
    out = capsys.readouterr().out
    compared, _ = pa.agreement(VERDICTS, MATRIX)
    assert "claude-code-model" in out and f" of {len(compared)} agree" in out and len(compared) > 800


def test_the_readiness_doc_is_in_sync():
    profiles = json.loads(pe.PROFILES_FIXTURE.read_text(encoding="utf-8"))
    doc = MATRIX_PATH.parent / pa.READINESS_DOC
    assert doc.read_text(encoding="utf-8") == pa.markdown(VERDICTS, MATRIX, profiles), \
        "run: python -m conformance.profile_evidence docs"


def test_a_disagreement_nobody_explained_fails_with_the_fault_the_client_the_prediction_and_the_outcome():
    matrix = json.loads(json.dumps(MATRIX))
    row = next(r for r in matrix["rows"] if r["name"] == "reject-metadata")
    row["cells"]["python-sdk-2"]["outcome"] = "breaks"  # pretend a client update changed the outcome
    compared, wrong = pa.agreement(VERDICTS, matrix)
    assert pa.unexplained(compared, wrong) == ["reject-metadata python-sdk-2"]
    line = next(line for line in pa.agreement_lines(compared, wrong) if line.startswith("DISAGREE"))
    assert line.startswith("DISAGREE reject-metadata (fault) python-sdk-2: profile anthropic-python-2 says ready")
    assert line.endswith("the client breaks")


def test_every_entry_cites_its_evidence_and_the_three_duplicates_are_gone():
    for name, spec in json.loads(pe.PROFILES_FIXTURE.read_text(encoding="utf-8"))["profiles"].items():
        checks = [e["check"] for key in ("required", "degrading") for e in spec[key]]
        assert len(checks) == len(set(checks)), name
        for entry in spec["required"] + spec["degrading"]:
            assert entry["evidence"] and all(ev["client_version"] and ev["observed"] for ev in entry["evidence"])
            assert set(entry["breaks_under"] + entry["degrades_under"]) <= set(VERDICTS["rows"])


def test_a_refused_version_fails_the_clients_that_send_it_once_and_leaves_the_others_judged_by_their_own():
    profiles = readiness(pe.results_of(VERDICTS, "only-version-2026"), VERDICTS["items"])
    assert profiles["claude-code"]["failing"] == ["headers/anthropic-version[2023-06-01]"]
    assert profiles["anthropic-python-1"]["status"] == "not-ready"
    assert profiles["anthropic-python-2"]["status"] == profiles["anthropic-typescript-1"]["status"] == "ready"


def test_the_profile_line_explains_the_cause_with_what_the_client_does():
    results = pe.results_of(VERDICTS, "reject-metadata")
    profiles = readiness(results, VERDICTS["items"])
    line = profile_line("claude-code", profiles["claude-code"], {"results": results})
    assert line.split(None, 1)[1] == ("not-ready: acceptance/metadata-user-id — Claude Code stops: 400 metadata: "
                                      "Extra inputs are not permitted")
    assert profile_line("anthropic-python-2", profiles["anthropic-python-2"], {"results": results}).split() == [
        "anthropic-python-2", "ready"]


def test_causes_come_by_impact_required_first_then_the_check_that_breaks_most_clients():
    items = ["acceptance/metadata-user-id", "auth/x-api-key", "tools/tool-use-id"]
    results = [{"id": i, "verdict": "fail", "compat_verdict": "fail", "reason": ""} for i in items]
    causes = readiness(results, items)["claude-code"]["causes"]
    # auth/x-api-key breaks Claude Code and the Python SDK 1.x; metadata only Claude Code; tool ids only degrade it
    assert [c["check"] for c in causes] == items[1::-1] + items[2:]
    assert [c["kind"] for c in causes] == ["required", "required", "degrading"]
    line = profile_line("claude-code", {"status": "not-ready", **{k: v for k, v in readiness(results, items)[
        "claude-code"].items() if k != "status"}}, {"results": results})
    assert line.split(None, 2)[2].startswith("auth/x-api-key — Claude Code stops: Failed to authenticate.")
    assert line.endswith("; also tools/tool-use-id")


def test_an_old_report_that_says_limited_is_read_as_degraded():
    assert status_of({"status": "limited"}) == "degraded" and status_of({"status": "ready"}) == "ready"
    assert PROFILE_ORDER["limited"] == PROFILE_ORDER["degraded"]
    old = {"status": "limited", "failing": [], "limiting": ["tools/tool-use-id"], "not_run": []}
    assert profile_line("claude-code", old, {"results": []}).split(None, 1)[1] == "degraded: tools/tool-use-id"


@pytest.mark.evidence
def test_the_committed_self_test_verdicts_are_what_the_self_test_gives_today():
    fresh = pe.collect_verdicts(workers=2, log=lambda _: None)
    changes = pe.verdict_changes(VERDICTS, fresh)
    assert not changes, "run: python -m conformance.profile_evidence verdicts (then derive)\n" + "\n".join(changes)


def test_without_the_matrix_the_command_says_so_in_one_sentence(tmp_path, capsys):
    assert pe.main(["agree", "--matrix", str(tmp_path / "client-matrix.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no clients x faults matrix at ") and err.count("\n") == 1
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert pe.main(["agree", "--matrix", str(tmp_path / "broken.json")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read the clients x faults matrix")
