"""`python -m bench`: measure the harness and the reference server here; print, and write JSON and Markdown."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench import load, machine, profile, report, sse_bench, suite
from bench.common import REPO, SANITIZE, sanitize, say
from bench.servers import FAKES, Fakes

DESCRIPTION = ("Measure anthropic-conformance and its reference server on this machine: print a table, write it as "
               "JSON and Markdown (see bench/README.md).")
SECTIONS = ("suite", "selftest", "sse", "compare", "tokens", "load", "profile")


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does."""

    suite_runs: int
    selftest_runs: int
    sse_runs: int
    compare_runs: int
    load: load.Settings
    profile_seconds: float


FULL = Plan(suite_runs=5, selftest_runs=2, sse_runs=15, compare_runs=3,
            load=load.Settings(warmup=2.0, duration=6.0, repetitions=3), profile_seconds=10.0)
QUICK = Plan(suite_runs=1, selftest_runs=0, sse_runs=3, compare_runs=1,
             load=load.Settings(warmup=1.0, duration=2.0, repetitions=1), profile_seconds=3.0)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: one repetition, short load windows, no selftest, no profile")
    parser.add_argument("--only", default="", metavar="SECTIONS",
                        help=f"comma-separated sections to run (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--fakes", default=",".join(FAKES), metavar="NAMES",
                        help="third-party fakes to measure (default: %(default)s; 'none' for none)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"), metavar="DIR",
                        help="where the JSON and Markdown go (default bench/results): latest.* for a full run, "
                             "quick.* or partial.* otherwise")
    parser.add_argument("--docs", default=None, metavar="PATH",
                        help="also write the Markdown here (default: docs/benchmarks.md, after a full run only)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, reports, wrk scripts)")
    options = parser.parse_args(argv)
    chosen = [s.strip() for s in options.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    options.sections = [s for s in SECTIONS if not chosen or s in chosen]
    fakes = [n.strip() for n in options.fakes.split(",") if n.strip() and n.strip() != "none"]
    options.fake_names = tuple(fakes)
    return options


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: every server is stopped


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    plan = QUICK if options.quick else FULL
    complete = not options.quick and options.sections == list(SECTIONS)
    name = "latest" if complete else ("quick" if options.quick else "partial")
    out = Path(options.out).resolve()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    SANITIZE.extend([(str(work), "<tmp>"), (str(REPO), "<repo>"), (str(Path.home()), "~")])
    started = time.monotonic()
    results: dict[str, Any] = {}
    background: dict[str, float | None] = {}  # the CPU share busy in the second before each section
    say(f"sections: {', '.join(options.sections)}; {'quick' if options.quick else 'full'} run; temp dir {work}")
    try:
        fakes = None
        if "load" in options.sections and options.fake_names:
            fakes = Fakes(work, options.fake_names)
            fakes.install()  # before anything is timed: installs use both cores
        suite_report: dict[str, Any] | None = None

        def run_suite() -> dict[str, Any]:
            nonlocal suite_report
            measured, suite_report = suite.run_suite(plan.suite_runs, work)
            return measured

        def run_tokens() -> dict[str, Any]:
            report_for_tokens = suite_report
            if report_for_tokens is None:
                _, report_for_tokens = suite.run_suite(1, work)
            if report_for_tokens is None:
                return {"error": "no report from an embedded run"}
            return suite.expensive_tokens(report_for_tokens, work)

        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "suite": run_suite,
            "selftest": (lambda: suite.run_selftest(plan.selftest_runs, work)) if plan.selftest_runs else
            (lambda: {"skipped": "--quick: the selftest takes about a minute and a half; run without --quick"}),
            "sse": lambda: sse_bench.section(plan.sse_runs),
            "compare": lambda: suite.run_compare(plan.compare_runs, work),
            "tokens": run_tokens,
            "load": lambda: load.section(plan.load, work, fakes),
            "profile": (lambda: profile.section(work, out / "profile", plan.profile_seconds)) if not options.quick
            else (lambda: {"skipped": "--quick"}),
        }
        for section in options.sections:
            background[section] = machine.busy_share()
            say(f"== {section} (CPU busy before it: {background[section] or 0:.0%})")
            try:
                results[section] = steps[section]()
            except Exception as exc:  # noqa: BLE001 - one broken section never loses the others
                traceback.print_exc()
                results[section] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if options.keep_temp:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    data = {
        "schema": "anthropic-conformance-bench/1",
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "command": "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "mode": "quick" if options.quick else "full",
        "sections": options.sections,
        "seconds": time.monotonic() - started,
        "machine": {**machine.describe(load.tool_version()), "busy_before_section": background},
        "goals": report.goals(results),
        "results": results,
    }
    data = json.loads(sanitize(json.dumps(data)))
    print(report.text(data))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    document = report.markdown(data)
    (out / f"{name}.md").write_text(document, encoding="utf-8")
    written = [out / f"{name}.json", out / f"{name}.md"]
    docs = options.docs or (str(REPO / "docs" / "benchmarks.md") if complete else None)
    if docs and not options.no_docs:
        Path(docs).write_text(document, encoding="utf-8")
        written.append(Path(docs))
    say("wrote " + ", ".join(sanitize(str(p)) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
