"""Client readiness profiles: for each client, the checks whose failure breaks it (required) and those whose failure
degrades it (degrading), derived from real clients by conformance/profile_evidence.py; judged from compat verdicts."""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from functools import lru_cache

from conformance.data import load_json
from conformance.verdicts import MODEL_GATED_REASON

BROKEN = {"fail", "error", "unsupported"}
# Gates: a check that judges a header other checks' requests carry, and those checks. The raw probes send
# anthropic-version 2023-06-01; the sdk/* checks run the Python SDK 2.x, which sends Authorization: Bearer and
# 2026-10-21; two checks send Claude Code's anthropic-beta values. When the target refuses a gate's header, the
# checks carrying it fail as a consequence. A client that sends other headers is not judged by those consequences
# (its own header check judges it); a client that sends the same ones is broken by the gate, named once.
GATES = {
    "headers/anthropic-version[2023-06-01]": ("*",),
    "headers/anthropic-version[2026-10-21]": ("sdk/*",),
    "auth/bearer": ("sdk/*",),
    "auth/wrong-bearer": ("sdk/error-classes",),
    # requests carrying Claude Code's betas (all of them, or context-management's, which is one of them)
    "headers/claude-code-betas": ("acceptance/claude-code-request", "features/context-management"),
}
REFUSED = {"fail", "unsupported"}  # a gate that errored (a 429, a dropped connection) refused nothing


def consequences(verdicts: dict[str, str]) -> dict[str, str]:
    """Each failing check -> the gate whose refusal made it fail (the first gate, in GATES order, that failed and
    whose requests it carries)."""
    out: dict[str, str] = {}
    for gate, carried in GATES.items():
        if verdicts.get(gate) not in REFUSED:
            continue
        for item, verdict in verdicts.items():
            if verdict in BROKEN and item != gate and item not in out \
                    and any(fnmatchcase(item, p) for p in carried):
                out[item] = gate
    return out


STATUSES = ("ready", "degraded", "not-covered", "not-ready")  # best first
LEGACY_STATUS = {"limited": "degraded"}  # what reports written before 2026-12 called degraded


def status_of(profile: dict) -> str:
    """A report's profile status, in today's words (an old report's `limited` is `degraded`)."""
    status = profile.get("status", "")
    return LEGACY_STATUS.get(status, status)


def profiles() -> dict[str, dict]:
    return load_json("fixtures", "profiles.json")["profiles"]


def patterns(entries: list) -> list[str]:
    """A profile's entries as patterns: a derived entry is {"check": id, "effect": ..., "evidence": [...]}."""
    return [e["check"] if isinstance(e, dict) else e for e in entries]


def effects(spec: dict) -> dict[tuple[str, str], str]:
    """(check id, required | degrading) -> what the client does when it fails (from the evidence)."""
    return {(e["check"], key): e.get("effect", "") for key in ("required", "degrading") for e in spec.get(key, [])
            if isinstance(e, dict)}


def _verdicts_that_count(entries: list, ids: list[str]) -> dict[str, set[str]]:
    """item -> the verdicts that make it count as broken: all of BROKEN, or those an entry's `on` names (a check the
    target refuses, `unsupported`, and one it answers wrongly, `fail`, can matter differently to a client)."""
    out: dict[str, set[str]] = {}
    for entry in entries:
        pattern = entry["check"] if isinstance(entry, dict) else entry
        on = set(entry.get("on") or BROKEN) if isinstance(entry, dict) else BROKEN
        for item in matching([pattern], ids):
            out.setdefault(item, set()).update(on)
    return out


def matching(patterns: list[str], ids: list[str]) -> list[str]:
    """The check items matched by shell-style patterns ("*" wildcards; brackets are literal, as in item ids)."""
    return list(_matching(tuple(patterns), tuple(ids)))


@lru_cache(maxsize=64)  # every report of a run asks the same question of the same ids
def _matching(patterns: tuple[str, ...], ids: tuple[str, ...]) -> tuple[str, ...]:
    literal = [p.replace("[", "[[]") for p in patterns]
    return tuple(sorted({i for i in ids for p in literal if fnmatchcase(i, p) or fnmatchcase(i.split("[")[0], p)}))


def readiness(results: list[dict], all_ids: list[str], specs: dict | None = None) -> dict[str, dict]:
    """Profile name -> {status, description, failing, limiting, not_run, causes}: `causes` are the failing (required)
    then the limiting (degrading) checks by impact, the checks that break most clients first (a stable sort: among
    equals, the report's order), each with what the client does when it fails (`effect`, from the evidence).

    status: ready (every required and degrading check passes or warns for clients), degraded (a degrading
    check fails or is unsupported), not-ready (a required check fails, errors or is unsupported), or
    not-covered (no required check failed, but some required checks did not run: deselected or skipped).
    A check skipped because its precondition is missing stands for the check that reports the cause (its
    `blocked_by`): a required check blocked by a failure is that failure, named once.
    """
    # a feature the target's model does not offer is no break: the client does not ask that model for it
    verdicts = {r["id"]: "pass" if r["verdict"] == "unsupported"
                and r.get("reason", "").startswith(f"unsupported: {MODEL_GATED_REASON} (")
                else r.get("compat_verdict") or r["verdict"] for r in results}
    roots = root_causes(results)
    refused = consequences(verdicts)

    specs = specs or profiles()
    breaks = Counter(c for spec in specs.values() for c in patterns(spec["required"]))  # how many clients it breaks
    out = {}
    for name, spec in specs.items():
        needs = _verdicts_that_count(spec["required"], all_ids)
        uses = _verdicts_that_count(spec.get("degrading", spec.get("optional", [])), all_ids)
        listed = set(needs) | set(uses)
        judged = {i: _cause(i, roots, refused, listed) for i in listed}

        failing = _unique(judged[i] for i in sorted(needs) if _broken(i, judged[i], needs, verdicts))
        limiting = _unique(judged[i] for i in sorted(uses)
                           if _broken(i, judged[i], uses, verdicts) and judged[i] not in failing)
        not_run = [i for i in sorted(needs) if judged[i] and verdicts.get(judged[i]) in (None, "skipped")]
        if failing:
            status = "not-ready"
        elif not_run:
            status = "not-covered"
        elif limiting:
            status = "degraded"
        else:
            status = "ready"
        said = effects(spec)
        for item, cause in judged.items():  # a root cause the profile does not list says what its checks do
            for kind in ("required", "degrading"):
                if (item, kind) in said and (cause, kind) not in said:
                    said[cause, kind] = f"{said[item, kind].partition(': ')[0]}: it blocks {item}"
        causes = [(c, "required") for c in sorted(failing, key=lambda c: -breaks[c])]
        causes += [(c, "degrading") for c in sorted(limiting, key=lambda c: -breaks[c])]
        out[name] = {"status": status, "description": spec["description"], "failing": failing,
                     "limiting": limiting, "not_run": not_run,
                     "causes": [{"check": c, "kind": kind, **({"effect": said[c, kind]} if said.get((c, kind)) else {})}
                                for c, kind in causes]}
    return out


def _broken(item: str, cause: str, counted: dict[str, set[str]], verdicts: dict[str, str]) -> bool:
    """Whether `item` counts as broken: its cause's verdict is one its entry counts (a root cause: any of BROKEN)."""
    return verdicts.get(cause) in (counted[item] if cause == item else BROKEN)


def _cause(item: str, roots: dict[str, str], refused: dict[str, str], listed: set[str]) -> str:
    """The check that reports why `item` is broken for a client: its root cause, or the gate that refused the
    request it carries when the client sends that header too; "" when not judged for this client (it sends
    another header than the one refused)."""
    root = roots.get(item, item)
    gate = refused.get(root)
    if gate is None:
        return root
    return gate if gate in listed else ""


def root_causes(results: list[dict]) -> dict[str, str]:
    """Each check skipped because another did not give it what it needs (`blocked_by`) -> the check at the end of
    that chain: the root cause, which reports it (a cause that was itself blocked is followed; loops end)."""
    blocked = {r["id"]: r["blocked_by"] for r in results if r.get("blocked_by") and r.get("verdict") == "skipped"}
    roots = {}
    for item in blocked:
        seen, root = {item}, item
        while root in blocked and blocked[root] not in seen:
            root = blocked[root]
            seen.add(root)
        roots[item] = root
    return roots


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))
