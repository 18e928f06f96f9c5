"""The HTML view of the comparison matrix: one self-contained page, its CSS and script allowed by hash in its CSP."""

from __future__ import annotations

import base64
import hashlib
import html

from conformance.matrix import NOT_RUN, PROFILE_STATUSES, VERDICTS, Cell, Matrix, ProfileCell, Row, _folded_note, _rows

_CSS = """
:root{--pass:#d9f2dd;--fail:#f8d0cc;--error:#e6ccf2;--warn:#fcebc2;--unsupported:#dde4ee;--skipped:#ececec;
--notrun:#f7f7f7;--ink:#1d2328;--muted:#5b6670;--line:#d4d9de}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:1.5em;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid var(--line);padding:.25em .5em;vertical-align:top;
text-align:left}th{background:#f2f4f6;position:sticky;top:0}td.id{font-family:ui-monospace,monospace;white-space:nowrap}
.v-pass,.p-ready{background:var(--pass)}.v-fail,.p-not-ready{background:var(--fail);font-weight:600}
.v-error{background:var(--error);font-weight:600}.v-warn,.p-degraded,.p-limited{background:var(--warn)}
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


def csp_hash(source: str) -> str:
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
    for label, ids in (("failing", cell.failing), ("degrading", cell.limiting), ("not run", cell.not_run)):
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
    csp = (f"default-src 'none'; style-src {csp_hash(_CSS)}; script-src {csp_hash(_JS)}; img-src 'none'; "
           "connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width">'
            f"<title>anthropic-conformance matrix ({len(matrix.targets)} targets)</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}<script>{_JS}</script></body></html>\n")
