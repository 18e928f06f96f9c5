"""Verdicts, findings and check results, and how one failure reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"
    ERROR = "error"


# The reason of an `unsupported` for a feature the target's model does not offer (a model-gated 400 of the real API):
# no break in a readiness profile, since a client does not ask such a model for it.
MODEL_GATED_REASON = "the model does not offer it"

# Worst first: the verdict of a check is the worst of its findings.
_SEVERITY = [Verdict.ERROR, Verdict.FAIL, Verdict.WARN, Verdict.UNSUPPORTED, Verdict.SKIPPED, Verdict.PASS]


def worst(verdicts: list[Verdict]) -> Verdict:
    return min(verdicts, key=_SEVERITY.index, default=Verdict.PASS)


@dataclass(frozen=True)
class Finding:
    """One observed difference from the contract: the problem, then the evidence.

    `verdict` is the strict judgement (does the target behave like the real API?); `compat` is the
    client-compatibility judgement (will the official SDKs and Claude Code still work?), when it differs.
    """

    verdict: Verdict
    rule: str  # "" while a check builds it: the running check's own rule (engine.run_check fills it in)
    expected: str
    got: str
    where: str = ""  # event index, state or JSON path
    compat: Verdict | None = None

    @property
    def compat_verdict(self) -> Verdict:
        return self.verdict if self.compat is None else self.compat


@dataclass(frozen=True)
class Evidence:
    """What produced a result: the request and the response, already redacted."""

    request: str
    response: str


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    verdict: Verdict
    rule: str
    tier: str
    compat_verdict: Verdict | None = None  # None: the same as verdict
    findings: tuple[Finding, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    reason: str = ""  # for skipped / unsupported / error: why
    blocked_by: str = ""  # skipped because a precondition is missing: the check that reports the cause
    tokens_requested: int = 0
    tokens_used: int = 0
    exchanges: tuple[tuple[str, int, int], ...] = ()  # (name, tokens requested, tokens used) of each read

    @property
    def area(self) -> str:
        return self.check_id.split("/", 1)[0]

    def at(self, level: str) -> Verdict:
        """The verdict at a level: "strict" (the real API) or "compat" (the clients)."""
        if level == "compat" and self.compat_verdict is not None:
            return self.compat_verdict
        return self.verdict


def render(result: CheckResult, statement: str, reproduce: str, level: str = "strict") -> str:
    """The failure text of DESIGN.md section 4: problem, evidence, what to do."""
    verdict = result.at(level)
    head = f"{verdict.value.upper()} {result.check_id}   rule {result.rule}: {statement}"
    if result.compat_verdict is not None and result.compat_verdict is not result.verdict:
        head += f"   (strict: {result.verdict.value}, compat: {result.compat_verdict.value})"
    lines = [head]
    if result.reason:
        lines.append(f"  reason    {result.reason}")
    for finding in result.findings[:12]:
        if finding.verdict is Verdict.PASS:
            continue
        tag = "" if finding.rule == result.rule else f" [{finding.rule}]"
        if finding.compat is not None:
            tag += f" (clients: {finding.compat.value})"
        where = f"{finding.where}: " if finding.where else ""
        lines.append(f"  expected  {where}{finding.expected}{tag}")
        lines.append(f"  got       {where}{finding.got}")
    if len(result.findings) > 12:
        lines.append(f"  ...       {len(result.findings) - 12} more findings")
    for ev in result.evidence[:3]:
        lines.append(f"  request   {ev.request}")
        lines.append(f"  response  {ev.response}")
    lines.append(f"  reproduce {reproduce}")
    return "\n".join(lines)


def reproduce_command(target, item_id: str, *, expensive: bool = False, level: str = "strict",
                      upstream_port: int | None = None) -> str:
    """The `run` command that judges one check again against the same target with the run's settings: base URL
    (redacted), model, extra header names (their values never: `<value>`), anthropic-version when not the default,
    declared missing features, --expensive and --level when given. The key is never part of it (run reads
    $ANTHROPIC_API_KEY). In gateway mode (`upstream_port`: where the gateway sends) it is the `gateway` command, which
    starts the upstream on that port again: without it the gateway has nothing to forward to."""
    import shlex

    from conformance.settings import DEFAULT_ANTHROPIC_VERSION
    from conformance.target import display_url

    parts = ["anthropic-conformance", "run"]
    url = shlex.quote(target.redact(display_url(target.base_url))) if not target.embedded else ""
    if upstream_port is not None and url:
        parts = ["anthropic-conformance", "gateway", "--gateway-url", url, "--upstream-port", str(upstream_port)]
    elif url:
        parts += ["--base-url", url]
    if not target.embedded:
        if target.model:
            parts += ["--model", shlex.quote(target.model)]
        parts += [arg for name, _ in target.headers for arg in ("--header", shlex.quote(f"{name}:<value>"))]
        if target.anthropic_version != DEFAULT_ANTHROPIC_VERSION:
            parts += ["--anthropic-version", shlex.quote(target.anthropic_version)]
        if target.model_profile:
            parts += ["--model-profile", shlex.quote(target.model_profile)]
    if target.without:
        parts += ["--without", ",".join(sorted(target.without))]
    if expensive:
        parts.append("--expensive")
    if level != "strict":
        parts += ["--level", level]
    return " ".join([*parts, "-k", f"'{item_id}'"])
