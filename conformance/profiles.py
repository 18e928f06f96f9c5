"""Client readiness profiles: named sets of required and optional checks, judged from compat verdicts."""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache

from conformance.data import load_json
from conformance.verdicts import MODEL_GATED_REASON

BROKEN = {"fail", "error", "unsupported"}


def profiles() -> dict[str, dict]:
    return load_json("fixtures", "profiles.json")["profiles"]


def matching(patterns: list[str], ids: list[str]) -> list[str]:
    """The check items matched by shell-style patterns ("*" wildcards; brackets are literal, as in item ids)."""
    return list(_matching(tuple(patterns), tuple(ids)))


@lru_cache(maxsize=64)  # every report of a run asks the same question of the same ids
def _matching(patterns: tuple[str, ...], ids: tuple[str, ...]) -> tuple[str, ...]:
    literal = [p.replace("[", "[[]") for p in patterns]
    return tuple(sorted({i for i in ids for p in literal if fnmatchcase(i, p) or fnmatchcase(i.split("[")[0], p)}))


def readiness(results: list[dict], all_ids: list[str]) -> dict[str, dict]:
    """Profile name -> {status, failing, limiting, not_run}.

    status: ready (every required and optional check passes or warns for clients), limited (an optional
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

    def cause(item: str) -> str:
        return roots.get(item, item)

    out = {}
    for name, spec in profiles().items():
        required = matching(spec["required"], all_ids)
        optional = [i for i in matching(spec.get("optional", []), all_ids) if i not in required]
        failing = _unique(cause(i) for i in required if verdicts.get(cause(i)) in BROKEN)
        limiting = _unique(cause(i) for i in optional if verdicts.get(cause(i)) in BROKEN and cause(i) not in failing)
        not_run = [i for i in required if verdicts.get(cause(i)) in (None, "skipped")]
        if failing:
            status = "not-ready"
        elif not_run:
            status = "not-covered"
        elif limiting:
            status = "limited"
        else:
            status = "ready"
        out[name] = {"status": status, "description": spec["description"], "failing": failing,
                     "limiting": limiting, "not_run": not_run}
    return out


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
