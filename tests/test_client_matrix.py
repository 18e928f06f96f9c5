"""The clients x faults matrix without network or real clients: how a scenario is judged, how a cell is classified,
what the writers produce. (The real run is tests/integration/test_client_matrix_run.py, marked `clients`.)"""

from __future__ import annotations

import json

import pytest

from conformance.client_matrix import outcome, scenarios
from conformance.client_matrix.outcome import BREAKS, DEGRADED, NOT_RUN, WORKS, Cell, ClientMatrix, Row, classify
from conformance.client_matrix.scenarios import DIFFERS, FAILED, OK, ScenarioResult, judge_claude, judge_sdk

EXPECT = {"text": "alpha beta", "tool": "lookup_x", "key": "k1", "answer": "gamma delta"}


def results(**statuses: str) -> list[ScenarioResult]:
    return [ScenarioResult(name, status, "" if status == OK else f"{name} went wrong") for name, status in statuses.items()]


@pytest.mark.parametrize("statuses, expected", [
    ({"create": OK, "stream": OK, "wrong_key": OK}, WORKS),
    ({"create": OK, "stream": FAILED, "wrong_key": OK}, DEGRADED),
    ({"create": OK, "stream": OK, "wrong_key": DIFFERS}, DEGRADED),
    ({"create": DIFFERS, "stream": OK}, DEGRADED),  # the words came back, a stop_reason differs
    ({"create": FAILED, "stream": OK, "wrong_key": OK}, BREAKS),
    ({"stream": OK}, BREAKS),  # the main scenario missing is no success
    ({}, NOT_RUN),
])
def test_a_cell_breaks_only_on_its_main_scenario_and_degrades_on_anything_else(statuses, expected):
    assert classify(results(**statuses), "create") == expected


def test_claude_code_cells_use_the_plain_prompt_as_main_scenario():
    assert classify(results(prompt=OK, tool=FAILED), "prompt") == DEGRADED
    assert classify(results(prompt=FAILED, tool=OK), "prompt") == BREAKS


def test_sdk_create_is_judged_on_the_words_then_the_stop_reason():
    ok = {"result": {"text": "alpha beta", "stop_reason": "end_turn"}}
    assert judge_sdk("create", ok, EXPECT) == (OK, "")
    status, evidence = judge_sdk("create", {"result": {"text": "alpha", "stop_reason": "end_turn"}}, EXPECT)
    assert status == FAILED and "wrong text" in evidence
    status, evidence = judge_sdk("create", {"result": {"text": "alpha beta", "stop_reason": "stop"}}, EXPECT)
    assert status == DIFFERS and "'stop'" in evidence
    raised = {"error": "APIStatusError: Error code: 500", "error_class": "InternalServerError",
              "requests": [{"status": 500}, {"status": 500}, {"status": 500}]}
    status, evidence = judge_sdk("create", raised, EXPECT)
    assert status == FAILED and evidence == "APIStatusError: Error code: 500 [HTTP 500, 500, 500]"


def test_a_timed_out_scenario_fails_with_the_time_it_was_given():
    assert judge_sdk("stream", {"timeout": True, "error": "timed out after 20 s"}, EXPECT) == (
        FAILED, "timed out after 20 s [no HTTP response]")


def test_error_paths_expect_the_sdk_error_class():
    assert judge_sdk("wrong_key", {"error_class": "AuthenticationError", "error": "x"}, EXPECT) == (OK, "")
    status, evidence = judge_sdk("wrong_key", {"result": {"no_exception": True}, "requests": [{"status": 200}]},
                                 EXPECT)
    assert status == DIFFERS and "no exception" in evidence and "[HTTP 200]" in evidence
    status, evidence = judge_sdk("bad_request", {"error_class": "UnprocessableEntityError",
                                                 "error": "UnprocessableEntityError: 422"}, EXPECT)
    assert status == DIFFERS and evidence.startswith("expected BadRequestError, got UnprocessableEntityError")


def test_streams_need_the_words_in_the_deltas_and_a_whole_event_sequence():
    events = ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
              "message_delta", "message_stop"]
    good = {"result": {"event_types": events, "streamed_text": "alpha beta", "text": "alpha beta",
                       "stop_reason": "end_turn"}}
    assert judge_sdk("stream", good, EXPECT) == (OK, "")
    assert judge_sdk("stream_helper", good, EXPECT) == (OK, "")
    empty = {"result": {"event_types": [], "streamed_text": "", "text": "", "stop_reason": None}}
    assert judge_sdk("stream", empty, EXPECT)[0] == FAILED
    cut = {"result": dict(good["result"], event_types=events[:-1])}
    status, evidence = judge_sdk("stream", cut, EXPECT)
    assert status == DIFFERS and "event sequence" in evidence


def test_a_tool_round_trip_needs_the_call_and_the_result_in_the_answer():
    call = [{"id": "toolu_1", "name": "lookup_x", "input": {"key": "k1"}}]
    good = {"result": {"first": {"stop_reason": "tool_use"}, "tool_calls": call,
                       "final": {"text": "it is gamma delta", "stop_reason": "end_turn"}}}
    assert judge_sdk("tools", good, EXPECT) == (OK, "")
    no_call = {"result": {"first": {"stop_reason": "end_turn"}, "tool_calls": []}}
    assert judge_sdk("tools", no_call, EXPECT)[0] == FAILED
    wrong_stop = {"result": dict(good["result"], first={"stop_reason": "end_turn"})}
    assert judge_sdk("tools", wrong_stop, EXPECT)[0] == DIFFERS


def test_claude_code_runs_are_judged_on_exit_code_result_line_and_words():
    line = json.dumps({"type": "result", "is_error": False, "result": "alpha beta",
                       "modelUsage": {"claude-opus-5-5": {}}})
    assert judge_claude(0, "noise\n" + line, "", "alpha beta", 2.0, 60) == (OK, "", ["claude-opus-5-5"])
    failed = json.dumps({"type": "result", "is_error": True, "result": "API Error: 400 bad thinking"})
    status, evidence, _ = judge_claude(1, failed, "warning", "alpha beta", 2.0, 60)
    assert status == FAILED and evidence == "exit 1: API Error: 400 bad thinking | stderr: warning"
    assert judge_claude(None, "", "", "alpha beta", 60.0, 60)[:2] == (FAILED, "timed out after 60 s")
    assert judge_claude(0, "not json", "", "alpha beta", 1.0, 60)[0] == FAILED
    wrong = json.dumps({"type": "result", "is_error": False, "result": "something else"})
    assert judge_claude(0, wrong, "", "alpha beta", 1.0, 60)[0] == FAILED


def test_evidence_is_redacted_and_trimmed():
    redact = scenarios.Redactor(("sk-ant-secret", "<key>"), ("http://127.0.0.1:5555", "<base-url>"))
    assert redact("key sk-ant-secret at http://127.0.0.1:5555/faults/x") == "key <key> at <base-url>/faults/x"
    assert len(scenarios.trim("x" * 1000)) == scenarios.EVIDENCE_LIMIT


def fake_matrix() -> ClientMatrix:
    columns = [{"id": "python-sdk-2", "client": "python-sdk-2", "label": "Python SDK 2.x", "version": "2.99.0",
                "main": "create", "scenarios": {"create": "plain", "wrong_key": "auth"}},
               {"id": "claude-code", "client": "claude-code", "label": "Claude Code", "version": "9.9.9",
                "main": "prompt", "scenarios": {"prompt": "plain"}, "models_seen": ["m1"]}]
    clean = Row("clean", "clean", "as it is", {"python-sdk-2": Cell(WORKS, results(create=OK, wrong_key=OK)),
                                                "claude-code": Cell(WORKS, results(prompt=OK))})
    fault = Row("auth-not-enforced", "fault", "any key | none", {
        "python-sdk-2": Cell(DEGRADED, results(create=OK, wrong_key=DIFFERS)),
        "claude-code": Cell(BREAKS, results(prompt=FAILED))})
    return ClientMatrix(columns, [clean, fault], 12.0, {"sdk": 20.0, "claude-code": 60.0})


def test_the_writers_give_json_that_round_trips_and_a_table_with_every_non_working_cell(tmp_path):
    matrix = fake_matrix()
    json_path, md_path = outcome.write(matrix, tmp_path / "client-matrix")
    data = json.loads(json_path.read_text())
    assert data["counts"]["python-sdk-2"] == {WORKS: 1, DEGRADED: 1, BREAKS: 0, NOT_RUN: 0}
    assert data["problems"] == [] and set(data["definitions"]) == {WORKS, DEGRADED, BREAKS, NOT_RUN}
    assert data["rows"][1]["cells"]["claude-code"] == {
        "outcome": BREAKS, "scenarios": {"prompt": {"status": FAILED, "evidence": "prompt went wrong", "seconds": 0.0}}}
    assert outcome.to_json(outcome.from_json(data)) == data
    text = md_path.read_text()
    assert "| `auth-not-enforced` | fault | **degraded** | **BREAKS** |" in text
    assert "- `claude-code` breaks, `prompt` failed: prompt went wrong" in text
    assert "- `python-sdk-2` degraded, `wrong_key` differs: wrong_key went wrong" in text
    assert "any key \\| none" in text and "2.99.0" in text and "none: every client works" in text


def test_a_client_that_does_not_work_against_the_clean_server_is_a_problem():
    matrix = fake_matrix()
    matrix.rows[0].cells["claude-code"] = Cell(BREAKS, results(prompt=FAILED))
    assert matrix.problems() == ["claude-code does not work against the clean server (breaks): prompt: prompt went "
                                 "wrong"]
    assert "**Problems:** \n- claude-code does not work" in outcome.to_markdown(matrix)


def test_the_plan_has_the_clean_server_first_then_every_fault_and_variant():
    from conformance.client_matrix.run import plan
    from reference_server import FAULTS

    rows = plan()
    families = [r[0] for r in rows if r[1] == "model"]
    assert rows[0][0] == "clean" and [r[0] for r in rows[1:len(rows) - len(families)]] == list(FAULTS)
    assert families and all(name.startswith("model:claude-") for name in families)
    assert [r[0] for r in plan(["crlf"])] == ["clean", "crlf"]
    # a per-model fault is run with its model, as the self-test judges it
    assert {r[0]: r[3] for r in rows if r[3] and r[1] != "model"} == {f.name: f.model for f in FAULTS.values()
                                                                     if f.model}
    with pytest.raises(ValueError, match="unknown faults: nope"):
        plan(["nope"])


def test_newest_picks_plain_releases_within_a_major():
    from conformance.client_matrix.install import newest

    versions = ["2.16.0", "2.9.0", "1.17.0", "1.9.0", "3.0.0rc1", "0.125.0"]
    assert newest(versions) == "2.16.0" and newest(versions, 1) == "1.17.0" and newest(versions, 4) is None


def test_a_claude_code_run_that_recovered_from_a_rejected_request_differs():
    assert scenarios.with_exchanges(OK, "", [200]) == (OK, "")
    status, evidence = scenarios.with_exchanges(OK, "", [400, 200])
    assert status == DIFFERS and evidence.endswith("[POST /v1/messages: HTTP 400, 200]")
    assert scenarios.with_exchanges(FAILED, "exit 1: API Error: 401", [401, 401]) == (
        FAILED, "exit 1: API Error: 401 [POST /v1/messages: HTTP 401, 401]")
    assert scenarios.with_exchanges(FAILED, "timed out after 60 s", [])[1].endswith("[no POST /v1/messages]")


def test_the_recording_app_logs_each_response_under_its_fault_prefix():
    import asyncio

    from conformance.client_matrix.server import Exchange, RecordingApp

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 400 if "faults" in scope["path"] else 200})
        await send({"type": "http.response.body", "body": b""})

    recording = RecordingApp(app)
    sent = []

    async def send(message):
        sent.append(message)

    async def requests():
        await recording({"type": "http", "method": "POST", "path": "/v1/messages"}, None, send)
        await recording({"type": "http", "method": "POST", "path": "/faults/x/v1/messages"}, None, send)
        await recording({"type": "http", "method": "POST", "path": "/faults/xy/v1/messages"}, None, send)

    mark = recording.mark()
    asyncio.run(requests())
    assert len(sent) == 6
    assert recording.since(mark, "") == [Exchange("POST", "/v1/messages", 200)]
    assert recording.since(mark, "/faults/x") == [Exchange("POST", "/faults/x/v1/messages", 400)]
    assert recording.since(recording.mark(), "/faults/x") == []


def test_a_partial_run_merges_into_the_matrix_in_catalogue_order_and_only_at_the_same_versions():
    old = fake_matrix()
    again = Row("auth-not-enforced", "fault", "any key | none", {"python-sdk-2": Cell(WORKS, results(create=OK)),
                                                                  "claude-code": Cell(WORKS, results(prompt=OK))})
    new_fault = Row("a-new-fault", "fault", "new", {"python-sdk-2": Cell(WORKS, results(create=OK)),
                                                    "claude-code": Cell(DEGRADED, results(prompt=DIFFERS))})
    columns = [{**c, "models_seen": ["m2"]} if "models_seen" in c else c for c in old.columns]
    new = ClientMatrix(columns, [old.rows[0], new_fault, again], 3.0)
    merged = outcome.merged(old, new, ["clean", "a-new-fault", "auth-not-enforced"])
    assert [r.name for r in merged.rows] == ["clean", "a-new-fault", "auth-not-enforced"]
    assert merged.rows[2].cells["claude-code"].outcome == WORKS and merged.seconds == 15.0
    assert merged.columns[1]["models_seen"] == ["m1", "m2"]
    newer = ClientMatrix([{**c, "version": "10.0.0"} for c in old.columns], [new_fault], 1.0)
    with pytest.raises(ValueError, match="client versions differ"):
        outcome.merged(old, newer, ["clean"])
