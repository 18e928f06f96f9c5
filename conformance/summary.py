"""What `run` prints when it ends: each failure's evidence, then one line per failure, the profiles, one set of counts."""

from __future__ import annotations

from collections import Counter

from conformance.profiles import root_causes

VERDICTS = ("pass", "fail", "warn", "unsupported", "skipped", "error")
EXPECTED_WIDTH = 70  # characters of a finding's expected side on a summary line
GOT_WIDTH = 90  # and of its got side


def clip(text: str, limit: int) -> str:
    """text on one line; when longer than limit, cut at the last word boundary before it and marked with '…'."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > limit // 2 and _word(text[cut - 1]) and _word(text[cut]):
        cut -= 1
    if cut <= limit // 2:  # one word longer than half the line: cut inside it rather than lose the line
        cut = limit - 1
    return text[:cut].rstrip() + "…"


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _finding_text(result: dict) -> str:
    """`expected ...  got ...` of the result's first finding at its own verdict, and how many more there are."""
    bad = [f for f in result["findings"] if f["verdict"] not in ("pass", "skipped")]
    first = next((f for f in bad if f["verdict"] == result["verdict"]), bad[0] if bad else None)
    if first is None:
        return clip(result["reason"] or _first_line(result["message"]), EXPECTED_WIDTH + GOT_WIDTH)
    where = f"{first['where']}: " if first["where"] else ""
    text = f"expected {clip(where + first['expected'], EXPECTED_WIDTH)}  got {clip(first['got'], GOT_WIDTH)}"
    return text + (f"  (+{len(bad) - 1} more)" if len(bad) > 1 else "")


def _first_line(message: str) -> str:
    lines = [line for line in message.splitlines()[1:] if line.strip()]
    return lines[0].strip() if lines else ""


def _name(result: dict) -> str:
    """The check id, with its verdict at the other level when that differs."""
    if result["compat_verdict"] != result["verdict"]:
        return f"{result['id']} (compat: {result['compat_verdict']})"
    return result["id"]


def problem_lines(report: dict) -> list[str]:
    """One line for every check that failed or errored (strict or compat), known deviations apart, then warnings."""
    failed, known, warned = [], [], []
    for result in report["results"]:
        status = (result.get("deviation") or {}).get("status")
        verdicts = (result["verdict"], result["compat_verdict"])
        if status == "unexpectedly-passing":
            failed.append(("XPASS", result, f"listed as a known deviation ({clip(result['deviation']['reason'], 60)}) "
                                            f"but it is now {result['verdict']}: remove it from the deviations file"))
        elif status == "expected-failure":
            known.append(("XFAIL", result, f"known deviation: {clip(result['deviation']['reason'], 60)}"))
        elif "error" in verdicts:
            failed.append(("ERROR", result, clip(result["reason"], 160) if result["reason"] else _finding_text(result)))
        elif "fail" in verdicts:
            failed.append(("FAIL", result, _finding_text(result)))
        elif "warn" in verdicts:
            warned.append(("WARN", result, _finding_text(result)))
    rows = _grouped(failed) + _grouped(known) + _grouped(warned)
    width = min(max((len(name) for _, name, _ in rows), default=0), 44)
    return [f"  {label:5} {name:{width}}  {text}" for label, name, text in rows]


def _grouped(rows: list[tuple[str, dict, str]]) -> list[tuple[str, str, str]]:
    """(label, name, text): the items of one parametrised check that say the very same thing become one line,
    `errors/envelope[22 cases]`, in the place of the first."""
    groups: dict[tuple, list[dict]] = {}
    for label, result, text in rows:
        base = result["id"].split("[")[0]
        groups.setdefault((label, base, result["compat_verdict"] != result["verdict"], text), []).append(result)
    out = []
    for (label, base, _, text), results in groups.items():
        name = _name(results[0])
        if len(results) > 1:
            name = name.replace(results[0]["id"], f"{base}[{len(results)} cases]", 1)
        out.append((label, name, text))
    return out


EXPENSIVE = "expensive:"  # how the reason of a check skipped for its tier starts (conformance.engine.run_check)


def _topic(item_id: str) -> str:
    """What a check is about, for a person: its optional feature, else its area."""
    from conformance.engine import all_checks

    check = all_checks().get(item_id.split("[")[0])
    return (check.feature if check and check.feature else None) or item_id.split("/")[0]


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def not_tested_line(report: dict) -> str | None:
    """The expensive checks a run left out, said as what was not tested: `images, documents and thinking (9
    expensive checks) were not tested: add --expensive`."""
    skipped = [r["id"] for r in report["results"]
               if r["verdict"] == "skipped" and not r.get("blocked_by") and r["reason"].startswith(EXPENSIVE)]
    if not skipped:
        return None
    topics = list(dict.fromkeys(_topic(i) for i in skipped))
    return (f"  NOT TESTED  {_and(topics)} ({len(skipped)} expensive check{'s' * (len(skipped) > 1)}) "
            "were not tested: add --expensive")


def not_run_lines(report: dict) -> list[str]:
    """Skipped and unsupported checks, one line per distinct reason; those whose precondition is missing, one line
    per check that reports the cause (following chains to the root: one cause, one line)."""
    roots = root_causes(report["results"])
    groups: dict[tuple[str, str], list[str]] = {}
    for result in report["results"]:
        if result.get("blocked_by"):
            cause = roots.get(result["id"], result["blocked_by"])
            groups.setdefault(("skipped", f"not judged: what they need is missing, and {cause} reports it"),
                              []).append(result["id"])
        elif result["verdict"] == "skipped" and result["reason"].startswith(EXPENSIVE):
            continue  # said by not_tested_line
        elif result["verdict"] in ("skipped", "unsupported"):
            groups.setdefault((result["verdict"], result["reason"]), []).append(result["id"])
    lines = []
    for (verdict, reason), ids in groups.items():
        who = ids[0] if len(ids) == 1 else f"{len(ids)} checks"
        lines.append(f"  {verdict.upper():11} {who}: {clip(reason, 140)}")
    untested = not_tested_line(report)
    return lines + ([untested] if untested else [])


RANK = {"fail": 0, "error": 1, "unsupported": 2}  # a profile's causes: what breaks a client most surely first


def _ids(items: list[str], limit: int = 4) -> str:
    """Check items, the cases of one parametrised check as one (`errors/envelope[21 cases]`), at most limit."""
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(item.split("[")[0], []).append(item)
    names = [ids[0] if len(ids) == 1 else f"{base}[{len(ids)} cases]" for base, ids in groups.items()]
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")


def _by_impact(causes: list[str], report: dict) -> list[str]:
    """Fails before errors before unsupported; among equals, the cause that blocks the most other checks first."""
    results = {r["id"]: r for r in report["results"]}
    blocks = Counter(root_causes(report["results"]).values())

    def verdict(item: str) -> str:
        result = results.get(item, {})
        return result.get("compat_verdict") or result.get("verdict", "")

    return sorted(causes, key=lambda i: (RANK.get(verdict(i), 3), -blocks.get(i, 0), i))


def _not_run(items: list[str], report: dict) -> str:
    """Why a profile's required checks did not run, one clause per reason."""
    results = {r["id"]: r for r in report["results"]}
    why: dict[tuple[str, str], list[str]] = {}  # (said of one, said of several) -> items
    for item in items:
        reason = results.get(item, {}).get("reason", "")
        if item not in results:
            said = ("was not selected (-k)", "were not selected (-k)")
        elif reason.startswith(EXPENSIVE):
            said = ("needs --expensive", "need --expensive")
        else:
            said = (f"was skipped ({clip(reason, 60)})", f"were skipped ({clip(reason, 60)})")
        why.setdefault(said, []).append(item)
    return "; ".join(f"{len(ids)} required check{'s' * (len(ids) > 1)} {said[len(ids) > 1]} ({_ids(ids)})"
                     for said, ids in sorted(why.items(), key=lambda kv: -len(kv[1])))


EXPLAINED = 2  # causes shown with what the client does; the rest by id
EFFECT_WIDTH = 64


def profile_line(name: str, profile: dict, report: dict) -> str:
    """`  claude-code   not-ready: acceptance/metadata-user-id — Claude Code stops: 400 metadata: Extra inputs are
    not permitted; …`: the causes by impact (required before degrading, the checks that break most clients first),
    the first with what the client does, from the evidence; for a profile not covered, which required checks did
    not run and why."""
    from conformance.profiles import status_of

    status = status_of(profile)
    if status == "not-covered":
        return f"  {name:24} not-covered: {_not_run(profile['not_run'], report)}"
    causes = profile.get("causes")
    if causes is None:  # a report written before causes were explained
        ids = _by_impact(profile["failing"], report) + _by_impact(profile["limiting"], report)
        return f"  {name:24} {status}" + (f": {_ids(ids)}" if ids else "")
    results = {r["id"]: r for r in report.get("results", [])}
    groups: dict[str, list[str]] = {}  # what the client does -> the checks that make it do so, by impact
    for cause in causes:
        groups.setdefault(_explained(cause, results.get(cause["check"])), []).append(cause["check"])
    said = [f"{_ids(checks, 3)} — {why}" if why else _ids(checks, 3) for why, checks in list(groups.items())[:EXPLAINED]]
    rest = [check for checks in list(groups.values())[EXPLAINED:] for check in checks]
    text = "; ".join(said) + (f"; also {_ids(rest)}" if rest else "")
    return f"  {name:24} {status}" + (f": {text}" if text else "")


def _explained(cause: dict, result: dict | None) -> str:
    """`Claude Code stops: <why>` ("" when the evidence does not say): what the client does (from the evidence,
    e.g. "Claude Code stops"), with this target's own refusal when it refused (an HTTP error, or a feature
    declined), else what the client said when the evidence was taken (an answer that is wrong reads better as the
    client's error than as the answer)."""
    if not cause.get("effect"):
        return ""
    does, _, then = cause["effect"].partition(": ")
    here = _here(result) if result else ""
    return f"{does}: {clip(here or then, EFFECT_WIDTH)}"


def _here(result: dict) -> str:
    """What the target refused for this check: why it was unsupported, or the first finding's HTTP error; else ""."""
    reason = str(result.get("reason") or "")
    if reason.startswith("unsupported: "):
        return reason.split(": ", 1)[1]
    bad = [f for f in result.get("findings") or [] if f.get("verdict") not in ("pass", "skipped")]
    got = str(bad[0].get("got", "")) if bad else ""
    return got if got.startswith(("HTTP 4", "HTTP 5")) else ""


def counts_line(report: dict, level: str) -> str:
    """The counts at the run's level, with what the other level counts differently in brackets."""
    mine, other = ("compat_summary", "summary") if level == "compat" else ("summary", "compat_summary")
    counts, others = report[mine], report[other]
    line = f"  {level:7} " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + f"  of {counts['total']} checks"
    differ = [f"{others[v]} {v}" for v in VERDICTS if others[v] != counts[v]]
    if differ:
        line += f"  ({'strict' if level == 'compat' else 'compat'}: {', '.join(differ)})"
    known = report["summary"].get("expected_failures", 0)
    if known:
        line += f"; {known} of the failures are known deviations"
    return line


def summary_lines(report: dict, level: str = "strict") -> list[str]:
    """The closing summary: target, every failure on one line, what did not run, profiles, one set of counts."""
    from conformance.report import STOPPED_SENDING

    target = report["target"]
    kind = "embedded reference server" if target["embedded"] else target["base_url"]
    row = target.get("model_row") or {}
    judged = {"the id": f"; row {row.get('name')} of fixtures/models.json",
              "--model-profile": f"; row {row.get('name')} of fixtures/models.json, from --model-profile",
              "no row matches the id": f"; no row of fixtures/models.json matches it: the conservative row "
                                       f"{row.get('name')}"}.get(row.get("chosen_by"), "")
    lines = [f"anthropic-conformance {report['tool']['version']} against {kind} (model {target['model']}{judged})"]
    lines += problem_lines(report) + not_run_lines(report)
    lines += [profile_line(name, profile, report) for name, profile in report["profiles"].items()]
    lines.append(counts_line(report, level))
    lines.append(f"  output tokens requested {report['tokens']['requested']}, used {report['tokens']['used']}")
    waited = report.get("waited") or {}
    said = [f"waited {waited['seconds']:.1f} s for the target's rate limit ({waited['rate_limited']} answers 429, "
            "503 or 529)"] if waited.get("seconds") or waited.get("rate_limited") else []
    if waited.get("reconnects"):
        said.append(f"sent {waited['reconnects']} requests again after the target dropped a kept-alive connection")
    if said:
        lines.append("  " + "; ".join(said))
    if report.get("stopped"):
        errors = sum(STOPPED_SENDING in r["reason"] for r in report["results"])
        lines.append(f"  STOPPED     {errors} checks were not judged: {report['stopped']['reason']}")
    return lines


def detail_blocks(report: dict) -> list[str]:
    """The full text of every failure and error (the problem, the evidence, how to reproduce), as DESIGN.md §4 shows."""
    return [result["message"] for result in report["results"]
            if result["message"] and ("fail" in (result["verdict"], result["compat_verdict"])
                                      or "error" in (result["verdict"], result["compat_verdict"])
                                      or (result.get("deviation") or {}).get("status") == "unexpectedly-passing")]


def print_summary(report: dict, level: str = "strict", details: bool = True) -> None:
    if details and (blocks := detail_blocks(report)):
        print()
        print("\n\n".join(blocks))
    print()
    print("\n".join(summary_lines(report, level)))
