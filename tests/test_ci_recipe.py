"""The documented GitHub Actions recipe: its triggers, jobs and gate, and every command line in it parses."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import build_parser
from conformance.engine import all_checks

# PyYAML is not a direct dependency: it comes with uvicorn[standard], which is one.
yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it comes with uvicorn[standard])")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "docs" / "github-workflow.yml"
DOC = ROOT / "docs" / "ci.md"
SHELL_OPERATORS = re.compile(r"^(\d*[<>].*|&&?|\|\|?|;)$")
PENDING_SUBCOMMANDS = {"compare", "diff"}  # being added to the CLI while this recipe was written
PENDING_OPTIONS = {"--budget-tokens"}


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def triggers(wf: dict) -> dict:
    return wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def step(job: str, startswith: str) -> dict:
    return next(s for s in steps(job) if s.get("name", "").startswith(startswith))


def command_lines(script: str) -> list[list[str]]:
    """The anthropic-conformance invocations of a shell script, as argv lists without the program name."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        if not re.match(r"\s*(?:[A-Za-z_]\w*=\S*\s+)*anthropic-conformance\s", line):
            continue  # not a command line of the harness (python -c bodies, other tools)
        tokens = shlex.split(line, comments=True)
        while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):  # NAME=value before the command
            tokens = tokens[1:]
        if not tokens or tokens[0] != "anthropic-conformance":
            continue
        end = next((i for i, t in enumerate(tokens) if SHELL_OPERATORS.match(t)), len(tokens))
        out.append(tokens[1:end])
    return out


def workflow_commands() -> list[tuple[str, list[str]]]:
    return [(f"{job}: {' '.join(argv)}", argv) for job, spec in workflow()["jobs"].items()
            for s in spec["steps"] if "run" in s for argv in command_lines(s["run"])]


def doc_commands() -> list[tuple[str, list[str]]]:
    spans = re.findall(r"`(anthropic-conformance [^`]+)`", DOC.read_text(encoding="utf-8"))
    return [(f"ci.md: {span}", shlex.split(span)[1:]) for span in spans]


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse with the real CLI parser. What is being added to the CLI (PENDING) and is not there yet is skipped,
    named in the reason; any other unknown subcommand or option fails."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv[0] not in sub.choices:
        if argv[0] in PENDING_SUBCOMMANDS:
            pytest.skip(f"the CLI has no `{argv[0]}` subcommand yet (being added; it has {', '.join(sorted(sub.choices))})")
        pytest.fail(f"the CLI has no `{argv[0]}` subcommand")
    known = sub.choices[argv[0]]._option_string_actions
    missing = sorted({t.split("=")[0] for t in argv[1:] if t.startswith("--") and t.split("=")[0] not in known})
    if missing and set(missing) <= PENDING_OPTIONS:
        pytest.skip(f"`{argv[0]}` has no {', '.join(missing)} option yet (being added)")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"anthropic-conformance {' '.join(argv)} does not parse: {err.getvalue()}")


def run_args(job: str) -> argparse.Namespace:
    commands = [argv for s in steps(job) if "run" in s for argv in command_lines(s["run"]) if argv[0] == "run"]
    assert len(commands) == 1, commands
    return parse(commands[0])


def synthetic_report(verdict: str) -> dict:
    results = [{"id": "auth/x-api-key", "area": "auth", "verdict": verdict, "compat_verdict": verdict,
                "rule": "AUTH-X", "tier": "free", "message": f"{verdict} <b>", "reason": "", "findings": [],
                "evidence": []}]
    summary = {v: int(v == verdict) for v in ("pass", "fail", "warn", "unsupported", "skipped", "error")}
    return {"schema_version": "1.0",
            "tool": {"name": "anthropic-conformance", "version": "0.1.0", "sdk_version": "2"},
            "target": {"base_url": "https://x.invalid", "model": "m", "anthropic_version": "2023-06-01",
                       "embedded": False},
            "selection": {"keyword": "free", "expensive": False, "level": "strict"}, "results": results,
            "summary": {**summary, "total": 1}, "compat_summary": {**summary, "total": 1},
            "tokens": {"requested": 0, "used": 0}, "profiles": {}}


def test_the_workflow_is_triggered_by_pull_requests_pushes_to_main_a_schedule_and_by_hand():
    on = triggers(workflow())
    assert set(on) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert {"opened", "synchronize", "reopened", "labeled"} <= set(on["pull_request"]["types"])
    assert on["push"]["branches"] == ["main"]
    assert len(on["schedule"]) == 1 and len(on["schedule"][0]["cron"].split()) == 5


def test_the_free_tier_gates_every_pull_request_and_the_expensive_tier_runs_on_its_label_or_the_schedule():
    jobs = workflow()["jobs"]
    assert set(jobs) == {"free-tier", "expensive-tier"}
    free, expensive = jobs["free-tier"]["if"], jobs["expensive-tier"]["if"]
    assert "github.event_name == 'pull_request'" in free and "github.event_name == 'push'" in free
    assert "schedule" not in free
    assert "github.event_name == 'schedule'" in expensive and "github.event_name == 'workflow_dispatch'" in expensive
    assert "contains(github.event.pull_request.labels.*.name, 'conformance:expensive')" in expensive
    assert workflow()["permissions"] == {"contents": "read", "actions": "read"}


def test_the_free_tier_selects_the_free_checks_and_writes_a_report_and_junit():
    args = run_args("free-tier")
    assert args.keyword == "free" and not args.expensive
    assert args.report == "free.json" and args.junit == "free-junit.xml"
    assert args.base_url == "$CONFORMANCE_BASE_URL"


def test_the_expensive_tier_runs_every_tier_within_a_4000_token_budget():
    args = run_args("expensive-tier")
    assert args.expensive and args.keyword is None and args.budget_tokens == 4000
    assert args.report == "expensive.json" and args.junit == "expensive-junit.xml"


def test_no_check_id_contains_the_word_free_so_k_free_selects_by_tier_marker_only():
    items = [item for check in all_checks().values() for item in check.item_ids()]
    assert not [item for item in items if "free" in item.lower()]
    assert sum(check.tier == "free" for check in all_checks().values()) > 0


def test_k_free_selects_exactly_the_free_tier_in_a_real_run(tmp_path):
    expected = sorted(item for check in all_checks().values() if check.tier == "free" for item in check.item_ids())
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-k", "free", "--report", "free.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "free.json").read_text())
    assert sorted(r["id"] for r in report["results"]) == expected
    assert {r["tier"] for r in report["results"]} == {"free"} and report["tokens"]["used"] == 0


@pytest.mark.parametrize("job,report", [("free-tier", "free"), ("expensive-tier", "expensive")])
def test_every_job_uploads_its_report_junit_and_matrix_as_an_artifact(job, report):
    upload = step(job, "Upload the reports")
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert upload["with"]["name"] == f"conformance-{report}"
    assert upload["with"]["path"].split() == [f"{report}.json", f"{report}-junit.xml", f"{report}-matrix.html"]


@pytest.mark.parametrize("job,report", [("free-tier", "free"), ("expensive-tier", "expensive")])
@pytest.mark.parametrize("with_baseline", [True, False], ids=["baseline", "no-baseline"])
def test_every_job_writes_the_markdown_matrix_to_the_step_summary(tmp_path, job, report, with_baseline):
    summary_step = step(job, "Write the matrix to the step summary")
    assert summary_step["if"] == f"always() && hashFiles('{report}.json') != ''"
    argv = shlex.split(summary_step["run"])
    assert argv[:2] == ["python", "-c"] and len(argv) == 3
    (tmp_path / f"{report}.json").write_text(json.dumps(synthetic_report("fail")))
    if with_baseline:
        (tmp_path / "baseline.json").write_text(json.dumps(synthetic_report("pass")))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    proc = subprocess.run([sys.executable, "-c", argv[2]], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    title = "## Conformance matrix" if with_baseline else "## Conformance report"
    assert text.startswith(f"earlier step\n{title}")  # appended, never overwritten
    assert "| auth/x-api-key | **FAIL** |" in text and "<b>" not in text
    assert "- **FAIL** `auth/x-api-key`" + (" on [1]" if with_baseline else "") + ": fail &lt;b&gt;" in text
    assert ("baseline)" in text) == with_baseline and "| this run |" in text
    page = (tmp_path / f"{report}-matrix.html").read_text()
    assert "fail &lt;b&gt;" in page and "<b>" not in page


@pytest.mark.parametrize("job,report,event", [("free-tier", "free", "push"), ("expensive-tier", "expensive", "schedule")])
def test_every_job_fails_on_regressions_against_a_baseline_downloaded_from_mains_last_run(job, report, event):
    names = [s.get("name", "") for s in steps(job)]
    order = [next(i for i, n in enumerate(names) if n.startswith(p))
             for p in ("Run ", "Download the baseline", "Write the matrix", "Upload the reports", "Fail on regressions")]
    assert order == sorted(order) and order[-1] == len(names) - 1
    download = step(job, "Download the baseline")
    assert download["id"] == "baseline" and download["env"] == {"GH_TOKEN": "${{ github.token }}"}
    assert f"--branch main --event {event}" in download["run"]
    assert f"--name conformance-{report} --dir baseline" in download["run"]
    assert f"cp baseline/{report}.json baseline.json" in download["run"]
    assert 'echo "found=true" >> "$GITHUB_OUTPUT"' in download["run"]
    gate = step(job, "Fail on regressions")
    assert [argv for argv in command_lines(gate["run"])] == [["diff", "baseline.json", f"{report}.json"]]
    assert gate["env"] == {"BASELINE_FOUND": "${{ steps.baseline.outputs.found }}",
                           "RUN_EXIT_CODE": "${{ steps.run.outputs.exit-code }}"}
    run = step(job, "Run ")
    assert run["id"] == "run" and 'if [ "$code" -gt 1 ]; then exit "$code"; fi' in run["run"]


def test_the_key_reaches_only_the_run_steps_and_never_a_command_line():
    wf = workflow()
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "--api-key" not in text and "secrets." not in json.dumps(wf["env"])
    for job, spec in wf["jobs"].items():
        for s in spec["steps"]:
            env = json.dumps(s.get("env", {})) + json.dumps(s.get("with", {}))
            if s.get("name", "").startswith("Run "):
                assert "secrets.CONFORMANCE_API_KEY" in s["env"]["ANTHROPIC_API_KEY"], job
            else:
                assert "secrets." not in env and "secrets." not in s.get("run", ""), (job, s.get("name"))


@pytest.mark.parametrize("argv", [argv for _, argv in workflow_commands() + doc_commands()],
                         ids=[name for name, _ in workflow_commands() + doc_commands()])
def test_every_anthropic_conformance_command_line_parses(argv):
    args = parse(argv)
    assert args.command == argv[0]


def test_the_recipe_has_the_commands_it_is_about():
    commands = [" ".join(argv) for _, argv in workflow_commands()]
    assert any(c.startswith("run ") and "-k free" in c for c in commands)
    assert any(c.startswith("run ") and "--expensive --budget-tokens 4000" in c for c in commands)
    assert sum(c.startswith("diff ") for c in commands) == 2
    assert sum(c.startswith("serve ") for c in commands) == 2


def test_the_doc_explains_the_recipe():
    text = DOC.read_text(encoding="utf-8")
    for needle in ("(github-workflow.yml)", "-k free", "`-m`", "marker", "--budget-tokens", "conformance:expensive",
                   "GITHUB_STEP_SUMMARY", "anthropic-conformance diff baseline.json free.json", "gh run download",
                   "actions: read", "pull_request_target", "CONFORMANCE_API_KEY", "CONFORMANCE_BASE_URL"):
        assert needle in text, needle
    assert len(doc_commands()) >= 4


# Absolute folders of a developer's or CI machine; built from names so this file itself names none.
MACHINE_PATH = re.compile("(" + "|".join(f"/{d}/" for d in ("work", "tmp", "home", "root", "Users")) + r"|[A-Z]:\\)")


def test_the_recipe_names_no_machine_path():
    for path in (WORKFLOW, DOC):
        assert not MACHINE_PATH.search(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("job", ["free-tier", "expensive-tier"])
def test_the_harness_is_installed_from_what_the_user_names_a_git_url_or_a_path_never_a_bare_index_name(tmp_path, job):
    assert "||" not in workflow()["env"]["CONFORMANCE_PACKAGE"]  # no default: the harness is not on PyPI
    script = step(job, "Install the harness")["run"]
    assert 'python -m pip install "$CONFORMANCE_PACKAGE"' in script
    unset = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                           env={"PATH": os.environ["PATH"], "CONFORMANCE_PACKAGE": ""})
    assert unset.returncode == 1 and "git+https://" in unset.stdout and "path" in unset.stdout
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python").write_text('#!/bin/sh\necho "$@"\n')
    (fake_bin / "python").chmod(0o755)
    given = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                           env={"PATH": f"{fake_bin}:{os.environ['PATH']}", "CONFORMANCE_PACKAGE": str(ROOT)})
    assert given.returncode == 0 and given.stdout.split() == ["-m", "pip", "install", str(ROOT)]
    doc = DOC.read_text(encoding="utf-8")
    assert "git+https://github.com/OWNER/anthropic-conformance@" in doc and "./tools/anthropic-conformance" in doc
