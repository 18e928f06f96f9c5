"""What a gateway check sees of both ends: a probe sent through the gateway (never retried: a 429 is the answer to
judge) and the upstream's records of it, found by the probe's nonce; and the control that says whether any probe
reaches the upstream at all."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from conformance.budget import BudgetExceeded
from conformance.engine import Blocked, Context, Skip
from conformance.gateway.records import Record, new_nonce, token
from conformance.pacing import Pacer
from conformance.settings import DEFAULT_ANTHROPIC_VERSION
from conformance.wire import Exchange, Wire, WireRequest

SOURCE = "https://code.claude.com/docs/en/llm-gateway-protocol"
CONTROL = "gateway/reaches-upstream"
NO_UPSTREAM = ("gateway mode only: no recording upstream is attached to this run; run `anthropic-conformance gateway "
               "--gateway-url URL --upstream-port PORT` with the gateway configured to use the upstream it prints")


@dataclass
class Sent:
    """One probe: its nonce, the client's exchange, and what the upstream received for it (oldest first)."""

    nonce: str
    exchange: Exchange
    records: list[Record]

    @property
    def first(self) -> Record | None:
        return self.records[0] if self.records else None

    @property
    def last(self) -> Record | None:
        """The record whose answer the client got (a gateway that retried sent the probe more than once)."""
        return self.records[-1] if self.records else None


class Link:
    """Per session: the no-retry wire through the gateway, the recorder, and the probes sent (each once)."""

    def __init__(self, ctx: Context) -> None:
        session = ctx.session
        target = replace(session.target, retries=0)
        pacer = Pacer(target.limits.max_rps, None, budget=0.0, retries=0, base=target.retry_base)
        self.session = session
        self.recorder = session.upstream
        self.wire = Wire(target, session.breaker, session.slots, pacer)
        self.sent: dict[str, Sent] = {}
        self.lock = threading.RLock()

    def send(self, ctx: Context, name: str, build: Callable[[str], WireRequest], directive: str = "",
             evidence: bool = True) -> Sent:
        """The probe `name`, built from the text its nonce token is (`build(token)`), sent once per session; with
        `evidence`, the check shows it among its requests (a probe read only to decide what applies is not shown)."""
        with self.lock:
            if name not in self.sent:
                nonce = new_nonce()
                request = build(token(nonce, directive))
                try:
                    self.session.ledger.reserve(request.max_tokens, f"gateway probe {name!r}")
                except BudgetExceeded as exc:
                    raise Skip(str(exc)) from None
                exchange = self.wire.send("gateway-" + name, request, ctx.remaining())
                self.sent[name] = Sent(nonce, exchange, self.recorder.find(nonce, wait=2.0))
            sent = self.sent[name]
        if evidence:
            ctx.use(sent.exchange, busy_ok=True)
        return sent


def link(ctx: Context) -> Link:
    """The session's link to the upstream; the check is skipped when there is none (not gateway mode)."""
    session = ctx.session
    if getattr(session, "upstream", None) is None:
        raise Skip(NO_UPSTREAM)
    with session._lock:
        found = session.__dict__.get("_gateway_link")
        if found is None:
            found = session.__dict__["_gateway_link"] = Link(ctx)
    return found


def text(ctx: Context, key: str, nonce_token: str) -> str:
    """A probe's user text: a reply directive with per-run words, and the nonce token on its own line."""
    words = " ".join(ctx.probes.text_words("gateway-" + key))
    return f"Reply with exactly: {words}\n{nonce_token}"


def body(ctx: Context, key: str, nonce_token: str, *, stream: bool = False, max_tokens: int = 32,
         **extra: Any) -> dict[str, Any]:
    value = {"model": ctx.target.model, "max_tokens": max_tokens,
             "messages": [{"role": "user", "content": text(ctx, key, nonce_token)}]}
    if stream:
        value["stream"] = True
    value.update(extra)
    return value


def probe(ctx: Context, name: str, directive: str = "", *, stream: bool = False, headers=(),
          version=DEFAULT_ANTHROPIC_VERSION, path: str = "/v1/messages", max_tokens: int = 32, evidence: bool = True,
          **extra: Any) -> Sent:
    """A text probe through the gateway (with `extra` body fields and `headers`), and what reached the upstream."""
    gw = link(ctx)
    return gw.send(ctx, name, lambda t: ctx.request(body(ctx, name, t, stream=stream, max_tokens=max_tokens, **extra),
                                                    headers=tuple(headers), version=version, path=path), directive,
                   evidence)


def control(ctx: Context, evidence: bool = True) -> Sent:
    """The plain probe every other gateway check leans on: it must reach the upstream, nonce and all."""
    return probe(ctx, "control", evidence=evidence)


def reached(ctx: Context, sent: Sent, what: str) -> Record:
    """The upstream's first record of the probe; when there is none: blocked on the control if the control did not
    arrive either (nothing reaches the upstream), else Blocked naming no owner is wrong: the caller's finding."""
    if sent.first is not None:
        return sent.first
    plain = control(ctx)
    if plain.first is None and ctx.check.id != CONTROL:
        raise Blocked(CONTROL, f"{what}: no probe reaches the upstream; {CONTROL} reports it")
    raise NotForwarded(sent)


class NotForwarded(Exception):
    """The probe never reached the upstream, though the control did: the gateway answered it itself."""

    def __init__(self, sent: Sent) -> None:
        ex = sent.exchange
        answer = f"HTTP {ex.status}" if ex.status is not None else f"no answer ({ex.error})"
        super().__init__(f"the request never reached the upstream: the gateway answered {answer} itself")
        self.sent = sent


def protocol(record: Record) -> str:
    """The upstream API a request came in: "messages" (Anthropic), "openai" (Chat Completions), or "" (one the
    upstream does not serve, e.g. OpenAI's /v1/responses)."""
    path = record.path.rstrip("/")
    if path.endswith("/messages"):
        return "messages"
    return "openai" if record.openai else ""


def translating(ctx: Context) -> bool:
    """The gateway turns Messages requests into OpenAI Chat Completions (judged on the control's record)."""
    record = reached(ctx, control(ctx, evidence=ctx.check.id == CONTROL), "the gateway's upstream protocol is unknown")
    if not protocol(record) and ctx.check.id != CONTROL:
        raise Blocked(CONTROL, f"the gateway sent the probe to the upstream as {record.method} {record.path}, an API "
                               f"the upstream does not serve; {CONTROL} reports it")
    return record.openai


def pass_through_only(ctx: Context) -> None:
    if translating(ctx):
        raise Skip("the gateway translates to OpenAI Chat Completions: this Anthropic pass-through rule does not apply; "
                   "the gateway/translate-* checks judge it")


def translating_only(ctx: Context) -> None:
    if not translating(ctx):
        raise Skip("the gateway forwards the Messages API as it is (no translation): the gateway/* pass-through "
                   "checks judge it")
