"""The comparison matrix of several targets, built only from their JSON reports: terminal, Markdown and HTML views."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

VERDICTS = ("pass", "fail", "warn", "unsupported", "skipped", "error")
NOT_RUN = "not run"
FAILING = ("fail", "error")
SHORT = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "unsupported": "UNSUP", "skipped": "SKIP", "error": "ERR",
         NOT_RUN: "-"}
PROFILE_STATUSES = ("ready", "limited", "not-ready", "not-covered")
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
    status: str  # ready | limited | not-ready | not-covered | "not run" (the report has no such profile)
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
    by_target = {name: _results_by_id(report) for name, report in reports.items()}
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


def _results_by_id(report: dict) -> dict[str, dict]:
    return {str(r["id"]): r for r in report.get("results") or [] if isinstance(r, dict) and r.get("id")}


def _cell(result: dict | None) -> Cell:
    if result is None:
        return Cell(NOT_RUN, NOT_RUN)
    verdict = str(result.get("verdict", "error"))
    deviation = result.get("deviation")
    known = str(deviation.get("reason") or "known deviation") if isinstance(deviation, dict) else ""
    return Cell(verdict, str(result.get("compat_verdict", verdict)), str(result.get("message", "")),
                str(result.get("reason", "")), known)


def _profile_cell(profile: dict | None) -> ProfileCell:
    if not profile:
        return ProfileCell(NOT_RUN)
    return ProfileCell(str(profile.get("status", "")), *(tuple(map(str, profile.get(k) or ()))
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
        return f"{word}: {len(cell.limiting)} limiting"
    if cell.not_run:
        return f"{word}: {len(cell.not_run)} not run"
    return word


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def render_markdown(matrix: Matrix) -> str:
    """For a GitHub step summary: targets, profiles, totals, then per area the rows where targets differ or fail."""
    names = [f"[{i}] {_md(t.name)}" if len(t.name) <= 30 else f"[{i}]" for i, t in enumerate(matrix.targets, 1)]
    out = ["## Conformance matrix", "",
           f"{len(matrix.targets)} targets, {len(matrix.rows)} checks; targets ordered worst first "
           "(most strict fail + error).", ""]
    out += _md_table(["#", "target", "model", "tool", "date", "selection"],
                     [[str(i), _md(t.name), _md(t.model), _md(t.tool_version), _md(t.date) or "-", _md(t.selection) or "-"]
                      for i, t in enumerate(matrix.targets, 1)])
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


# -- HTML ---------------------------------------------------------------------------------------------------------

_CSS = """
:root{--pass:#d9f2dd;--fail:#f8d0cc;--error:#e6ccf2;--warn:#fcebc2;--unsupported:#dde4ee;--skipped:#ececec;
--notrun:#f7f7f7;--ink:#1d2328;--muted:#5b6670;--line:#d4d9de}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:1.5em;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid var(--line);padding:.25em .5em;vertical-align:top;
text-align:left}th{background:#f2f4f6;position:sticky;top:0}td.id{font-family:ui-monospace,monospace;white-space:nowrap}
.v-pass,.p-ready{background:var(--pass)}.v-fail,.p-not-ready{background:var(--fail);font-weight:600}
.v-error{background:var(--error);font-weight:600}.v-warn,.p-limited{background:var(--warn)}
.v-unsupported{background:var(--unsupported)}.v-skipped,.p-not-covered{background:var(--skipped)}
.v-not-run,.v-other{background:var(--notrun);color:var(--muted)}
.compat{display:block;font-size:.8em;font-weight:400;color:var(--muted)}
details.msg>summary{cursor:pointer}
details.msg pre{white-space:pre-wrap;word-break:break-word;font-size:.85em;background:#fff;border:1px solid var(--line);
padding:.5em;margin:.4em 0 0;max-width:70em;font-weight:400}
.meta{color:var(--muted)}.toolbar button{margin-right:.5em}details.fold>summary{cursor:pointer;color:var(--muted)}
table.checks{table-layout:fixed;width:100%}table.checks th{overflow-wrap:anywhere}
table.checks td.id,table.checks th:first-child{width:24em;overflow:hidden;text-overflow:ellipsis}
ul.ids{margin:.2em 0;padding-left:1.2em;font-family:ui-monospace,monospace;font-size:.85em}
"""

_JS = """
(function(){
  function all(sel){return Array.prototype.slice.call(document.querySelectorAll(sel));}
  function setOpen(sel,open){all(sel).forEach(function(d){d.open=open;});}
  function openFirst(){
    var first=document.querySelector('details.failure');
    if(first){first.open=true;first.scrollIntoView({block:'center'});}
  }
  document.getElementById('open-failures').addEventListener('click',function(){setOpen('details.failure',true);});
  document.getElementById('close-all').addEventListener('click',function(){setOpen('details.msg',false);});
  document.getElementById('unfold').addEventListener('click',function(){setOpen('details.fold',true);});
  if(location.hash==='#open-first-failure'){openFirst();}
  window.addEventListener('hashchange',function(){if(location.hash==='#open-first-failure'){openFirst();}});
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def _html_cell(cell: Cell, counter: list[int]) -> str:
    cls = "v-" + (cell.verdict.replace(" ", "-") if cell.verdict in (*VERDICTS, NOT_RUN) else "other")
    label = _e(cell.verdict.upper() if cell.verdict != NOT_RUN else NOT_RUN)
    compat = f'<span class="compat">compat {_e(cell.compat_verdict)}</span>' if cell.compat_differs else ""
    if cell.deviation:
        compat += '<span class="compat">known deviation</span>'
    text = cell.message or cell.reason
    if cell.deviation and text:
        text = f"known deviation: {cell.deviation}\n\n{text}"
    if not cell.failing and (cell.verdict in ("pass", NOT_RUN) or not text):
        return f'<td class="{cls}">{label}{compat}</td>'
    text = text or "(the report has no message for this result)"
    counter[0] += 1
    kind = "msg failure" if cell.failing else "msg"
    return (f'<td class="{cls}"><details class="{kind}" id="cell-{counter[0]}"><summary>{label}{compat}</summary>'
            f"<pre>{_e(text)}</pre></details></td>")


def _html_profile(cell: ProfileCell, anchors: dict[str, str]) -> str:
    if cell.status == NOT_RUN:
        return f'<td class="v-not-run">{NOT_RUN}</td>'
    cls = "p-" + (cell.status if cell.status in PROFILE_STATUSES else "not-covered")
    parts = []
    for label, ids in (("failing", cell.failing), ("limiting", cell.limiting), ("not run", cell.not_run)):
        if ids:
            items = "".join(f'<li><a href="#{anchors[i]}">{_e(i)}</a></li>' if i in anchors else f"<li>{_e(i)}</li>"
                            for i in ids)
            parts.append(f"{_e(label)}: {len(ids)}<ul class=\"ids\">{items}</ul>")
    if not parts:
        return f'<td class="{cls}">{_e(cell.status)}</td>'
    return (f'<td class="{cls}"><details class="msg"><summary>{_e(cell.status)}</summary>{"".join(parts)}</details>'
            "</td>")


def _html_rows(rows: tuple[Row, ...], anchors: dict[str, str], counter: list[int]) -> str:
    return "".join(f'<tr id="{anchors[r.check_id]}"><td class="id" title="{_e(r.rule)} ({_e(r.tier)})">{_e(r.check_id)}'
                   f"</td>{''.join(_html_cell(c, counter) for c in r.cells)}</tr>" for r in rows)


def render_html(matrix: Matrix) -> str:
    """One self-contained page (inline CSS and JS, nothing fetched): colour-coded cells, each failure's message one
    click away; with #open-first-failure in the URL the first failure opens on load. Every report string is escaped."""
    anchors = {row.check_id: f"row-{i}" for i, row in enumerate(matrix.rows, 1)}
    counter = [0]
    head_cells = "".join(f'<th title="{_e(t.name)}">[{i}] {_e(t.name)}</th>' for i, t in enumerate(matrix.targets, 1))
    body = [f"<h1>anthropic-conformance matrix</h1><p class=\"meta\">{len(matrix.targets)} targets, "
            f"{len(matrix.rows)} checks; targets ordered worst first (most strict fail + error).</p>",
            '<p class="toolbar"><button type="button" id="open-failures">Open all failures</button>'
            '<button type="button" id="close-all">Close all</button>'
            '<button type="button" id="unfold">Unfold agreeing rows</button></p>',
            "<h2>Targets</h2><table><tr><th>#</th><th>target</th><th>base URL</th><th>model</th><th>tool version</th>"
            "<th>date</th><th>selection</th></tr>"]
    for i, t in enumerate(matrix.targets, 1):
        base = "embedded reference server" if t.embedded else t.base_url
        body.append(f"<tr><td>{i}</td><td>{_e(t.name)}</td><td>{_e(base)}</td><td>{_e(t.model)}</td>"
                    f"<td>{_e(t.tool_version)}</td><td>{_e(t.date or '-')}</td><td>{_e(t.selection or '-')}</td></tr>")
    body.append("</table>")
    body.append(f"<h2>Client readiness</h2><table><tr><th>profile</th>{head_cells}</tr>")
    for p in matrix.profiles:
        body.append(f'<tr><td class="id" title="{_e(p.description)}">{_e(p.name)}</td>'
                    f"{''.join(_html_profile(c, anchors) for c in p.cells)}</tr>")
    body.append("</table>")
    body.append(f"<h2>Totals</h2><table><tr><th>verdict</th>{head_cells}</tr>")
    for verdict in matrix.total_keys:
        cells = []
        for t in matrix.targets:
            strict, compat = t.totals.get(verdict), t.totals.get(verdict, "compat")
            cls = f' class="v-{verdict}"' if verdict in VERDICTS and strict else ""
            more = f'<span class="compat">compat {compat}</span>' if strict != compat else ""
            cells.append(f"<td{cls}>{strict}{more}</td>")
        body.append(f"<tr><td>{_e(verdict)}</td>{''.join(cells)}</tr>")
    body.append("</table><h2>Checks</h2>")
    for area in matrix.areas:
        shown, folded = area.shown, area.folded
        body.append(f"<h3>{_e(area.name)}</h3>")
        if shown:
            body.append(f'<table class="checks"><tr><th>check</th>{head_cells}</tr>{_html_rows(shown, anchors, counter)}'
                        "</table>")
        if folded:
            body.append(f'<details class="fold"><summary>{_rows(len(folded))} where all targets agree '
                        f'({_e(_folded_note(folded))})</summary><table class="checks"><tr><th>check</th>{head_cells}</tr>'
                        f"{_html_rows(folded, anchors, counter)}</table></details>")
    body.append('<p class="meta">Cells show the strict verdict, and the compat verdict where it differs. Click a '
                "verdict to read the report's message.</p>")
    csp = (f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; img-src 'none'; "
           "connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width">'
            f"<title>anthropic-conformance matrix ({len(matrix.targets)} targets)</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}<script>{_JS}</script></body></html>\n")
