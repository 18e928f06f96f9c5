"""The output-token budget: one ledger, never exceeded, shared by xdist workers, skips say why."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from conformance.budget import BudgetExceeded, TokenLedger

pytest_plugins = ["pytester"]


def test_it_refuses_a_reservation_that_would_pass_the_limit_and_counts_nothing_then():
    ledger = TokenLedger(100)
    ledger.reserve(60)
    with pytest.raises(BudgetExceeded, match="only 40 of the 100"):
        ledger.reserve(50, "exchange 'x'")
    ledger.reserve(40)
    assert ledger.spent == 100


def _spend(path: str, results) -> None:
    ledger = TokenLedger(1000, path)
    granted = 0
    for _ in range(200):
        try:
            ledger.reserve(7)
            granted += 7
        except BudgetExceeded:
            pass
    results.put(granted)


def test_processes_sharing_a_ledger_file_never_overspend(tmp_path):
    path = tmp_path / "ledger.txt"
    TokenLedger(1000, path)
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_spend, args=(str(path), results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    granted = sum(results.get(timeout=5) for _ in workers)
    assert granted == TokenLedger(None, path).spent <= 1000
    assert granted > 1000 - 7


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_a_run_never_requests_more_than_its_budget_and_skips_the_rest_with_the_reason(pytester, workers):
    report_path = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("--pyargs", "conformance.suites", "-p", "no:cacheprovider", *workers,
                                           "--conformance-budget-tokens", "300", "--conformance-report",
                                           str(report_path), "-k", "(message or streaming or tools) and not gateway")
    assert result.ret == pytest.ExitCode.OK
    report = json.loads(report_path.read_text())
    assert report["budget"]["limit"] == 300 and report["budget"]["reserved"] <= 300
    assert report["tokens"]["requested"] <= 300 and report["tokens"]["used"] <= report["tokens"]["requested"]
    skipped = [r for r in report["results"] if r["verdict"] == "skipped"]
    gateway = [r for r in skipped if r["area"] == "gateway"]  # no recording upstream: gateway mode only, whatever the budget
    assert all(r["reason"].startswith("gateway mode only") for r in gateway)
    assert skipped and all(r["reason"].startswith(("budget: ", "expensive: ")) for r in skipped if r not in gateway)
    assert any(r["reason"].startswith("budget: ") for r in skipped)


def test_no_module_of_the_package_imports_fcntl_so_it_installs_on_windows():
    import ast
    from pathlib import Path

    import conformance
    import reference_server

    offenders = []
    for package in (conformance, reference_server):
        for source in Path(package.__file__).parent.rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n.split(".")[0] == "fcntl" for n in names):
                    offenders.append(f"{source.name}:{node.lineno}")
    assert offenders == []


def test_the_ledger_file_lock_is_a_filelock_next_to_the_ledger(tmp_path):
    path = tmp_path / "ledger"
    TokenLedger(100, path).reserve(10)
    assert (tmp_path / "ledger.lock").exists() and TokenLedger(None, path).spent == 10
