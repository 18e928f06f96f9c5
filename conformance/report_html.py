"""The HTML view of one JSON report: a self-contained page with the run's counts, failures grouped by root cause,
and every check with its rule, searchable and filtered by verdict, area and profile (a small script allowed by hash)."""

from __future__ import annotations

import html
import re
from collections import Counter

from conformance.html_view import csp_hash
from conformance.junit import one_line
from conformance.matrix import FAILING, PROFILE_STATUSES, VERDICTS
from conformance.profiles import status_of

_CSS = """
:root{--pass:#d9f2dd;--fail:#f8d0cc;--error:#e6ccf2;--warn:#fcebc2;--unsupported:#dde4ee;--skipped:#ececec;
--ink:#1d2328;--muted:#5b6670;--line:#d4d9de}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:1.5em;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid var(--line);padding:.25em .5em;vertical-align:top;
text-align:left}th{background:#f2f4f6}.id{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
.v-pass,.p-ready{background:var(--pass)}.v-fail,.p-not-ready{background:var(--fail);font-weight:600}
.v-error{background:var(--error);font-weight:600}.v-warn,.p-degraded,.p-limited{background:var(--warn)}
.v-unsupported{background:var(--unsupported)}.v-skipped,.p-not-covered{background:var(--skipped)}
.counts span{display:inline-block;padding:.2em .6em;margin:0 .3em .3em 0;border-radius:.3em}
.meta,.src{color:var(--muted)}.src{font-size:.85em}
details>summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;font-size:.85em;background:#fafbfc;border:1px solid var(--line);
padding:.5em;margin:.4em 0 0;max-width:80em}
.group{border:1px solid var(--line);border-left:.4em solid #c0392b;padding:.4em .8em;margin:.5em 0;max-width:90em}
.group.blocked{border-left-color:#888}ul.ids{margin:.2em 0;padding-left:1.2em;font-family:ui-monospace,monospace;
font-size:.85em}.filters{margin:.5em 0}.filters input,.filters select{margin-right:.6em;font:inherit}
table.checks{width:100%;max-width:110em}table.checks td:first-child{width:22em}table.checks td:nth-child(2){width:6em}
"""

_JS = """
(function(){
  function all(sel){return Array.prototype.slice.call(document.querySelectorAll(sel));}
  var q=document.getElementById('q'),fv=document.getElementById('f-verdict'),fa=document.getElementById('f-area'),
      fp=document.getElementById('f-profile'),shown=document.getElementById('shown');
  function apply(){
    var text=q.value.toLowerCase(),n=0;
    all('tr.check').forEach(function(tr){
      var ok=(!text||tr.getAttribute('data-text').indexOf(text)>=0)&&(!fv.value||tr.getAttribute('data-verdict')===fv.value)
        &&(!fa.value||tr.getAttribute('data-area')===fa.value)
        &&(!fp.value||(' '+tr.getAttribute('data-profiles')+' ').indexOf(' '+fp.value+' ')>=0);
      tr.hidden=!ok;if(ok){n++;}
    });
    shown.textContent=n+' shown';
  }
  [q,fv,fa,fp].forEach(function(el){el.addEventListener('input',apply);el.addEventListener('change',apply);});
  function openFirst(){
    var first=document.querySelector('details.failure');
    if(first){first.open=true;first.scrollIntoView({block:'center'});}
  }
  if(location.hash==='#open-first-failure'){openFirst();}
  if(location.hash.indexOf('#verdict=')===0){fv.value=location.hash.slice(9);}
  apply();
})();
"""

_URL = re.compile(r"https://[^\s;,<>\"']+")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source(text: str) -> str:
    """The rule's source, its https URLs as links (they are the report's own text; nothing is fetched)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        out.append(_e(text[last:match.start()]))
        out.append(f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(url)}</a>')
        last = match.end()
    return "".join(out) + _e(text[last:])


def _profile_members(results: list[dict]) -> dict[str, list[str]]:
    """Check id -> the profiles that count it (from the packaged profile definitions), for the profile filter."""
    try:
        from conformance.profiles import matching, patterns, profiles

        ids = [str(r.get("id", "")) for r in results]
        out: dict[str, list[str]] = {}
        for name, profile in profiles().items():
            listed = patterns([*profile.get("required", []), *profile.get("degrading", profile.get("optional", []))])
            for check_id in matching(listed, ids):
                out.setdefault(check_id, []).append(name)
        return out
    except Exception:  # noqa: BLE001 - a view never fails over a filter
        return {}


def root_causes(results: list[dict], level: str = "strict") -> list[dict]:
    """Failures grouped by root cause: checks that fail with the same `expected; got` line are one group; checks
    skipped because another check failed (blocked_by) join that check's group. Largest group first."""
    verdict_of = {r["id"]: (r.get("compat_verdict") if level == "compat" else r.get("verdict")) for r in results}
    groups: dict[str, dict] = {}
    for r in results:
        if verdict_of[r["id"]] in FAILING and not (r.get("deviation") or {}).get("status") == "expected-failure":
            key = one_line(r) or r["id"]
            group = groups.setdefault(key, {"cause": key, "ids": [], "blocked": [], "first": r})
            group["ids"].append(r["id"])
    by_id = {i: g for g in groups.values() for i in g["ids"]}
    orphans: dict[str, list[str]] = {}
    for r in results:
        blocker = r.get("blocked_by")
        if blocker and verdict_of[r["id"]] == "skipped":
            if blocker in by_id:
                by_id[blocker]["blocked"].append(r["id"])
            else:
                orphans.setdefault(blocker, []).append(r["id"])
    out = sorted(groups.values(), key=lambda g: (-len(g["ids"]) - len(g["blocked"]), g["ids"][0]))
    out += [{"cause": f"needs {blocker}, which did not pass", "ids": [], "blocked": ids, "first": None}
            for blocker, ids in sorted(orphans.items())]
    return out


def _evidence(result: dict) -> str:
    parts = [f"<pre>{_e(result.get('message') or result.get('reason') or '')}</pre>"]
    for ev in result.get("evidence") or []:
        parts.append(f"<pre>request  {_e(ev.get('request', ''))}\nresponse {_e(ev.get('response', ''))}</pre>")
    return "".join(parts)


def _group_html(group: dict, anchors: dict[str, str]) -> str:
    def ids(items: list[str]) -> str:
        return "".join(f'<li><a href="#{anchors[i]}">{_e(i)}</a></li>' if i in anchors else f"<li>{_e(i)}</li>"
                       for i in items)

    n, blocked = len(group["ids"]), group["blocked"]
    head = (f"{n} check{'s' if n != 1 else ''}: " if n else "") + _e(group["cause"])
    if blocked:
        head += f" <span class=\"meta\">({len(blocked)} more skipped because of it)</span>"
    body = f'<ul class="ids">{ids(group["ids"])}</ul>' if group["ids"] else ""
    if blocked:
        body += f'<div class="meta">skipped, blocked by it:</div><ul class="ids">{ids(blocked)}</ul>'
    if group["first"] is not None:
        body += f'<div class="meta">evidence of {_e(group["first"]["id"])}:</div>{_evidence(group["first"])}'
    cls = "group" if n else "group blocked"
    return f'<details class="{cls} failure"><summary>{head}</summary>{body}</details>'


def render_report_html(report: dict) -> str:
    """One report as a self-contained page (inline CSS and script, allowed by their hashes; nothing fetched). Every
    report string is escaped."""
    level = (report.get("selection") or {}).get("level") or "strict"
    results = [r for r in report.get("results") or [] if isinstance(r, dict) and r.get("id")]
    target = report.get("target") or {}
    tool = report.get("tool") or {}
    name = "the embedded reference server" if target.get("embedded") else str(target.get("base_url", ""))
    anchors = {r["id"]: f"check-{i}" for i, r in enumerate(results, 1)}
    verdict_of = {r["id"]: str(r.get("compat_verdict") if level == "compat" else r.get("verdict")) for r in results}
    counts = Counter(verdict_of.values())
    body = [f"<h1>anthropic-conformance report</h1><p class=\"meta\">{len(results)} checks against {_e(name)}"
            + (f", model {_e(target['model'])}" if target.get("model") else "")
            + (f"; tool {_e(tool['version'])}" if tool.get("version") else "")
            + (f"; {_e(report['generated_at'])}" if report.get("generated_at") else "")
            + f"; verdicts at the {_e(level)} level.</p>"]
    if report.get("stopped"):
        body.append(f"<p class=\"v-fail\">The run stopped: {_e(report['stopped'].get('reason', ''))}</p>")
    body.append('<p class="counts">' + "".join(f'<span class="v-{v}">{counts.get(v, 0)} {v}</span>' for v in VERDICTS
                                                if counts.get(v)) + "</p>")
    profiles = report.get("profiles") or {}
    if profiles:
        body.append("<h2>Client readiness</h2><table><tr><th>profile</th><th>status</th><th>held back by</th></tr>")
        for pname, p in profiles.items():
            status = status_of(p)
            cls = "p-" + (status if status in PROFILE_STATUSES else "not-covered")
            ids = [*(p.get("failing") or []), *(p.get("limiting") or [])] or list(p.get("not_run") or [])
            links = ", ".join(f'<a href="#{anchors[i]}">{_e(i)}</a>' if i in anchors else _e(i) for i in ids[:12])
            more = f" and {len(ids) - 12} more" if len(ids) > 12 else ""
            body.append(f'<tr><td class="id" title="{_e(p.get("description", ""))}">{_e(pname)}</td>'
                        f'<td class="{cls}">{_e(status)}</td><td class="id">{links}{more}</td></tr>')
        body.append("</table>")
    groups = root_causes(results, level)
    failing = sum(len(g["ids"]) for g in groups)
    if groups:
        body.append(f"<h2>Failures by root cause</h2><p class=\"meta\">{failing} failing checks in {len(groups)} "
                    "groups; checks that fail the same way, and checks skipped because of them, are one group.</p>")
        body += [_group_html(g, anchors) for g in groups]
    else:
        body.append("<h2>Failures</h2><p>No check failed.</p>")
    members = _profile_members(results)
    areas = sorted({str(r.get("area") or r["id"].split("/")[0]) for r in results})

    def options(values) -> str:
        return "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)

    body.append('<h2>Checks</h2><p class="filters"><input type="search" id="q" placeholder="search id, rule, message" '
                'aria-label="search">'
                f'<select id="f-verdict" aria-label="verdict"><option value="">every verdict</option>'
                f'{options(v for v in VERDICTS if counts.get(v))}</select>'
                f'<select id="f-area" aria-label="area"><option value="">every area</option>{options(areas)}</select>'
                f'<select id="f-profile" aria-label="profile"><option value="">every profile</option>'
                f'{options(profiles or sorted({p for ps in members.values() for p in ps}))}</select>'
                '<span id="shown" class="meta"></span></p>'
                '<table class="checks"><tr><th>check</th><th>verdict</th><th>rule</th></tr>')
    for r in results:
        check_id, verdict = r["id"], verdict_of[r["id"]]
        area = str(r.get("area") or check_id.split("/")[0])
        statement = str(r.get("rule_statement") or "")
        text = " ".join((check_id, str(r.get("rule", "")), statement, str(r.get("message", "")),
                         str(r.get("reason", "")))).lower()
        rule = (f"<b>{_e(r.get('rule', ''))}</b> {_e(statement)}"
                + (f'<div class="src">source: {_source(str(r["rule_source"]))}</div>' if r.get("rule_source") else ""))
        detail = ""
        if verdict != "pass" or r.get("message"):
            kind = "failure" if verdict in FAILING else "msg"
            summary = _e(one_line(r) or verdict)
            detail = f'<details class="{kind}"><summary>{summary}</summary>{_evidence(r)}</details>'
        body.append(f'<tr class="check" id="{anchors[check_id]}" data-verdict="{_e(verdict)}" data-area="{_e(area)}" '
                    f'data-profiles="{_e(" ".join(members.get(check_id, [])))}" data-text="{_e(text)}">'
                    f'<td class="id">{_e(check_id)}</td><td class="v-{_e(verdict)}">{_e(verdict.upper())}</td>'
                    f"<td>{rule}{detail}</td></tr>")
    body.append("</table>")
    csp = (f"default-src 'none'; style-src {csp_hash(_CSS)}; script-src {csp_hash(_JS)}; img-src 'none'; "
           "connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width">'
            f"<title>anthropic-conformance report: {_e(name)}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}<script>{_JS}</script></body></html>\n")
