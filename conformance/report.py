"""The JSON report: built from check results, validated against schemas/report.schema.json, written."""

from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from conformance import __version__
from conformance.data import rules
from conformance.target import Target, display_url
from conformance.verdicts import CheckResult, Verdict

SCHEMA_VERSION = "1.0"
STOPPED_SENDING = "stopped sending to it"  # in the reason of every check the breaker kept from the target


def sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("anthropic")
    except Exception:  # pragma: no cover - the SDK is a dependency
        return "unknown"


def result_dict(result: CheckResult, message: str, duration: float = 0.0) -> dict:
    rule = rules().get(result.rule, {})
    return {
        "id": result.check_id,
        "area": result.area,
        "verdict": result.verdict.value,
        "compat_verdict": result.at("compat").value,
        "rule": result.rule,
        "rule_statement": rule.get("statement", ""),
        "rule_source": rule.get("source", ""),
        "tier": result.tier,
        "message": message,
        "reason": result.reason,
        **({"blocked_by": result.blocked_by} if result.blocked_by else {}),
        "findings": [
            {"verdict": f.verdict.value, "compat_verdict": f.compat_verdict.value, "rule": f.rule,
             "expected": f.expected, "got": f.got, "where": f.where}
            for f in result.findings
        ],
        "evidence": [{"request": e.request, "response": e.response} for e in result.evidence],
        "exchanges": [{"name": name, "tokens_requested": requested, "tokens_used": used}
                      for name, requested, used in result.exchanges],
        "tokens_requested": result.tokens_requested,
        "tokens_used": result.tokens_used,
        "duration": round(duration, 4),
    }


def record_of(result: CheckResult, message: str, duration: float = 0.0, *, target: str = "",
              deviation: dict | None = None, worker: str = "") -> dict:
    """A judged item's record as a run carries it to the report: the result, the target's name, the deviation
    status; under xdist each worker's copy of a shared exchange is counted as its own (its name gets the worker's)."""
    record = result_dict(result, message, duration)
    record["target"] = target
    if deviation:
        record["deviation"] = deviation
    if worker:
        for exchange in record["exchanges"]:
            exchange["name"] = f"{worker}:{exchange['name']}"
    return record


def outside_record(item_id: str, reason: str) -> dict:
    """The record of an item that failed outside its check: an error, never a verdict on the target."""
    from conformance.engine import all_checks, split_item_id

    check = all_checks().get(split_item_id(item_id)[0])
    result = CheckResult(item_id, Verdict.ERROR, check.rule if check else "HARNESS", check.tier if check else "free",
                         reason=reason)
    return result_dict(result, f"ERROR {item_id}: {reason}")


def build_report(target: Target, selection: dict, results: list[dict], *, name: str = "",
                 budget_limit: int | None = None, budget_reserved: int | None = None, waited: dict | None = None,
                 stopped: dict | None = None) -> dict:
    """The report of one target: every record, the summaries, profiles, tokens, budget, waits, and why the run
    stopped early if it did. The one place the report's shape is written."""
    from conformance.engine import all_checks
    from conformance.pacing import Pacer
    from conformance.profiles import readiness

    exchanges: dict[str, dict] = {}  # each exchange once, however many checks (and workers) read it
    for record in results:
        for ex in record.get("exchanges", []):
            exchanges.setdefault(ex["name"], ex)
    requested = sum(ex["tokens_requested"] for ex in exchanges.values())
    summary = _summary(r["verdict"] for r in results)
    statuses = [r.get("deviation", {}).get("status") for r in results]
    summary["expected_failures"] = statuses.count("expected-failure")
    summary["unexpectedly_passing"] = statuses.count("unexpectedly-passing")
    all_ids = [item for check in all_checks().values() for item in check.item_ids()]
    report = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "tool": {"name": "anthropic-conformance", "version": __version__, "sdk_version": sdk_version(),
                 "python": platform.python_version()},
        "target": {"base_url": target.redact(display_url(target.base_url)), "model": target.model,
                   "anthropic_version": target.anthropic_version, "embedded": target.embedded,
                   "model_row": _model_row(target), **({"name": name} if name else {})},
        "selection": selection,
        "results": sorted(results, key=lambda r: r["id"]),
        "summary": summary,
        "compat_summary": _summary(r["compat_verdict"] for r in results),
        "profiles": readiness(results, all_ids),
        "tokens": {"requested": requested, "used": sum(ex["tokens_used"] for ex in exchanges.values())},
        "limits": target.limits.as_dict(),
        "budget": {"limit": budget_limit, "reserved": requested if budget_reserved is None else budget_reserved},
        "waited": waited if waited is not None else Pacer().waited(),
    }
    down = next((r["reason"] for r in report["results"] if STOPPED_SENDING in r["reason"]), None)
    if stopped:
        report["stopped"] = stopped
    elif down:  # the breaker's sentence, without the exchange of whichever check happened to come first
        report["stopped"] = {"reason": down[down.find("not sent:"):] if "not sent:" in down else down,
                             "exit_code": None}
    return json.loads(target.redact(json.dumps(report)))


# -- reading a report: the helpers every view (matrix, diff, summary) uses ------------------------------------------

def results_by_id(report: dict) -> dict[str, dict]:
    """Check item id -> its record."""
    return {str(r["id"]): r for r in report.get("results") or [] if isinstance(r, dict) and r.get("id")}


def verdict_at(record: dict, level: str) -> str:
    """A record's verdict at a level: strict (the real API) or compat (the clients)."""
    return str((record.get("compat_verdict") if level == "compat" else None) or record.get("verdict", "error"))


def _model_row(target: Target) -> dict:
    """Which row of fixtures/models.json judged the model, and how it was chosen."""
    row = target.model_row
    how = "--model-profile" if target.model_profile else "no row matches the id" if row.fallback else "the id"
    return {"name": row.name, "chosen_by": how}


def failing(report: dict, level: str) -> int:
    """Failures and errors at the level, less known deviations that still fail, plus those that now pass."""
    summary = report["compat_summary" if level == "compat" else "summary"]
    strict = report["summary"]
    return (summary["fail"] + summary["error"] - strict.get("expected_failures", 0)
            + strict.get("unexpectedly_passing", 0))


def _summary(verdicts) -> dict[str, int]:
    counts = Counter(verdicts)
    summary = {v.value: counts.get(v.value, 0) for v in Verdict}
    summary["total"] = sum(counts.values())
    return summary


def write_report(report: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def validate_report(report: dict) -> list[str]:
    import jsonschema

    from conformance.data import load_json

    validator = jsonschema.Draft202012Validator(load_json("schemas", "report.schema.json"))
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(report)]


class ReportError(ValueError):
    """A file that cannot be judged as a report: its message is one sentence naming the file and what is wrong."""


def read_report(path: str | Path) -> dict:
    """A JSON report read from path and validated against schemas/report.schema.json; ReportError otherwise."""
    import jsonschema

    from conformance.data import load_json
    from conformance.summary import clip

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
        raise ReportError(f"cannot read the report {path}: {why}.") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}), so it is not "
                          "a report.") from None
    validator = jsonschema.Draft202012Validator(load_json("schemas", "report.schema.json"))
    problem = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if problem is not None:
        raise ReportError(f"{path} is not an anthropic-conformance report: {clip(problem.message, 160)} at "
                          f"{problem.json_path} (a report is what `run --report` and `compare` write).")
    return report
