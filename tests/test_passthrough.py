"""Zero false alarms on a correct pass-through (DESIGN §10): a transparent proxy in front of the reference server, which
answers each model as its row of fixtures/models.json says, gets no fail, no warn, no error, and no `unsupported` the
model's row does not predict, for a model of each behaviour class of the table.

The proxy is tests/gateway_proxies.Proxy without a fault: a few lines of ASGI and httpx on loopback that forward
method, path, query, headers and body, and stream the answer back as it comes, unbuffered (what a correct gateway
does).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from gateway_proxies import Proxy, Served

from conformance.engine import Session, all_checks, run_check
from conformance.model_table import ModelRow, row_for, row_names
from conformance.target import Target
from conformance.transport import Limits
from conformance.verdicts import Verdict


@pytest.fixture(scope="module")
def proxy_url(reference_server):
    with Served(Proxy(reference_server.base_url)) as proxy:  # no fault: the transparent pass-through
        yield proxy.base_url


# Every row of the table (its first id), and reference-model; the ones that stand for a behaviour class described.
DESCRIBED = {
    "claude-opus-5-5": "Claude Code's default model: its request as captured (per-message output_config and its "
                       "beta); forced tool use refused",
    "claude-opus-4-8": "adaptive only, signature-only thinking, temperature rejected, role: system taken",
    "claude-opus-4-7": "adaptive only, signature-only thinking, role: system rejected",
    "claude-opus-4-6": "enabled and adaptive, temperature taken, role: system rejected",
    "claude-opus-4-5": "enabled only (adaptive rejected), three effort levels",
    "claude-sonnet-4-5": "enabled only, no effort, temperature with top_p rejected",
    "claude-sonnet-5": "adaptive, role: system not available (answer unsettled)",
    "claude-fable-5": "adaptive always on (enabled and disabled rejected)",
    "claude-mythos-preview": "enabled and adaptive, disabled rejected, temperature rejected",
    "claude-haiku-5-5": "adaptive, the rest unknown",
    "claude-fable-5-2": "every thinking fact unknown",
    "reference-model": "no row: the conservative default",
}
MODELS = {**{row_for(None, override=name).data["ids"][0]: f"row {name}" for name in row_names() if name != "default"},
          **DESCRIBED}
ITEMS = sorted(item for check in all_checks().values() if check.area != "gateway" for item in check.item_ids())
OBSERVATIONAL = {"streaming/error-event-shape", "headers/retry-after", "headers/ratelimit-headers"}


def predicted_unsupported(row: ModelRow) -> set[str]:
    """The items the row says the model itself turns down (its documented 400s), and nothing else."""
    out = set()
    if row.accepts_temperature is False:
        out.add("headers/temperature-2023")
    if row.system_messages is False:  # (system/role-system-refusal then probes with Claude Code's default model)
        out.add("system/role-system-message")
    if row.forced_tool_choice is False:  # the documented 400; the tool probes ask in words instead
        out |= {"tools/forced-call", "tools/choice-any"}
    mode = row.thinking_mode or "enabled"  # what the thinking checks probe with
    if row.accepts_thinking(mode) is False:
        out |= {i for i in ITEMS if i.startswith("thinking/")}
    return out


def run_model(base_url: str, api_key, model: str) -> dict:
    target = Target(base_url=base_url, api_key=api_key, model=model, retries=2, retry_base=0.05,
                    limits=Limits(max_backoff=2.0))
    session = Session(target, expensive=True)  # the default idle-gap limit of a run: the machine may be busy
    try:
        return {item: run_check(session, item) for item in ITEMS}
    finally:
        session.close()


@pytest.fixture(scope="module")
def results(proxy_url, reference_server):
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(lambda m: (m, run_model(proxy_url, reference_server.api_key, m)), MODELS)
        return dict(runs)


@pytest.mark.parametrize("model", MODELS)
def test_a_transparent_pass_through_gets_no_false_alarm(model, results):
    row = row_for(model)
    outcome = results[model]
    bad = {item: (r.verdict.value, r.at("compat").value, r.reason, [f.got for f in r.findings][:2])
           for item, r in outcome.items()
           if r.verdict in (Verdict.FAIL, Verdict.WARN, Verdict.ERROR)
           or r.at("compat") in (Verdict.FAIL, Verdict.WARN, Verdict.ERROR)}
    assert not bad, f"{model} ({row.describe()}): {bad}"
    unsupported = {item for item, r in outcome.items() if r.verdict == Verdict.UNSUPPORTED}
    assert unsupported == predicted_unsupported(row), {i: outcome[i].reason for i in unsupported}
    skipped = {item: r.reason for item, r in outcome.items() if r.verdict == Verdict.SKIPPED}
    assert set(skipped) <= OBSERVATIONAL, skipped


def test_the_rows_cover_each_kind_of_answer():
    """The chosen models exercise every per-model answer of the replica: each documented 400 and each lenient row."""
    rows = [row_for(m) for m in MODELS]
    assert {r.thinking_mode for r in rows} >= {"adaptive", "enabled", None}
    assert {r.accepts_temperature for r in rows} == {True, False, None}
    assert {r.system_messages for r in rows} == {True, False, None}
    assert {r.display_default for r in rows} >= {"omitted", None}
    assert {r.forced_tool_choice for r in rows} == {True, False, None}


def _claude_code_request(model: str) -> tuple[dict, dict]:
    from types import SimpleNamespace

    from conformance.checks.acceptance import claude_code_body, claude_code_headers
    from conformance.probes import Nonces

    ctx = SimpleNamespace(target=SimpleNamespace(model=model, model_row=row_for(model)),
                          session=SimpleNamespace(nonces=Nonces(7)))
    return claude_code_body(ctx, ["alpha", "beta"]), dict(claude_code_headers(ctx))


def test_the_claude_code_replica_sends_each_model_what_claude_code_sends_it():
    """docs/claude-code-request.md: the default model gets the capture as it is; any other model the form Claude Code
    sends a model it does not know (effort high, no per-message output_config, no per-turn-control beta)."""
    body, headers = _claude_code_request("claude-opus-5-5")
    (system,) = [m for m in body["messages"] if m["role"] == "system"]
    assert system["output_config"] == {"effort": "medium"} and body["output_config"] == {"effort": "medium"}
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert "per-turn-control-2026-07-01" in headers["anthropic-beta"].split(",")
    for model in ("claude-fable-5", "reference-model"):
        body, headers = _claude_code_request(model)
        (system,) = [m for m in body["messages"] if m["role"] == "system"]
        assert "output_config" not in system and body["output_config"] == {"effort": "high"}, model
        assert body["thinking"] == {"type": "adaptive", "display": "omitted"}, model
        betas = headers["anthropic-beta"].split(",")
        assert "per-turn-control-2026-07-01" not in betas and "effort-2025-11-24" in betas, model
    body, _ = _claude_code_request("claude-sonnet-4-5")  # extended thinking only, no effort: the row's settings
    assert body["thinking"]["type"] == "enabled" and "output_config" not in body
    assert all("output_config" not in m for m in body["messages"])


def test_a_feature_the_targets_model_refuses_is_probed_with_claude_codes_default_model(make_target):
    """claude-sonnet-4-5 takes no role: system messages nor adaptive thinking: Claude Code as it comes sends them with
    its default model, so the checks probe that model; a refusal in a layer's own words is caught there."""
    from conformance.checks.common import unserved_feature_model
    from conformance.engine import Unsupported
    from conformance.verdicts import MODEL_GATED_REASON
    from conformance.wire import Exchange, WireRequest

    for fault, verdict in (("", Verdict.PASS), ("/faults/role-system-rejected-own-words", Verdict.FAIL)):
        session = Session(make_target(fault, model="claude-sonnet-4-5"))
        try:
            result = run_check(session, "system/role-system-refusal")
            adaptive = run_check(session, "features/adaptive-effort")
        finally:
            session.close()
        assert result.verdict is verdict, (fault, result.reason, result.findings)
        assert adaptive.verdict is Verdict.PASS, (adaptive.reason, adaptive.findings)
        assert verdict is Verdict.PASS or result.evidence  # a failure shows the request, sent with the default model
        assert all("model=claude-opus-5-5" in e.request for e in result.evidence + adaptive.evidence)
    # a target that does not serve Claude Code's default model: no model it serves takes the feature
    ctx = type("Ctx", (), {"target": Target(base_url="http://127.0.0.1:9", api_key="k", model="claude-sonnet-4-5")})()
    refused = Exchange("x", WireRequest(body={}), "http://127.0.0.1:9/v1/messages", status=404,
                       body=b'{"type":"error","error":{"type":"not_found_error","message":"model: claude-opus-5-5"}}')
    with pytest.raises(Unsupported, match=f"^{MODEL_GATED_REASON} "):
        unserved_feature_model(ctx, refused, "claude-opus-5-5", "role: system messages")
    unserved_feature_model(ctx, refused, "claude-sonnet-4-5", "role: system messages")  # the target's own: not judged
