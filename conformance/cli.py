"""The command line: run the suites against a target, serve the reference server, list the checks."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from importlib import resources
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NO_CHECKS, EXIT_KEY_REJECTED = 0, 1, 2, 3, 4, 5
EXIT_MODEL_UNKNOWN = 6
EXIT_CODES = {
    EXIT_OK: "every selected check passed, warned, or was skipped/unsupported with a reason",
    EXIT_FAILED: "at least one check failed or errored",
    EXIT_USAGE: "usage error (bad option, missing key for a real target)",
    EXIT_UNREACHABLE: "the target could not be reached at all",
    EXIT_NO_CHECKS: "the selection (-k) matched no check",
    EXIT_KEY_REJECTED: "the target rejected the API key on every request (both auth headers): nothing was judged",
    EXIT_MODEL_UNKNOWN: "the target does not know the model (--model): nothing was judged",
}
COMPARE_EXIT_CODES = {
    EXIT_OK: "every target passed at --level (or --no-gate was given)",
    EXIT_FAILED: "a target has a check that failed or errored at --level",
    EXIT_USAGE: "usage error (bad option, targets file or deviations file; a gateway target's upstream_port that "
                "cannot be listened on, or a base_url that is its upstream itself)",
    EXIT_UNREACHABLE: "a gateway target (upstream_port) did not answer within its wait, or answers HTML",
    EXIT_NO_CHECKS: "the selection (-k) matched no check",
}
DIFF_EXIT_CODES = {
    EXIT_OK: "no regression",
    EXIT_FAILED: "a regression: a check that now fails or errors, a new failing check, or a profile that got worse",
    EXIT_USAGE: "an input is unreadable, not JSON, or not a report",
}
REPORT_EXIT_CODES = {EXIT_OK: "rendered", EXIT_USAGE: "an input is unreadable, not JSON, or not a report"}
SERVE_EXIT_CODES = {EXIT_OK: "stopped (Ctrl-C or SIGTERM), or --list-faults printed",
                    EXIT_USAGE: "usage error (bad option; a bad --rules file; the address cannot be listened on)"}
DEV_KEY = "sk-ant-conformance-dev"  # `serve`'s documented development key: public, accepted only by the local fake


def exit_codes(codes: dict[int, str]) -> str:
    return "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in codes.items())


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one sentence with a hint (not the usage text, then the error)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message}; see `{self.prog} --help`.\n")


def build_parser() -> argparse.ArgumentParser:
    from conformance import __version__
    from conformance.inputs import at_least, port
    from conformance.settings import COMPARE, RUN, add_arguments

    parser = Parser(prog="anthropic-conformance", description="Conformance harness for Anthropic Messages API endpoints.")
    parser.add_argument("--version", action="version", version=f"anthropic-conformance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the conformance suites against a target", epilog=exit_codes(EXIT_CODES))
    add_arguments(run, RUN)  # conformance.settings: one row per setting
    run.add_argument("-v", "--verbose", action="store_true",
                     help="list every check as it runs, with pytest's own report")
    run.add_argument("--pytest-output", action="store_true",
                     help="also print pytest's own report (failures, short summary, its counts)")

    serve = sub.add_parser("serve", help="run the reference server (a local Anthropic fake)",
                           epilog=exit_codes(SERVE_EXIT_CODES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port, default=8765, help="port to listen on (default 8765; 0: a free one)")
    keys = serve.add_mutually_exclusive_group()
    keys.add_argument("--api-key", default=None, metavar="KEY",
                      help=f"the key the server accepts (default $ANTHROPIC_CONFORMANCE_SERVER_KEY, else {DEV_KEY})")
    keys.add_argument("--any-key", action="store_true",
                      help="accept any non-empty key (the auth checks then fail against this server)")
    serve.add_argument("--rules", metavar="FILE",
                       help="scripted answers (TOML or JSON, schemas/fake-rules.schema.json); others: the responder")
    serve.add_argument("--list-faults", action="store_true",
                       help="print every fault and valid variant the server can switch on (by base-URL prefix) and exit")

    selftest = sub.add_parser("selftest", help="run every check against every reference-server fault and variant")
    selftest.add_argument("--markdown", default=None, metavar="PATH", help="write the detection matrix as markdown")
    selftest.add_argument("--workers", type=at_least(1), default=8, help="faults run in parallel (default 8)")
    selftest.add_argument("--only", default=None, metavar="NAMES", help="comma-separated faults to run (default all)")
    selftest.add_argument("--clients", action="store_true", help="compare the client profiles with docs/client-matrix.json")

    compare = sub.add_parser("compare", help="run several targets side by side and render the matrix",
                             epilog=exit_codes(COMPARE_EXIT_CODES))
    compare.add_argument("targets", help="the targets file (TOML)")
    compare.add_argument("--reports", default="conformance-reports", metavar="DIR", help="per-target JSON reports")
    compare.add_argument("--markdown", default=None, metavar="PATH", help="write the matrix as markdown")
    compare.add_argument("--html", default=None, metavar="PATH", help="write the matrix as a self-contained page")
    compare.add_argument("-n", "--workers", type=at_least(0), default=None,
                         help="pytest-xdist workers (default: one per target, at most the CPU count; 0: none)")
    add_arguments(compare, COMPARE)
    compare.add_argument("--no-gate", action="store_true",
                         help="exit 0 whatever the verdicts (only the matrix is wanted)")
    compare.add_argument("--pytest-output", action="store_true", help="also print pytest's own report")

    diff = sub.add_parser("diff", help="compare two JSON reports; exit 1 on any regression (a PR gate)",
                          epilog=exit_codes(DIFF_EXIT_CODES))
    diff.add_argument("old", help="the baseline report (e.g. from main)")
    diff.add_argument("new", help="the report to judge")
    diff.add_argument("--level", choices=("strict", "compat"), default="strict", help="which verdicts to compare")

    report = sub.add_parser("report", help="render JSON reports (of run or compare) as Markdown and/or HTML",
                            epilog=exit_codes(REPORT_EXIT_CODES))
    report.add_argument("reports", nargs="+", help="JSON reports; several are shown side by side")
    report.add_argument("--markdown", default=None, metavar="PATH", help="write Markdown")
    report.add_argument("--html", default=None, metavar="PATH", help="write a self-contained HTML page")

    sub.add_parser("checks", help="list every check id with its tier, area and rule")
    from conformance.gateway.command import add_parser as add_gateway_parser

    add_gateway_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from conformance.pipes import pipe_safe

    for stream in (sys.stdout, sys.stderr):  # a target's text (or a '…') never crashes a terminal that is not UTF-8
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    with pipe_safe():  # `| head`: the rest of the output is dropped; the run, its reports and exit code stay
        return command(build_parser().parse_args(argv))


def command(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "checks":
        return cmd_checks()
    if args.command == "selftest":
        return cmd_selftest(args)
    if args.command == "diff":
        return cmd_diff(args)
    if args.command == "compare":
        return cmd_compare(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "gateway":
        from conformance.gateway.command import run as cmd_gateway

        return cmd_gateway(args)
    return cmd_run(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from conformance.embedded import KEY_ENV
    from reference_server import FAULTS, serve

    if args.list_faults:
        for fault in FAULTS.values():
            print(f"{fault.name:40} {fault.kind:8} {fault.description}")
        print(f"\nuse one as a base URL prefix: http://{args.host}:PORT/faults/<name>[+<name>...]")
        return EXIT_OK
    rules = None
    if args.rules:
        from conformance.fake import RulesFileError, load_rules
        from reference_server.rules import RuleBook

        try:
            rules = RuleBook(load_rules(args.rules))
        except RulesFileError as problem:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE
    if args.any_key:
        key, said = None, ("any non-empty key is accepted (--any-key), so the checks auth/wrong-key, auth/wrong-bearer "
                           "and sdk/error-classes fail against this server")
    elif args.api_key:
        key, said = args.api_key, "the one given with --api-key (not printed); pass the same key to run"
    elif os.environ.get(KEY_ENV):
        key, said = os.environ[KEY_ENV], f"the one in ${KEY_ENV} (not printed); pass the same key to run"
    else:
        key, said = DEV_KEY, f"{DEV_KEY} (pass it as --api-key, or set ANTHROPIC_API_KEY)"

    def banner(url: str) -> None:
        lines = [f"anthropic-conformance reference server at {url} (Ctrl-C stops it)", f"  key: {said}"]
        if said.startswith(DEV_KEY):
            lines.append(f"  try: anthropic-conformance run --base-url {url} --api-key {DEV_KEY} --expensive")
        if args.any_key:
            lines[1] = "  warning: " + said
        if rules is not None:
            lines.append(f"  rules: {len(rules)} from {args.rules} (requests they do not match: the responder)")
        print("\n".join(lines), file=sys.stderr, flush=True)

    try:
        serve(host=args.host, port=args.port, api_key=key, ready=banner, rules=rules)
    except OSError as exc:
        hint = "; pick another with --port (0: a free one)" if exc.errno == errno.EADDRINUSE else ""
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}{hint}.", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_selftest(args: argparse.Namespace) -> int:
    from conformance import selftest
    from conformance.inputs import InputError, check_outputs
    from reference_server import FAULTS

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    if args.clients:  # every profile, from a fresh self-test, against the real clients' outcomes
        from conformance.profile_evidence import main as agreement
        return agreement(["agree", "--fresh", "--workers", str(args.workers)])
    try:
        check_outputs({"--markdown": args.markdown})
        if unknown := sorted(set(only or ()) - set(FAULTS)):
            raise InputError(f"--only: no fault or variant {', '.join(unknown)}; `anthropic-conformance serve "
                             "--list-faults` lists them")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    matrix = selftest.build(workers=args.workers, only=only)
    print(selftest.table(matrix))
    problems = matrix.problems() if not only else []
    print(f"\n{sum(r.kind == 'fault' for r in matrix.rows)} faults, {sum(r.kind == 'variant' for r in matrix.rows)} "
          f"variants, {len(matrix.items)} check items in {matrix.seconds:.1f} s: "
          + ("no problems" if not problems else f"{len(problems)} problems"))
    for problem in problems:
        print(f"  {problem}")
    if args.markdown:
        Path(args.markdown).write_text(selftest.markdown(matrix), encoding="utf-8")
    return EXIT_FAILED if problems else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from conformance import diff
    from conformance.report import ReportError

    try:
        old, new = diff.load(args.old), diff.load(args.new)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = diff.compare(old, new, args.level)
    print(diff.render(result))
    return EXIT_FAILED if result.regressed else EXIT_OK


def cmd_checks() -> int:
    from conformance.engine import all_checks, statement

    for check in sorted(all_checks().values(), key=lambda c: c.id):
        for item in check.item_ids():
            print(f"{item:45} {check.tier:9} {check.rule:22} {statement(check.rule)}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from conformance.discovery import Unreachable, first_model, key_rejected, listed_models, model_unknown, probe_models
    from conformance.inputs import InputError, run_inputs
    from conformance.run import Run
    from conformance.settings import Settings
    from conformance.target import display_url

    settings = Settings.from_args(args)
    try:
        run_inputs(settings, args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = settings.target()
    if target is not None:
        try:
            models_status, models_body = probe_models(target)
        except Unreachable as exc:
            return stop_early(settings, target, EXIT_UNREACHABLE,
                              f"the target {target.redact(display_url(target.base_url))} cannot be reached: {exc}")
        if models_status in (401, 403) and (refusal := key_rejected(target, settings.model or "probe-model")):
            return stop_early(settings, target, EXIT_KEY_REJECTED,
                              f"the target rejected the API key on every request ({refusal}), with x-api-key and with "
                              "Authorization: Bearer; check --api-key (against `anthropic-conformance serve`, pass the "
                              "key its start-up banner printed). No check was run.")
        if not target.model:
            target = first_model(target)
            if not target.model:
                why = f"answered HTTP {models_status}" if models_status != 200 else "listed none"
                print(f"error: no model to test: GET /v1/models {why}. Pass --model"
                      + (" and check the API key." if models_status in (401, 403) else "."), file=sys.stderr)
                return EXIT_USAGE
        generating = settings.budget_tokens is None or settings.budget_tokens > 0  # 0: not even 1 token
        if generating and (said := model_unknown(target)):
            listed = listed_models(models_body)
            return stop_early(settings, target, EXIT_MODEL_UNKNOWN,
                              f"the target does not know the model {json.dumps(target.model)} (POST /v1/messages answered "
                              f"{said}); pass one it serves with --model"
                              + (f" (GET /v1/models lists {', '.join(listed)})" if listed else "")
                              + ". No check was run.")
    run = Run(settings, targets={"": target})
    shown = args.verbose or args.pytest_output
    code = run_pytest(run, settings.keyword, None, args.verbose, pytest_output=shown)  # JUnit: from the report
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("error: no check matched the selection", file=sys.stderr)
        return EXIT_NO_CHECKS
    if run.report is None or code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
        return pytest_broke(code, shown)
    from conformance.summary import print_summary

    print_summary(run.report, settings.level, details=not shown)
    label = "reference" if run.report["target"]["embedded"] else run.report["target"]["base_url"]
    write_views({label: run.report}, settings.markdown, settings.html)
    if settings.junit:
        from conformance.junit import write_junit

        write_junit(run.report, settings.junit)
    return EXIT_FAILED if run.failing(run.report) else EXIT_OK


def write_views(reports: dict[str, dict], markdown: str | None, html: str | None) -> None:
    """The Markdown and HTML views of reports (one target, or several side by side), built from the reports only."""
    if not (markdown or html):
        return
    from conformance import matrix

    built = matrix.build(reports)
    if markdown:
        Path(markdown).write_text(matrix.render_markdown(built), encoding="utf-8")
    if html and len(reports) == 1:  # one run: a report page, not a matrix of one column
        from conformance.report_html import render_report_html

        Path(html).write_text(render_report_html(next(iter(reports.values()))), encoding="utf-8")
    elif html:
        Path(html).write_text(matrix.render_html(built), encoding="utf-8")


def cmd_report(args: argparse.Namespace) -> int:
    from conformance import matrix
    from conformance.inputs import InputError, check_outputs
    from conformance.report import ReportError

    try:
        check_outputs({"--markdown": args.markdown, "--html": args.html})
        reports = matrix.load_reports(args.reports)
    except (ReportError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not (args.markdown or args.html):
        print(matrix.render_terminal(matrix.build(reports)))
    write_views(reports, args.markdown, args.html)
    return EXIT_OK


def stop_early(settings, target, code: int, sentence: str) -> int:
    """Nothing can be judged: one sentence on stderr, and the report (with no results) and JUnit still written."""
    from conformance.report import build_report, write_report

    sentence = target.redact(sentence)
    print(f"error: {sentence}", file=sys.stderr)
    if settings.report or settings.junit:
        report = build_report(target, settings.selection, [], budget_limit=settings.budget_tokens,
                              stopped={"reason": sentence, "exit_code": code})
        if settings.report:
            write_report(report, settings.report)
        if settings.junit:  # an empty suite: a CI test tab shows the run, not a stale file
            from conformance.junit import write_junit

            write_junit(report, settings.junit)
    return code


def pytest_broke(code: int, shown: bool) -> int:
    """pytest ended without judging the checks (interrupted, or broken inside): one sentence, exit 1."""
    import pytest

    how = "was interrupted" if code == pytest.ExitCode.INTERRUPTED else f"stopped with its exit code {int(code)}"
    print(f"error: pytest {how} before the checks were judged"
          + ("." if shown else "; run again with --pytest-output to see pytest's own report."), file=sys.stderr)
    return EXIT_FAILED


def run_pytest(run, keyword: str | None, junit: str | None = None, verbose: bool = False,
               extra: list[str] | None = None, pytest_output: bool = False) -> int:
    """The packaged suites through pytest, isolated from the user's own configuration. pytest prints nothing unless
    pytest_output: the harness shows a progress line per area (conformance.progress) and prints its own summary."""
    import pytest

    from conformance.progress import Progress

    suites = Path(str(resources.files("conformance.suites")))
    pytest_args = [str(suites), "-c", str(suites / "conformance.ini"), "--rootdir", str(suites),
                   "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                   # the suites assert nothing themselves (a check's verdict fails the item): no rewriting of every
                   # module of the package, and no import of hypothesis for its summary when it is installed
                   "--assert=plain", "-p", "no:hypothesispytest", "--continue-on-collection-errors",
                   # pytest's terminal reporter only when its report is asked for: else the harness's progress
                   *(["--tb=short", "-rfEsw", "-v" if verbose else "-q"] if pytest_output else ["-p", "no:terminal"]),
                   *(extra or [])]
    if keyword:
        pytest_args += ["-k", keyword]
    if junit:
        pytest_args += ["--junitxml", junit]
    from conformance.pytest_run import ConformanceRun

    progress = None if pytest_output else Progress(list(run.targets), keyword)
    run.prepare()
    try:  # the run's plugin registers its fixtures (also when the entry point is not installed: a checkout)
        return pytest.main(pytest_args, plugins=[ConformanceRun(run), *([progress] if progress else [])])
    finally:
        if progress is not None:
            progress.close()
        run.stop_server()


def cmd_compare(args: argparse.Namespace) -> int:
    import importlib.util

    import pytest

    from conformance import matrix
    from conformance.inputs import InputError, check_outputs
    from conformance.run import Run
    from conformance.settings import COMPARE, Settings, SettingsError, load_deviations
    from conformance.targets import TargetsError, load_targets

    try:
        specs = load_targets(args.targets)
        deviations = {s.name: load_deviations(s.deviations) for s in specs if s.deviations}
        check_outputs({"--markdown": args.markdown, "--html": args.html}, {"--reports": args.reports})
        settings = Settings.from_args(args, COMPARE)  # the targets come from the file
    except (TargetsError, SettingsError, InputError) as exc:  # a bad targets file, deviations file or output
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    gateways = [spec for spec in specs if spec.upstream_port is not None]
    workers = args.workers if args.workers is not None else default_workers(specs)
    if gateways and workers > 1:
        print(f"error: [targets.{gateways[0].name}] is a gateway (upstream_port): its recording upstream's records "
              "live in this process, so compare runs in one; drop --workers or pass --workers 0", file=sys.stderr)
        return EXIT_USAGE
    extra = []
    if workers > 1 and importlib.util.find_spec("xdist") is not None:
        extra = ["-n", str(workers), "--dist", "loadgroup"]
    from conformance.gateway.command import Stop, upstreams_of

    try:
        with upstreams_of(gateways) as upstreams:  # gateway targets: the upstream listening, the gateway answering
            run = Run(settings, targets={s.name: s.target for s in specs}, deviations=deviations,
                      reports_dir=args.reports, upstreams=upstreams)
            code = run_pytest(run, settings.keyword, extra=extra, pytest_output=args.pytest_output)
    except Stop as stop:
        print(f"error: {stop}", file=sys.stderr)
        return stop.code
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("error: no check matched the selection", file=sys.stderr)
        return EXIT_NO_CHECKS
    if not run.reports or code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
        return pytest_broke(code, args.pytest_output)
    print()
    print(matrix.render_terminal(matrix.build(run.reports)))
    write_views(run.reports, args.markdown, args.html)
    print(f"\nreports in {args.reports}/: " + ", ".join(f"{name}.json" for name in run.reports))
    failed = [name for name, report in run.reports.items() if run.failing(report)]
    if not failed:
        return EXIT_OK
    print(f"{len(failed)} of {len(run.reports)} targets failed at the {settings.level} level: {', '.join(failed)}"
          + (" (--no-gate: exit 0 anyway)" if args.no_gate else ""))
    return EXIT_OK if args.no_gate else EXIT_FAILED


def default_workers(specs) -> int:
    """pytest-xdist workers for compare: none when every target is on this machine (the work is CPU on both sides,
    and one process pays the start-up once: measured, 4 local targets in one process take about 1.5x one target,
    on 2 workers over 2x); else one per target, at most the CPU count (remote targets are waited on, not computed)."""
    from urllib.parse import urlsplit

    if any(spec.upstream_port is not None for spec in specs):
        return 0  # a gateway's recording upstream lives in this process
    local = all(spec.target is None or (urlsplit(spec.target.base_url).hostname or "") in (
        "127.0.0.1", "localhost", "::1") for spec in specs)
    return 0 if local else min(len(specs), os.cpu_count() or 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
