"""The check engine: the registry of checks, a run session with shared exchanges, and running one check."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from conformance.budget import BudgetExceeded, TokenLedger
from conformance.data import rules
from conformance.probes import Nonces, Probes
from conformance.target import Target
from conformance.transport import Breaker, Slots, client, limit_in
from conformance.verdicts import CheckResult, Evidence, Finding, Verdict, worst
from conformance.wire import Exchange, Wire, WireRequest, target_pacer

TIERS = ("free", "cheap", "expensive")
# Optional features: a target may declare it does not offer them (--without), and may decline them with a clean 4xx.
FEATURES = ("images", "documents", "thinking", "prefill", "count-tokens", "models", "parallel-tool-use")


@dataclass(frozen=True)
class Check:
    id: str
    rule: str
    tier: str
    func: Callable
    params: tuple[str, ...] = ()
    summary: str = ""
    feature: str = ""  # an optional feature (FEATURES) the check needs; "" for the core contract

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]

    def item_ids(self) -> list[str]:
        return [f"{self.id}[{p}]" for p in self.params] if self.params else [self.id]


REGISTRY: dict[str, Check] = {}


def check(check_id: str, *, rule: str, tier: str, params: tuple[str, ...] = (), feature: str = ""):
    """Register a check function `func(ctx, param) -> list[Finding]` under a stable id."""
    if tier not in TIERS:
        raise ValueError(f"{check_id}: unknown tier {tier!r}")
    if feature and feature not in FEATURES:
        raise ValueError(f"{check_id}: unknown feature {feature!r}")

    def register(func: Callable) -> Callable:
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check id {check_id}")
        doc = (func.__doc__ or "").strip().splitlines()
        REGISTRY[check_id] = Check(check_id, rule, tier, func, tuple(params), doc[0] if doc else "", feature)
        return func

    return register


def all_checks() -> dict[str, Check]:
    import conformance.checks  # noqa: F401  (registers every check)

    return REGISTRY


def split_item_id(item_id: str) -> tuple[str, str | None]:
    if item_id.endswith("]") and "[" in item_id:
        base, param = item_id[:-1].split("[", 1)
        return base, param
    return item_id, None


class Skip(Exception):
    """Raised by a check that cannot run here; the first argument is the reason."""


class Blocked(Skip):
    """Raised by a check whose precondition is missing: skipped, naming the check `by` that reports the cause."""

    def __init__(self, by: str, reason: str) -> None:
        super().__init__(reason)
        self.by = by


class Unsupported(Exception):
    """Raised by a check when the target cleanly declines an optional feature."""


class HarnessError(Exception):
    """The transport or the harness broke: never a conformance verdict."""


@dataclass
class Session:
    """One run against one target: nonces, probes and exchanges shared by every check."""

    target: Target
    expensive: bool = False
    seed: int | None = None
    content_attempts: int = 3
    idle_gap_limit: float = 15.0  # seconds of stream silence after which proxies may cut the connection
    ledger: TokenLedger = field(default_factory=TokenLedger)  # output tokens: counted, and capped by a budget
    slots_dir: str | None = None  # lock files of the concurrency cap, shared by every process of the run
    upstream: object | None = None  # gateway mode: the recording upstream's Recorder (conformance.gateway)
    _exchanges: dict[str, Exchange] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.nonces = Nonces(self.seed)
        self.probes = Probes(self.nonces, self.target.model,
                             forced=self.target.model_row.forced_tool_choice is not False)
        self.breaker = Breaker(self.target.limits.max_failures)
        self.slots = Slots(self.target.limits.max_concurrency, self.slots_dir)
        self.pacer = target_pacer(self.target, self.slots_dir)  # in the same shared folder as the slots
        self.wire = Wire(self.target, self.breaker, self.slots, self.pacer)
        self._auth: str | None = None

    def __repr__(self) -> str:
        return f"Session({self.target!r})"

    def close(self) -> None:
        self.wire.close()

    def exchange(self, name: str, build: Callable[[], WireRequest], timeout: float | None = None) -> Exchange:
        """The exchange called `name`, sent once per session (within `timeout` seconds in total)."""
        with self._lock:
            if name not in self._exchanges:
                request = build()
                try:
                    self.ledger.reserve(request.max_tokens, f"exchange {name!r}")
                except BudgetExceeded as exc:
                    raise Skip(str(exc)) from None
                self._exchanges[name] = self.wire.send(name, request, timeout)
            return self._exchanges[name]

    def http_client(self, http=None, until: float | None = None):
        """A client for the SDK (`http`: its HTTP module), bounded like the wire and sharing its breaker, slots and
        pacer; `until` (time.monotonic()) is the check's deadline, past which no busy answer is waited for."""
        return client(self.target.limits, self.breaker, self.slots, http, self.pacer, until)

    @property
    def auth(self) -> str:
        """The credential style the general probes use: x-api-key if the target takes it, else Bearer."""
        if self._auth is None:
            from conformance.checks.auth import negotiate_auth

            self._auth = negotiate_auth(self)
        return self._auth

    @property
    def exchanges(self) -> dict[str, Exchange]:
        return dict(self._exchanges)


class Context:
    """What a check sees: the session's exchanges, and a record of which ones it used."""

    def __init__(self, session: Session, check: Check) -> None:
        self.session = session
        self.check = check
        self.target = session.target
        self.probes = session.probes
        self.used: list[Exchange] = []
        self.evidence: list[Evidence] = []  # for checks that do not go through the wire (the SDK ones)
        self.reserved = 0  # output tokens of requests made outside the wire (the SDK checks)
        self.deadline = time.monotonic() + self.target.limits.check_timeout

    def reserve(self, tokens: int, what: str) -> None:
        """Count a request made outside the wire (by the SDK) against the run's budget, or skip the check."""
        try:
            self.session.ledger.reserve(tokens, what)
        except BudgetExceeded as exc:
            raise Skip(str(exc)) from None
        self.reserved += tokens

    def remaining(self) -> float:
        """Seconds left of the check's total time; none left is an error (the check could not be judged)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise HarnessError(f"the check's total time limit of {self.target.limits.check_timeout:g} s was reached "
                               "(--check-timeout)")
        return left

    def exchange(self, name: str, build: Callable[[], WireRequest]) -> Exchange:
        return self.use(self.session.exchange(name, build, self.remaining()))

    def use(self, exchange: Exchange, *, busy_ok: bool = False) -> Exchange:
        """Record that this check reads `exchange`; a transport failure, or a target still rate-limited or
        overloaded after the bounded back-off, makes the check an error (it could not be judged)."""
        if exchange not in self.used:
            self.used.append(exchange)
        if exchange.error:
            raise HarnessError(f"exchange {exchange.name!r}: {exchange.error}")
        if exchange.busy and not busy_ok:
            count = len(exchange.attempts) + 1
            what = "a stream holding only an overloaded_error event" if exchange.overloaded_stream else \
                f"HTTP {exchange.status}"
            raise HarnessError(f"exchange {exchange.name!r}: the target answered {what} "
                               f"(rate limited or overloaded) {'once' if count == 1 else f'{count} times'}; not judged"
                               + (f": not sent again, as {exchange.gave_up}" if exchange.gave_up else ""))
        return exchange

    def request(self, body, **kwargs) -> WireRequest:
        """A WireRequest with the session's negotiated auth unless the probe says otherwise."""
        kwargs.setdefault("auth", self.session.auth)
        kwargs.setdefault("version", self.target.anthropic_version)
        return WireRequest(body=body, **kwargs)

    def needs(self, findings: list[Finding], owner: str, what: str) -> list[Finding]:
        """The findings that say a shared precondition is missing (no 200, no tool call to judge) belong to one
        check, `owner`: it gets them back; any other check is skipped, naming `owner` (one root cause, one failure)."""
        if not findings or self.check.id == owner:
            return findings
        first = findings[0]
        where = f" at {first.where}" if first.where else ""
        raise Blocked(owner, f"{what}: expected {first.expected}, got {first.got}{where}; {owner} reports it")

    def content_exchange(self, name: str, build: Callable[[], WireRequest], accept: Callable[[Exchange], bool]):
        """The probe's exchange; against a model (not deterministic), retried a few times until `accept`.

        Returns (first exchange, accepted exchange or None). Shape is judged on the first one.
        """
        first = self.exchange(name, build)
        if accept(first):
            return first, first
        if self.target.deterministic or not first.ok:  # only a model's content is retried, never a wrong shape
            return first, None
        for attempt in range(2, self.session.content_attempts + 1):
            retry = self.exchange(f"{name}#retry{attempt}", build)
            if accept(retry):
                return first, retry
        return first, None

    def content_verdict(self) -> Verdict:
        """A content miss is a failure on a deterministic target, a warning against a real model."""
        return Verdict.FAIL if self.target.deterministic else Verdict.WARN


# A finding's rule is the running check's own unless it names another: `fail(expected, got, where)` is a failure of
# the check's rule, `fail(expected, got, where, rule="SSE-FRAMING")` one of another rule. run_check fills it in.


def finding(verdict: Verdict, expected: str, got: str, where: str = "", *, rule: str = "",
            compat: Verdict | None = None) -> Finding:
    """A finding of `verdict`; of `rule`, or of the running check's own rule when `rule` is not given."""
    return Finding(verdict, rule, expected, got, where, compat=compat)


def fail(expected: str, got: str, where: str = "", *, rule: str = "") -> Finding:
    return Finding(Verdict.FAIL, rule, expected, got, where)


def warn(expected: str, got: str, where: str = "", *, rule: str = "") -> Finding:
    return Finding(Verdict.WARN, rule, expected, got, where)


def strict(expected: str, got: str, where: str = "", *, rule: str = "", compat: Verdict = Verdict.WARN) -> Finding:
    """Unlike the real API (strict failure) but tolerated by the clients (a compat warning by default)."""
    return Finding(Verdict.FAIL, rule, expected, got, where, compat=compat)


def run_check(session: Session, item_id: str) -> CheckResult:
    """Run one check item (an id, with `[param]` for parametrized checks) and judge it."""
    base, param = split_item_id(item_id)
    check_def = all_checks().get(base)
    if check_def is None:
        raise KeyError(f"no check with id {base!r}")
    if check_def.feature and check_def.feature in session.target.without:
        return CheckResult(item_id, Verdict.UNSUPPORTED, check_def.rule, check_def.tier,
                           reason=f"unsupported: the target declares it does not offer {check_def.feature}")
    if check_def.tier == "expensive" and not (session.expensive or session.target.embedded):
        return CheckResult(item_id, Verdict.SKIPPED, check_def.rule, check_def.tier,
                           reason="expensive: this check generates longer output; enable it with --expensive")
    ctx = Context(session, check_def)
    reason = ""
    blocked_by = ""
    compat = None
    findings: list[Finding] = []
    try:
        findings = list(check_def.func(ctx, param) if check_def.params else check_def.func(ctx))
        verdict = worst([f.verdict for f in findings])
        compat = worst([f.compat_verdict for f in findings])
    except Blocked as exc:
        verdict, reason, blocked_by = Verdict.SKIPPED, str(exc), exc.by
    except Skip as exc:
        verdict, reason = Verdict.SKIPPED, str(exc)
    except Unsupported as exc:
        verdict, reason = Verdict.UNSUPPORTED, f"unsupported: {exc}"
    except HarnessError as exc:
        verdict, reason = Verdict.ERROR, str(exc)
    except Exception as exc:  # a limit of the harness, or a bug in it: never the target's fault
        limit = limit_in(exc)
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        verdict, reason = Verdict.ERROR, str(limit) if limit else f"harness error: {tb}"
    redact = session.target.redact  # a hostile target may echo the key: nothing it said leaves unredacted
    return CheckResult(
        check_id=item_id,
        verdict=verdict,
        rule=check_def.rule,
        tier=check_def.tier,
        compat_verdict=compat if compat is not None and compat is not verdict else None,
        findings=tuple(replace(f, rule=f.rule or check_def.rule, expected=redact(f.expected), got=redact(f.got),
                               where=redact(f.where)) for f in findings),
        evidence=tuple(Evidence(redact(e.request), redact(e.response)) for e in ctx.evidence) + tuple(
            Evidence(ex.describe_request(session.target), ex.describe_response(session.target)) for ex in ctx.used),
        reason=redact(reason),
        blocked_by=blocked_by,
        tokens_requested=sum(ex.request.max_tokens for ex in ctx.used) + ctx.reserved,
        tokens_used=sum(ex.usage_output_tokens for ex in ctx.used),
        exchanges=tuple((ex.name, ex.request.max_tokens, ex.usage_output_tokens) for ex in ctx.used)
        + (((f"sdk:{item_id}", ctx.reserved, 0),) if ctx.reserved else ()),
    )


def statement(rule_id: str) -> str:
    return rules()[rule_id]["statement"]
