"""Running the whole matrix: install the clients, start the reference server, run every column against the clean
server and every fault and variant (two at a time, bounded), and write docs/client-matrix.{json,md}."""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .install import DEFAULT_CACHE, INSTALLERS, Client, InstallError
from .outcome import NOT_RUN, Cell, ClientMatrix, Row, classify, from_json, merged, write
from .scenarios import COLUMNS, MODEL, Column, Redactor, run_claude_code, run_sdk
from .server import RecordingServer

CLEAN = ("clean", "clean", "the reference server as it is", None)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plan(only: list[str] | None = None) -> list[tuple[str, str, str, str | None]]:
    """The rows (name, kind, description, model): the clean server first, then every fault and variant of the
    registry, then the clean server with one model of each family of fixtures/models.json (or those in `only`). A
    fault of a layer in front of one model (Fault.model) is run with that model, as the self-test judges it: the SDKs
    and Claude Code's --model column send it (its default-model column does not)."""
    from conformance.model_table import model_rows_plan
    from reference_server import FAULTS

    families = model_rows_plan()
    unknown = sorted(set(only or []) - set(FAULTS) - {"clean"} - {spec[0] for spec in families})
    if unknown:
        raise ValueError(f"unknown faults: {', '.join(unknown)}")
    rows = [(f.name, f.kind, f.description + (f" Run with {f.model}." if f.model else ""), f.model)
            for f in FAULTS.values() if not only or f.name in only]
    return [CLEAN, *rows, *(spec for spec in families if not only or spec[0] in only)]


def install_all(columns: list[Column], cache: Path, log=_log) -> tuple[dict[str, Client], list[str]]:
    installed, notes = {}, []
    for name in dict.fromkeys(c.client for c in columns):
        started = time.monotonic()
        try:
            installed[name] = INSTALLERS[name](cache)
            log(f"{name}: {installed[name].version} ({time.monotonic() - started:.0f} s)")
        except InstallError as error:
            notes.append(f"{name} not installed: {error}")
            log(f"{name}: NOT INSTALLED: {error}")
    return installed, notes


def run_cell(column: Column, client: Client, base_url: str, key: str, timeouts: dict, redact: Redactor,
             models: dict[str, set], exchanges=None, row_model: str | None = None) -> Cell:
    """One client against one row; `row_model` (a per-model fault's) replaces the target's model."""
    if column.client == "claude-code":
        model = row_model if row_model and column.model else column.model
        results, used = run_claude_code(client, base_url, key, model, timeouts["claude-code"], redact, exchanges)
        models.setdefault(column.id, set()).update(used)
    else:
        results = run_sdk(client, base_url, key, timeouts["sdk"], redact, row_model or MODEL)
    return Cell(classify(results, column.main), results)


def run_matrix(clients: list[str] | None = None, only: list[str] | None = None, cache: Path = DEFAULT_CACHE,
               workers: int = 2, budget: float | None = None, sdk_timeout: float = 20.0,
               claude_timeout: float = 60.0, out: Path | None = None, log=_log,
               merge_into: ClientMatrix | None = None) -> ClientMatrix:
    """Every column x (clean + faults + variants); cells past the time budget are `not-run`. Writes `out`.{json,md}
    when given; with `merge_into`, the rows run replace that matrix's rows of the same name (outcome.merged). Never
    hangs: every client process has a timeout and its process group is killed after it."""
    columns = [c for c in COLUMNS if not clients or c.id in clients or c.client in clients]
    rows_plan = plan(only)
    timeouts = {"claude-code": claude_timeout, "sdk": sdk_timeout}
    started = time.monotonic()
    installed, notes = install_all(columns, cache, log)
    notes.append("Claude Code runs headless (`claude -p ... --output-format json`) with a throwaway HOME and project "
                 "folder, ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY, telemetry, auto-update, error reporting and "
                 "nonessential traffic off, and CLAUDE_CODE_MAX_RETRIES=2 (the faults are deterministic: more retries "
                 "would change the time, not the outcome); the SDKs run with their default retries (2).")
    notes.append("The server logs the status of every POST /v1/messages: a Claude Code run that got the right answer "
                 "only after a rejected request (it resends the request without what was rejected) `differs`.")
    models: dict[str, set] = {}
    done_count = [0]
    with RecordingServer() as server:
        key = server.api_key.reveal()
        redact = Redactor((key, "<key>"), (server.base_url, "<base-url>"))

        def run_row(spec: tuple[str, str, str, str | None]) -> Row:
            name, kind, description, row_model = spec
            row = Row(name, kind, description)
            # a model row is the clean server under a prefix of its own, so its exchanges are told from the others'
            prefix = "" if kind == "clean" else f"/family/{row_model}" if kind == "model" else f"/faults/{name}"
            base_url = server.base_url + prefix

            def exchanges():  # the statuses of this row's POST /v1/messages from now on (columns run in turn)
                mark = server.app.mark()
                return lambda: [e.status for e in server.app.since(mark, prefix)
                                if e.method == "POST" and e.path.endswith("/v1/messages")]

            row_started = time.monotonic()
            for column in columns:
                client = installed.get(column.client)
                if client is None:
                    row.cells[column.id] = Cell(NOT_RUN, note=f"{column.client} is not installed")
                elif budget is not None and time.monotonic() - started > budget:
                    row.cells[column.id] = Cell(NOT_RUN, note=f"the time budget of {budget:.0f} s ran out")
                else:
                    row.cells[column.id] = run_cell(column, client, base_url, key, timeouts, redact, models,
                                                      exchanges, row_model)
            done_count[0] += 1
            log(f"[{done_count[0]}/{len(rows_plan)}] {name} ({time.monotonic() - row_started:.0f} s): "
                + ", ".join(f"{c}={cell.outcome}" for c, cell in row.cells.items()))
            return row

        rows = [run_row(rows_plan[0])]  # the clean server first: a client that fails there is reported early
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            rows += list(pool.map(run_row, rows_plan[1:]))
    described = []
    for column in columns:
        client = installed.get(column.client)
        entry = {"id": column.id, "client": column.client, "label": column.label,
                 "version": client.version if client else None, "main": column.main, "scenarios": column.scenarios}
        if column.client == "claude-code":
            entry["model"] = column.model or "(its default)"
            entry["models_seen"] = sorted(models.get(column.id, set()))
        described.append(entry)
    matrix = ClientMatrix(described, rows, time.monotonic() - started, timeouts, notes)
    if merge_into is not None:
        matrix = merged(merge_into, matrix, [spec[0] for spec in plan()])
    if out is not None:
        for path in write(matrix, out):
            log(f"wrote {path}")
    return matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.client_matrix",
                                     description="Run real clients against every reference-server fault and variant.")
    parser.add_argument("--out", type=Path, default=Path("docs/client-matrix"),
                        help="writes OUT.json and OUT.md (default docs/client-matrix)")
    parser.add_argument("--clients", default=None, help="comma-separated columns or clients: "
                        + ", ".join(dict.fromkeys([c.id for c in COLUMNS] + list(INSTALLERS))))
    parser.add_argument("--only", default=None, help="comma-separated faults/variants (default all; clean always)")
    parser.add_argument("--workers", type=int, default=2, help="faults run in parallel (default 2)")
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="stop starting cells after this many seconds; the rest are not-run")
    parser.add_argument("--sdk-timeout", type=float, default=20.0, help="per SDK scenario (default 20 s)")
    parser.add_argument("--claude-timeout", type=float, default=60.0, help="per claude -p run (default 60 s)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the clients are installed")
    parser.add_argument("--merge", action="store_true", help="with --only: fold the rows run into the existing "
                        "OUT.json (same clients at the same versions) instead of writing a matrix of those rows only")
    args = parser.parse_args(argv)
    split = lambda text: [part.strip() for part in text.split(",") if part.strip()] if text else None  # noqa: E731
    known = {c.id for c in COLUMNS} | set(INSTALLERS)
    clients = split(args.clients)
    if clients and set(clients) - known:
        parser.error(f"unknown clients: {', '.join(sorted(set(clients) - known))}")
    if args.workers < 1 or args.sdk_timeout <= 0 or args.claude_timeout <= 0:
        parser.error("--workers, --sdk-timeout and --claude-timeout must be positive")
    existing = None
    if args.merge:
        path = args.out.with_suffix(".json")
        if not args.only or clients:
            parser.error("--merge takes --only (the rows to run again) and every client (no --clients)")
        try:
            existing = from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"--merge: cannot read the matrix {path}: {error}")
    try:
        matrix = run_matrix(clients, split(args.only), args.cache, args.workers, args.budget, args.sdk_timeout,
                            args.claude_timeout, args.out, merge_into=existing)
    except ValueError as error:
        parser.error(str(error))
    for column, counts in matrix.counts().items():
        print(f"{column:20} " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    problems = matrix.problems()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"{len(matrix.rows)} rows in {matrix.seconds / 60:.1f} min; "
          f"{'no problems' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


__all__ = ["main", "run_matrix"]
