"""The comparison matrix of several targets, built only from their JSON reports: terminal, Markdown and HTML views."""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from conformance.report import results_by_id, verdict_at

VERDICTS = ("pass", "fail", "warn", "unsupported", "skipped", "error")
NOT_RUN = "not run"
FAILING = ("fail", "error")
SHORT = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "unsupported": "UNSUP", "skipped": "SKIP", "error": "ERR",
         NOT_RUN: "-"}
PROFILE_STATUSES = ("ready", "degraded", "not-ready", "not-covered")
DATE_KEYS = ("generated_at", "date", "created_at", "created", "timestamp", "started_at", "finished_at")


@dataclass(frozen=True)
class Totals:
    """One target's counts per verdict, strict (report["summary"]) and compat (report["compat_summary"])."""

    strict: tuple[tuple[str, int], ...]
    compat: tuple[tuple[str, int], ...]

    def get(self, verdict: str, level: str = "strict") -> int:
        return dict(self.strict if level == "strict" else self.compat).get(verdict, 0)

    def failing(self, level: str = "strict") -> int:
        return sum(self.get(v, level) for v in FAILING)


@dataclass(frozen=True)
class TargetInfo:
    """A column: one target, named by the caller, with what its report says about the run."""

    name: str
    base_url: str
    model: str
    embedded: bool
    tool_version: str
    date: str  # "" when the report carries no date
    selection: str  # e.g. "-k auth, --expensive, level strict"
    totals: Totals


@dataclass(frozen=True)
class Cell:
    """One check on one target: its verdicts (or "not run"), and the report's text for it."""

    verdict: str
    compat_verdict: str
    message: str = ""
    reason: str = ""
    deviation: str = ""  # the reason of a known deviation the run was told about ("" for none)
    line: str = ""  # `expected X; got Y` in one line (conformance.junit.one_line)

    @property
    def failing(self) -> bool:
        return self.verdict in FAILING or self.compat_verdict in FAILING

    @property
    def compat_differs(self) -> bool:
        return self.compat_verdict != self.verdict


@dataclass(frozen=True)
class Row:
    """One check id across every target (cells in Matrix.targets order)."""

    check_id: str
    area: str
    rule: str
    tier: str
    cells: tuple[Cell, ...]

    @property
    def agree(self) -> bool:
        return len({(c.verdict, c.compat_verdict) for c in self.cells}) <= 1

    @property
    def failing(self) -> bool:
        return any(c.failing for c in self.cells)

    @property
    def folded(self) -> bool:
        """Every target agrees and none fails: the row can be folded away."""
        return self.agree and not self.failing


@dataclass(frozen=True)
class Area:
    name: str
    rows: tuple[Row, ...]

    @property
    def shown(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.folded)

    @property
    def folded(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.folded)


@dataclass(frozen=True)
class ProfileCell:
    status: str  # ready | degraded | not-ready | not-covered | "not run" (the report has no such profile)
    failing: tuple[str, ...] = ()
    limiting: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()

    @property
    def detail(self) -> tuple[str, ...]:
        return self.failing or self.limiting or self.not_run


@dataclass(frozen=True)
class ProfileRow:
    name: str
    description: str
    cells: tuple[ProfileCell, ...]


@dataclass(frozen=True)
class Matrix:
    targets: tuple[TargetInfo, ...]  # worst first
    profiles: tuple[ProfileRow, ...]
    areas: tuple[Area, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for area in self.areas for row in area.rows)

    @property
    def total_keys(self) -> tuple[str, ...]:
        """The verdicts, any other count a report's summary carries (non-zero somewhere), then "total"."""
        extra = sorted({k for t in self.targets for k, v in (*t.totals.strict, *t.totals.compat)
                        if k not in VERDICTS and k != "total" and v})
        return (*VERDICTS, *extra, "total")

    def row(self, check_id: str) -> Row:
        for row in self.rows:
            if row.check_id == check_id:
                return row
        raise KeyError(check_id)


def build(reports: dict[str, dict]) -> Matrix:
    """The matrix of the reports (target name -> report): targets worst first, rows by area then id."""
    infos = sorted((_target_info(name, report) for name, report in reports.items()),
                   key=lambda t: (-t.totals.failing(), -t.totals.failing("compat"), -t.totals.get("warn"),
                                  -t.totals.get("warn", "compat")))
    by_target = {name: results_by_id(report) for name, report in reports.items()}
    ids = sorted({check_id for results in by_target.values() for check_id in results})
    rows: dict[str, list[Row]] = {}
    for check_id in ids:
        found = [by_target[t.name].get(check_id) for t in infos]
        first = next(r for r in found if r is not None)
        cells = tuple(_cell(r) for r in found)
        area = str(first.get("area") or check_id.split("/", 1)[0])
        rows.setdefault(area, []).append(Row(check_id, area, str(first.get("rule", "")), str(first.get("tier", "")), cells))
    areas = tuple(Area(name, tuple(rows[name])) for name in sorted(rows))

    profile_names: dict[str, str] = {}
    for report in reports.values():
        for name, profile in (report.get("profiles") or {}).items():
            profile_names.setdefault(name, str(profile.get("description", "")))
    profiles = tuple(
        ProfileRow(name, description, tuple(_profile_cell((reports[t.name].get("profiles") or {}).get(name)) for t in infos))
        for name, description in profile_names.items())
    return Matrix(tuple(infos), profiles, areas)


def load_reports(paths: list[str]) -> dict[str, dict]:
    """Read report files, each named by its target base URL (the file stem for the embedded server); names made
    unique with the file stem. Raises conformance.report.ReportError (a ValueError) for a file that is not a report."""
    from conformance.report import read_report

    out: dict[str, dict] = {}
    for path in paths:
        p = Path(path)
        report = read_report(p)
        target = report.get("target") or {}
        name = p.stem if target.get("embedded") or not target.get("base_url") else str(target["base_url"])
        if name in out:
            name = f"{name} ({p.stem})"
        unique, n = name, 2
        while unique in out:
            unique, n = f"{name} #{n}", n + 1
        out[unique] = report
    return out


def _target_info(name: str, report: dict) -> TargetInfo:
    target = report.get("target") or {}
    results = report.get("results") or []
    strict = report.get("summary") or _count(r.get("verdict") for r in results)
    compat = report.get("compat_summary") or _count(r.get("compat_verdict", r.get("verdict")) for r in results)
    tool = report.get("tool") or {}
    date = next((str(d) for d in (report.get(k) or tool.get(k) for k in DATE_KEYS) if d), "")
    sel = report.get("selection") or {}
    parts = []
    if sel.get("keyword"):
        parts.append(f"-k {sel['keyword']}")
    if sel.get("expensive"):
        parts.append("--expensive")
    if sel.get("budget_tokens") is not None:
        parts.append(f"--budget-tokens {sel['budget_tokens']}")
    if sel.get("level"):
        parts.append(f"level {sel['level']}")
    return TargetInfo(
        name=name, base_url=str(target.get("base_url", "")), model=str(target.get("model", "")),
        embedded=bool(target.get("embedded", False)), tool_version=str(tool.get("version", "")), date=date,
        selection=", ".join(parts),
        totals=Totals(tuple((k, int(v)) for k, v in strict.items()), tuple((k, int(v)) for k, v in compat.items())))


def _count(verdicts) -> dict[str, int]:
    counts = Counter(verdicts)
    return {**{v: counts.get(v, 0) for v in VERDICTS}, "total": sum(counts.values())}


def _cell(result: dict | None) -> Cell:
    if result is None:
        return Cell(NOT_RUN, NOT_RUN)
    verdict = verdict_at(result, "strict")
    deviation = result.get("deviation")
    known = str(deviation.get("reason") or "known deviation") if isinstance(deviation, dict) else ""
    from conformance.junit import one_line

    return Cell(verdict, verdict_at(result, "compat"), str(result.get("message", "")),
                str(result.get("reason", "")), known, one_line(result))


def _profile_cell(profile: dict | None) -> ProfileCell:
    if not profile:
        return ProfileCell(NOT_RUN)
    from conformance.profiles import status_of

    return ProfileCell(status_of(profile), *(tuple(map(str, profile.get(k) or ()))
                                                        for k in ("failing", "limiting", "not_run")))


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _folded_note(rows: tuple[Row, ...]) -> str:
    counts = Counter(r.cells[0].verdict if r.cells else NOT_RUN for r in rows)
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: (kv[0] != "pass", kv[0])))


# -- terminal -----------------------------------------------------------------------------------------------------

def _plain(text: str) -> str:
    """No control characters (ANSI escapes, newlines) from a report reach the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _short(cell: Cell) -> str:
    strict = SHORT.get(cell.verdict, cell.verdict.upper())
    return strict if not cell.compat_differs else f"{strict}/{SHORT.get(cell.compat_verdict, cell.compat_verdict.upper())}"


def _total_cell(totals: Totals, verdict: str) -> str:
    strict, compat = totals.get(verdict), totals.get(verdict, "compat")
    return str(strict) if strict == compat else f"{strict}/{compat}"


def render_terminal(matrix: Matrix, width: int = 100, fold: bool = False) -> str:
    """A compact table: check id and one short verdict per target (STRICT/COMPAT where they differ); profiles first,
    totals last. fold=True leaves out the rows where every target agrees and none fails."""
    col = 11
    n = len(matrix.targets)
    first = max([len("profile " + p.name) for p in matrix.profiles] + [len(r.check_id) for r in matrix.rows] + [12])
    first = max(20, min(first, width - n * (col + 1) - 1))

    def line(label: str, cells: list[str]) -> str:
        label = _plain(label)
        label = label if len(label) <= first else label[: first - 1] + "~"
        return (f"{label:<{first}} " + " ".join(f"{_plain(c)[:col]:<{col}}" for c in cells)).rstrip()

    out = [f"anthropic-conformance matrix: {n} targets, {len(matrix.rows)} checks, worst first"]
    for i, t in enumerate(matrix.targets, 1):
        meta = ", ".join(x for x in (f"model {t.model}" if t.model else "", f"tool {t.tool_version}" if t.tool_version
                                     else "", t.date, t.selection) if x)
        out.append(_plain(f"  [{i}] {t.name}" + (f" ({meta})" if meta else "")))
    out.append("")
    out.append(line("check", [f"[{i}]" for i in range(1, n + 1)]))
    for p in matrix.profiles:
        out.append(line("profile " + p.name, [c.status.upper() if c.status != NOT_RUN else "-" for c in p.cells]))
    for area in matrix.areas:
        rows = area.shown if fold else area.rows
        for row in rows:
            out.append(line(row.check_id, [_short(c) for c in row.cells]))
        if fold and area.folded:
            out.append(_plain(f"  ({area.name}: {_rows(len(area.folded))} where all targets agree folded: "
                              f"{_folded_note(area.folded)})"))
    for verdict in matrix.total_keys:
        out.append(line(f"total {verdict}", [_total_cell(t.totals, verdict) for t in matrix.targets]))
    out.append("")
    out.append("STRICT/COMPAT where the compat verdict differs (e.g. FAIL/WARN: non-conformant, clients still work); "
               "- not run")
    return "\n".join(out) + "\n"


# -- Markdown -----------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def _md(text: str) -> str:
    """Report text made inert in GitHub Markdown: one line, markdown punctuation escaped, no HTML."""
    text = " ".join(str(text).split())
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def _md_verdict(verdict: str) -> str:
    if verdict in FAILING:
        return f"**{'FAIL' if verdict == 'fail' else 'ERROR'}**"
    if verdict == "warn":
        return "*warn*"
    return verdict


def _md_cell(cell: Cell) -> str:
    out = _md_verdict(cell.verdict)
    out = out if not cell.compat_differs else f"{out} (compat {_md_verdict(cell.compat_verdict)})"
    return out + " (known deviation)" if cell.deviation else out


def _md_profile(cell: ProfileCell) -> str:
    if cell.status == NOT_RUN:
        return NOT_RUN
    word = f"**{cell.status.upper()}**" if cell.status == "not-ready" else cell.status
    if cell.failing:
        return f"{word}: {len(cell.failing)} failing ({', '.join(_md(x) for x in cell.failing[:3])}" \
               f"{', …' if len(cell.failing) > 3 else ''})"
    if cell.limiting:
        return f"{word}: {len(cell.limiting)} degrading"
    if cell.not_run:
        return f"{word}: {len(cell.not_run)} not run"
    return word


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _md_failures(matrix: Matrix) -> list[str]:
    """One line per failing check and target: its id, the target when there are several, expected and got."""
    several = len(matrix.targets) > 1
    lines = []
    for row in matrix.rows:
        for i, cell in enumerate(row.cells, 1):
            if cell.failing and not cell.deviation:
                where = f" on [{i}]" if several else ""
                lines.append(f"- {_md_verdict(cell.verdict if cell.verdict in FAILING else cell.compat_verdict)} "
                             f"`{row.check_id.replace('`', '')}`{where}: {_md(cell.line or cell.message)[:300]}")
    if not lines:
        return []
    return ["", f"### Failures ({len(lines)})", "", *lines]


def render_markdown(matrix: Matrix) -> str:
    """For a GitHub step summary: targets, profiles, totals, then per area the rows where targets differ or fail."""
    names = [f"[{i}] {_md(t.name)}" if len(t.name) <= 30 else f"[{i}]" for i, t in enumerate(matrix.targets, 1)]
    if len(matrix.targets) == 1:
        out = ["## Conformance report", "", f"{len(matrix.rows)} checks against {_md(matrix.targets[0].name)}.", ""]
    else:
        out = ["## Conformance matrix", "",
               f"{len(matrix.targets)} targets, {len(matrix.rows)} checks; targets ordered worst first "
               "(most strict fail + error).", ""]
    out += _md_table(["#", "target", "model", "tool", "date", "selection"],
                     [[str(i), _md(t.name), _md(t.model), _md(t.tool_version), _md(t.date) or "-", _md(t.selection) or "-"]
                      for i, t in enumerate(matrix.targets, 1)])
    out += _md_failures(matrix)
    out += ["", "### Client readiness", ""]
    out += _md_table(["profile", *names], [[_md(p.name), *(_md_profile(c) for c in p.cells)] for p in matrix.profiles])
    out += ["", "### Totals", "", "Strict counts; (compat N) where the compat count differs.", ""]
    rows = []
    for verdict in matrix.total_keys:
        cells = []
        for t in matrix.targets:
            strict, compat = t.totals.get(verdict), t.totals.get(verdict, "compat")
            text = f"**{strict}**" if verdict in FAILING and strict else str(strict)
            cells.append(text if strict == compat else f"{text} (compat {compat})")
        rows.append([_md(verdict), *cells])
    out += _md_table(["verdict", *names], rows)
    out += ["", "### Checks where targets differ or fail", ""]
    folded_total = 0
    for area in matrix.areas:
        shown, folded = area.shown, area.folded
        folded_total += len(folded)
        note = f"{_rows(len(folded))} where all targets agree folded ({_folded_note(folded)})" if folded else ""
        if not shown:
            out += [f"**{_md(area.name)}**: all targets agree on its {_rows(len(area.rows))}, folded "
                    f"({_folded_note(folded)}).", ""]
            continue
        out += [f"#### {_md(area.name)}", ""]
        out += _md_table(["check", *names], [[_md(r.check_id), *(_md_cell(c) for c in r.cells)] for r in shown])
        out += ["", f"{note}.", ""] if note else [""]
    out += [f"{folded_total} of {len(matrix.rows)} rows folded (every target agrees and none fails). "
            "**FAIL** = strict fail, *warn* = clients still work, (compat …) where the compat verdict differs."]
    return "\n".join(out).rstrip() + "\n"


# -- HTML (conformance.html_view) -------------------------------------------------------------------------------

def render_html(matrix: Matrix) -> str:
    """One self-contained page of the matrix (see conformance.html_view.render_html)."""
    from conformance import html_view

    return html_view.render_html(matrix)
