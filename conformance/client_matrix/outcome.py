"""The matrix's data: a cell's outcome (works / degraded / breaks) from its scenario results, and its two writers
(`client-matrix.json`, the machine-readable evidence, and `client-matrix.md`, the readable table)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .scenarios import FAILED, OK, ScenarioResult

WORKS, DEGRADED, BREAKS, NOT_RUN = "works", "degraded", "breaks", "not-run"

DEFINITIONS = {
    WORKS: "every scenario of the client gives what it gives against the clean reference server",
    DEGRADED: "the main scenario (a plain messages.create, or a plain `claude -p` prompt) works, but an error path "
              "or a secondary feature (streaming, the stream helper, a tool call, the error class raised) fails or "
              "differs",
    BREAKS: "the main scenario fails: the client raises, exits non-zero, times out, or returns the wrong text",
    NOT_RUN: "the client could not be installed, or the run's time budget ran out before this cell",
}


def classify(results: list[ScenarioResult], main: str) -> str:
    """works / degraded / breaks: the main scenario decides breaks; any other scenario not ok degrades."""
    if not results:
        return NOT_RUN
    by_name = {r.scenario: r for r in results}
    if main not in by_name or by_name[main].status == FAILED:
        return BREAKS
    return WORKS if all(r.status == OK for r in results) else DEGRADED


@dataclass
class Cell:
    outcome: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    note: str = ""  # why not run

    def failures(self) -> list[ScenarioResult]:
        return [r for r in self.scenarios if r.status != OK]


@dataclass
class Row:
    name: str
    kind: str  # clean | fault | variant | model (the clean server with one model family)
    description: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class ClientMatrix:
    columns: list[dict]  # {id, label, client, version, main, scenarios, model?}
    rows: list[Row]
    seconds: float = 0.0
    timeouts: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What makes the run untrustworthy: a client that does not work against the clean server, or that breaks
        against it with one model family (degraded is the model's: Claude Code resends without a role: system
        message to a model that refuses them, as it does against the real API)."""
        out = []
        for row in self.rows:
            if row.kind not in ("clean", "model"):
                continue
            model = f" with {row.name.removeprefix('model:')}" if row.kind == "model" else ""
            for column, cell in row.cells.items():
                if cell.outcome != WORKS and (row.kind == "clean" or cell.outcome == BREAKS):
                    detail = "; ".join(f"{r.scenario}: {r.evidence}" for r in cell.failures()) or cell.note
                    out.append(f"{column} does not work against the clean server{model} ({cell.outcome}): {detail}")
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        out = {c["id"]: {WORKS: 0, DEGRADED: 0, BREAKS: 0, NOT_RUN: 0} for c in self.columns}
        for row in self.rows:
            for column, cell in row.cells.items():
                out[column][cell.outcome] += 1
        return out


def to_json(matrix: ClientMatrix) -> dict:
    return {
        "generated_by": "python -m conformance.client_matrix --out docs/client-matrix",
        "definitions": DEFINITIONS,
        "scenario_status": {"ok": "as against the clean server", "differs": "the client returned, but what a program "
                            "reads differs (stop_reason, error class, event sequence)",
                            "failed": "raised, exited non-zero, timed out, or returned the wrong text"},
        "seconds": round(matrix.seconds, 1),
        "timeouts": matrix.timeouts,
        "clients": matrix.columns,
        "counts": matrix.counts(),
        "problems": matrix.problems(),
        "notes": matrix.notes,
        "rows": [{"name": row.name, "kind": row.kind, "description": row.description, "cells": {
            column: {"outcome": cell.outcome, **({"note": cell.note} if cell.note else {}),
                     "scenarios": {r.scenario: {k: v for k, v in asdict(r).items() if k != "scenario" and v != ""}
                                   for r in cell.scenarios}}
            for column, cell in row.cells.items()}} for row in matrix.rows],
    }


def from_json(data: dict) -> ClientMatrix:
    rows = [Row(r["name"], r["kind"], r["description"], {
        column: Cell(cell["outcome"], [ScenarioResult(name, s["status"], s.get("evidence", ""), s.get("seconds", 0.0))
                                       for name, s in cell["scenarios"].items()], cell.get("note", ""))
        for column, cell in r["cells"].items()}) for r in data["rows"]]
    return ClientMatrix(data["clients"], rows, data.get("seconds", 0.0), data.get("timeouts", {}), data.get("notes", []))


def _cell_mark(cell: Cell | None) -> str:
    return {WORKS: "works", DEGRADED: "**degraded**", BREAKS: "**BREAKS**"}.get(cell.outcome, cell.outcome) \
        if cell else "-"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(matrix: ClientMatrix) -> str:
    ids = [c["id"] for c in matrix.columns]
    lines = ["<!-- generated by `python -m conformance.client_matrix --out docs/client-matrix`; do not edit -->", "",
             "# Clients x faults matrix", "",
             "Real clients run against the reference server: clean, with each fault (a real defect of a compatible "
             "endpoint, reproduced) and with each valid variant. This is the evidence client profiles are derived "
             "from.", "", "## Clients", "", "| column | client | version | scenarios (main first) |", "|---|---|---|---|"]
    for c in matrix.columns:
        scen = ", ".join([c["main"]] + [s for s in c["scenarios"] if s != c["main"]])
        model = f" (models used: {', '.join(c['models_seen'])})" if c.get("models_seen") else ""
        lines.append(f"| `{c['id']}` | {_md(c['label'])}{_md(model)} | {c.get('version') or 'not installed'} | {scen} |")
    lines += ["", "Scenarios:", ""]
    seen: set[str] = set()
    for c in matrix.columns:
        for name, text in c["scenarios"].items():
            if name not in seen:
                seen.add(name)
                lines.append(f"- `{name}`: {_md(text)}")
    lines += ["", "## Outcomes", ""] + [f"- **{name}**: {text}" for name, text in DEFINITIONS.items()]
    lines += ["", f"Per scenario timeouts: {', '.join(f'{k} {v} s' for k, v in matrix.timeouts.items())}. "
              f"Full run: {matrix.seconds / 60:.1f} min.", ""]
    counts = matrix.counts()
    lines += ["| client | works | degraded | breaks | not run |", "|---|---|---|---|---|"]
    lines += [f"| `{i}` | {counts[i][WORKS]} | {counts[i][DEGRADED]} | {counts[i][BREAKS]} | {counts[i][NOT_RUN]} |"
              for i in ids]
    problems = matrix.problems()
    lines += ["", "**Problems:** " + ("none: every client works against the clean server." if not problems else "")]
    lines += [f"- {_md(p)}" for p in problems]
    lines += ["", "Run notes:", ""] + [f"- {_md(n)}" for n in matrix.notes] if matrix.notes else []
    lines += ["", "## Matrix", "", "| server | kind | " + " | ".join(f"`{i}`" for i in ids) + " |",
              "|---|---|" + "---|" * len(ids)]
    for row in matrix.rows:
        lines.append(f"| `{row.name}` | {row.kind} | " + " | ".join(_cell_mark(row.cells.get(i)) for i in ids) + " |")
    lines += ["", "## What each client said (every cell that does not work)", ""]
    for row in matrix.rows:
        bad = [(i, row.cells[i]) for i in ids if i in row.cells and row.cells[i].outcome != WORKS]
        if not bad:
            continue
        lines += [f"### `{row.name}` ({row.kind})", "", _md(row.description), ""]
        for column, cell in bad:
            if cell.note:
                lines.append(f"- `{column}` {cell.outcome}: {_md(cell.note)}")
            for r in cell.failures():
                lines.append(f"- `{column}` {cell.outcome}, `{r.scenario}` {r.status}: {_md(r.evidence)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def merged(old: ClientMatrix, new: ClientMatrix, order: list[str]) -> ClientMatrix:
    """`old` with the rows of `new` in place of its rows of the same name (added where it has none), in `order` (the
    catalogue's; rows it does not know keep their place at the end). The columns must be the same clients at the same
    versions: a matrix mixes no versions. The run time is the sum; the notes are the new run's."""
    def key(column: dict) -> tuple:
        return column["id"], column.get("version")

    if [key(c) for c in old.columns] != [key(c) for c in new.columns]:
        raise ValueError("cannot merge: the columns or client versions differ from the existing matrix ("
                         + ", ".join(f"{i} {v}" for i, v in map(key, old.columns)) + "); run the whole matrix")
    rows = {row.name: row for row in old.rows} | {row.name: row for row in new.rows}
    place = {name: i for i, name in enumerate(order)}
    ordered = sorted(rows.values(), key=lambda row: place.get(row.name, len(place)))
    columns = [{**c, "models_seen": sorted(set(c.get("models_seen", [])) | set(n.get("models_seen", [])))}
               if "models_seen" in c else c for c, n in zip(old.columns, new.columns, strict=True)]
    return ClientMatrix(columns, ordered, old.seconds + new.seconds, new.timeouts, new.notes)


def write(matrix: ClientMatrix, out: Path) -> tuple[Path, Path]:
    """`out` without suffix: writes out.json and out.md; returns both paths."""
    json_path, md_path = out.with_suffix(".json"), out.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(to_json(matrix), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(matrix), encoding="utf-8")
    return json_path, md_path
