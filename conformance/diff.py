"""Differences between two JSON reports: regressions, fixes, new and removed checks, profile readiness changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BAD = {"fail", "error"}
PROFILE_ORDER = {"ready": 0, "degraded": 1, "limited": 1, "not-covered": 2, "not-ready": 3}  # limited: old reports' degraded


@dataclass
class ReportDiff:
    regressions: list[tuple[str, str, str]] = field(default_factory=list)  # (id, old verdict, new verdict)
    fixes: list[tuple[str, str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # other verdict changes (pass <-> warn/skip ...)
    new: list[tuple[str, str]] = field(default_factory=list)  # (id, verdict)
    removed: list[tuple[str, str]] = field(default_factory=list)
    profiles: list[tuple[str, str, str]] = field(default_factory=list)  # (profile, old status, new status)

    @property
    def profile_regressions(self) -> list[tuple[str, str, str]]:
        return [p for p in self.profiles if PROFILE_ORDER.get(p[2], 9) > PROFILE_ORDER.get(p[1], 9)]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.profile_regressions or [n for n in self.new if n[1] in BAD])


def verdicts(report: dict, level: str) -> dict[str, str]:
    from conformance.report import results_by_id, verdict_at

    return {item: verdict_at(record, level) for item, record in results_by_id(report).items()}


def compare(old: dict, new: dict, level: str = "strict") -> ReportDiff:
    """What changed from `old` to `new`. A regression: a check that did not fail or error and now does; a
    profile whose readiness got worse; a new check that fails."""
    a, b = verdicts(old, level), verdicts(new, level)
    out = ReportDiff()
    for check_id in sorted(a.keys() | b.keys()):
        before, after = a.get(check_id), b.get(check_id)
        if before is None:
            out.new.append((check_id, after))
        elif after is None:
            out.removed.append((check_id, before))
        elif before not in BAD and after in BAD:
            out.regressions.append((check_id, before, after))
        elif before in BAD and after not in BAD:
            out.fixes.append((check_id, before, after))
        elif before != after:
            out.changed.append((check_id, before, after))
    old_profiles, new_profiles = old.get("profiles", {}), new.get("profiles", {})
    for name in sorted(old_profiles.keys() | new_profiles.keys()):
        before = old_profiles.get(name, {}).get("status", "absent")
        after = new_profiles.get(name, {}).get("status", "absent")
        if before != after:
            out.profiles.append((name, before, after))
    return out


def render(diff: ReportDiff) -> str:
    lines = []
    sections = [("REGRESSION", diff.regressions), ("FIXED", diff.fixes), ("CHANGED", diff.changed)]
    for label, rows in sections:
        lines += [f"{label:11} {check_id}: {before} -> {after}" for check_id, before, after in rows]
    lines += [f"{'NEW':11} {check_id}: {verdict}" for check_id, verdict in diff.new]
    lines += [f"{'REMOVED':11} {check_id}: was {verdict}" for check_id, verdict in diff.removed]
    worse = set(diff.profile_regressions)
    lines += [f"{'PROFILE':11} {name}: {before} -> {after}{'  (worse)' if (name, before, after) in worse else ''}"
              for name, before, after in diff.profiles]
    summary = (f"{len(diff.regressions)} regressions, {len(diff.fixes)} fixes, {len(diff.changed)} other changes, "
               f"{len(diff.new)} new, {len(diff.removed)} removed checks, {len(diff.profile_regressions)} profiles worse")
    return "\n".join(lines + [summary])


def load(path: str | Path) -> dict:
    """A report, validated against its schema; conformance.report.ReportError (one sentence) for anything else."""
    from conformance.report import read_report

    return read_report(path)
