"""The harness timed as a user runs it (`run`, `selftest`, `compare` of 1, 2, 4 targets); the expensive tier's tokens."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import clean_env, conformance_command, last_lines, median, say, timed_run
from bench.servers import reference_server

RUN_TIMEOUT = 120.0
SELFTEST_TIMEOUT = 900.0
COMPARE_TARGETS = (1, 2, 4)
SELFTEST_LINE = re.compile(r"(\d+) faults, (\d+) variants, (\d+) check items in ([\d.]+) s: (.+)")


def _tiers(report: dict[str, Any]) -> dict[str, int]:
    return dict(Counter(result["tier"] for result in report["results"]))


def run_suite(repetitions: int, work: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`anthropic-conformance run --report R` against the embedded reference server, `repetitions` times."""
    command = conformance_command()
    runs: list[dict[str, Any]] = []
    first_report: dict[str, Any] | None = None
    for index in range(repetitions):
        report_path = work / f"suite-{index}.json"
        done = timed_run([command, "run", "--report", str(report_path)], RUN_TIMEOUT, cwd=work)
        entry: dict[str, Any] = {"seconds": done.seconds, "exit": done.code}
        if report_path.exists():
            report = json.loads(report_path.read_text(encoding="utf-8"))
            first_report = first_report or report
            entry.update(items=report["summary"]["total"], summary={k: v for k, v in report["summary"].items()
                                                                      if k != "total" and v})
        else:
            entry["problem"] = last_lines(done.output)
        runs.append(entry)
        say(f"run #{index + 1}: {done.seconds:.2f} s, exit {done.code}, {entry.get('items', '?')} check items")
    good = [r for r in runs if "items" in r]
    seconds = median([r["seconds"] for r in good])
    items = good[0]["items"] if good else 0
    result: dict[str, Any] = {
        "command": "anthropic-conformance run --report R (embedded reference server)",
        "repetitions": repetitions, "runs": runs, "seconds": seconds, "items": items,
        "checks_per_s": items / seconds if seconds else None,
        "tiers": _tiers(first_report) if first_report else {},
        "note": "against the embedded reference server every tier runs (free, cheap and expensive); the wall time "
                "includes starting Python, pytest and the embedded server",
    }
    return result, first_report


def run_selftest(repetitions: int, work: Path) -> dict[str, Any]:
    """`anthropic-conformance selftest`: every check against the clean server, every fault and every variant."""
    command = conformance_command()
    runs: list[dict[str, Any]] = []
    for index in range(repetitions):
        done = timed_run([command, "selftest"], SELFTEST_TIMEOUT, cwd=work)
        entry: dict[str, Any] = {"seconds": done.seconds, "exit": done.code}
        match = SELFTEST_LINE.search(done.output)
        if match:
            faults, variants, items, own, verdict = match.groups()
            listed = [line.strip() for line in done.output[match.end():].splitlines() if line.startswith("  ")]
            entry.update(faults=int(faults), variants=int(variants), items=int(items), own_seconds=float(own),
                         problems=verdict.strip(), problem_lines=listed[:10])
        else:
            entry["problem"] = last_lines(done.output)
        runs.append(entry)
        say(f"selftest #{index + 1}: {done.seconds:.1f} s, exit {done.code}, {entry.get('problems', entry.get('problem'))}")
    good = [r for r in runs if "items" in r]
    seconds = median([r["seconds"] for r in good])
    result: dict[str, Any] = {"command": "anthropic-conformance selftest", "repetitions": repetitions, "runs": runs,
                              "seconds": seconds}
    if good:
        first = good[0]
        rows = 1 + first["faults"] + first["variants"]  # the clean server, every fault, every variant
        result.update(faults=first["faults"], variants=first["variants"], items=first["items"], rows=rows,
                      cells=rows * first["items"], cells_per_s=rows * first["items"] / seconds if seconds else None,
                      problems=first["problems"], problem_lines=first.get("problem_lines", []))
    return result


def run_compare(repetitions: int, work: Path) -> dict[str, Any]:
    """`anthropic-conformance compare` on targets files of 1, 2 and 4 targets, each the embedded reference server: with
    its default workers (one pytest-xdist worker per target, at most one per CPU), and in one process (-n 0). The
    variants take turns, repetition by repetition."""
    command = conformance_command()
    for count in COMPARE_TARGETS:
        (work / f"targets-{count}.toml").write_text(
            "".join(f"[targets.reference-{n + 1}]  # no base_url: the embedded reference server\n\n"
                    for n in range(count)), encoding="utf-8")
    variants: list[tuple[str, int, list[str]]] = [(str(count), count, []) for count in COMPARE_TARGETS]
    variants += [(f"{count}, -n 0", count, ["-n", "0"]) for count in COMPARE_TARGETS if count > 1]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    for index in range(repetitions):
        for label, count, extra in variants:
            reports = work / f"compare-{label.replace(', ', '').replace(' ', '')}-{index}"
            done = timed_run([command, "compare", str(work / f"targets-{count}.toml"), "--reports", str(reports),
                              *extra], RUN_TIMEOUT, cwd=work)
            written = len(list(reports.glob("*.json"))) if reports.exists() else 0
            runs[label].append({"seconds": done.seconds, "exit": done.code, "reports": written,
                                **({"problem": last_lines(done.output)} if written != count else {})})
            say(f"compare {label:8} #{index + 1}: {done.seconds:6.2f} s, exit {done.code}, {written} reports")
    by_label: dict[str, Any] = {}
    for label, count, extra in variants:
        good = [r for r in runs[label] if r["reports"] == count]
        by_label[label] = {"targets": count, "args": extra, "seconds": median([r["seconds"] for r in good]),
                           "runs": runs[label]}
    one = by_label["1"]["seconds"]
    for entry in by_label.values():
        entry["ratio_to_1"] = entry["seconds"] / one if one and entry["seconds"] else None
    return {"command": "anthropic-conformance compare targets.toml --reports DIR [-n 0] (every target: the embedded "
                       "reference server, one server shared)",
            "repetitions": repetitions, "targets": by_label}


def expensive_tokens(report: dict[str, Any], work: Path) -> dict[str, Any]:
    """The output tokens the expensive tier requests (sum of max_tokens) and uses against the reference server.

    From the report of an embedded run (where every tier runs): an exchange is shared by the checks that use it
    and its tokens are counted once; the expensive tier's own cost is the exchanges only expensive checks use.
    Cross-checked by running the suite against a standalone reference server as a real target (expensive checks
    skipped unless --expensive) with and without --expensive: the difference of the two totals.
    """
    users: dict[str, set[str]] = {}
    tokens: dict[str, tuple[int, int]] = {}
    for check in report["results"]:
        for exchange in check.get("exchanges", []):
            users.setdefault(exchange["name"], set()).add(check["tier"])
            tokens[exchange["name"]] = (exchange["tokens_requested"], exchange["tokens_used"])
    own = sorted(name for name, tiers in users.items() if tiers == {"expensive"})
    shared = sorted(name for name, tiers in users.items() if "expensive" in tiers and tiers != {"expensive"})
    result: dict[str, Any] = {
        "requested": sum(tokens[name][0] for name in own), "used": sum(tokens[name][1] for name in own),
        "exchanges": {name: {"requested": tokens[name][0], "used": tokens[name][1]} for name in own},
        "shared_with_cheaper_tiers": shared,
        "checks": sorted(r["id"] for r in report["results"] if r["tier"] == "expensive"),
        "run_total": report["tokens"],
    }
    result["cross_check"] = _delta_run(work)
    return result


def _delta_run(work: Path) -> dict[str, Any]:
    command = conformance_command()
    server = reference_server(work)
    try:
        if server.status != "running":
            return {"problem": f"the reference server did not start: {server.reason}"}
        totals: dict[str, Any] = {}
        for label, extra in (("without", []), ("with", ["--expensive"])):
            report_path = work / f"tokens-{label}.json"
            env = clean_env(ANTHROPIC_API_KEY=server.key)  # the key by environment, never on a command line
            done = timed_run([command, "run", "--base-url", server.base_url, "--model", "reference-model",
                              "--report", str(report_path), *extra],
                             RUN_TIMEOUT, cwd=work, env=env)
            if not report_path.exists():
                return {"problem": f"run {label} --expensive: {last_lines(done.output)}"}
            totals[label] = json.loads(report_path.read_text(encoding="utf-8"))["tokens"]
        return {"method": "a standalone reference server as a real target: tokens of `run --expensive` less those "
                          "of `run`",
                "requested": totals["with"]["requested"] - totals["without"]["requested"],
                "used": totals["with"]["used"] - totals["without"]["used"], "totals": totals}
    finally:
        server.stop()
