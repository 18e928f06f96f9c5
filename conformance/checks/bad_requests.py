"""The bad-request probes (bad credentials, invalid bodies) and how a rejection is judged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.checks.common import short
from conformance.engine import Context, HarnessError, fail, strict
from conformance.verdicts import Finding, Verdict
from conformance.wire import Exchange, WireRequest


@dataclass(frozen=True)
class BadRequest:
    build: Callable[[Context], WireRequest]
    status: int
    error_type: str
    what: str


def _body(ctx: Context, **changes) -> dict:
    body = ctx.probes.text_body("invalid", max_tokens=1)  # rejected before generating; 1 caps a lax target
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


_DROP = object()


def _req(**changes) -> Callable[[Context], WireRequest]:
    return lambda ctx: ctx.request(_body(ctx, **changes))


def _tool(ctx: Context) -> dict:
    return ctx.probes.tool("invalid").tool


def _with_tool(**changes) -> Callable[[Context], WireRequest]:
    return lambda ctx: ctx.request(_body(ctx, tools=[_tool(ctx)], **changes))


def _unanswered_tool_use(ctx: Context) -> WireRequest:
    tool = _tool(ctx)
    messages = [{"role": "user", "content": "Hello."},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_" + ctx.session.nonces.word("tu"),
                                                   "name": tool["name"], "input": {}}]},
                {"role": "user", "content": "Continue."}]
    return ctx.request(_body(ctx, tools=[tool], messages=messages))


def _cache_breakpoints(ctx: Context) -> WireRequest:
    blocks = [{"type": "text", "text": f"Part {i}.", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    return ctx.request(_body(ctx, system=blocks))


def _oversized(ctx: Context) -> WireRequest:
    """33 MiB of user text: above the documented 32 MB request limit of the Messages API. The filler is spliced into
    the encoded body (no JSON encoder walks 33 MiB of it)."""
    import json

    marker = "OVERSIZED-FILLER"
    body = json.dumps(_body(ctx, max_tokens=1, messages=[{"role": "user", "content": marker}])).encode()
    head, _, tail = body.partition(marker.encode())
    return ctx.request(b"".join((head, b"a " * (33 * 1024 * 1024 // 2), tail)))


# name -> the probe; every check of bad-request handling reads these exchanges.
BAD_REQUESTS: dict[str, BadRequest] = {
    "auth-missing": BadRequest(lambda ctx: ctx.request(_body(ctx), auth="none"),
                               401, "authentication_error", "a request without credentials"),
    "auth-wrong": BadRequest(lambda ctx: ctx.request(_body(ctx), auth="wrong-x-api-key"),
                             401, "authentication_error", "a request with a wrong key"),
    "missing-max-tokens": BadRequest(_req(max_tokens=_DROP), 400, "invalid_request_error",
                                     "a request without max_tokens"),
    "missing-model": BadRequest(_req(model=_DROP), 400, "invalid_request_error", "a request without model"),
    "missing-messages": BadRequest(_req(messages=_DROP), 400, "invalid_request_error", "a request without messages"),
    "invalid-json": BadRequest(lambda ctx: ctx.request(b'{"model": "x", "max_tokens": 16, "messages": ['),
                               400, "invalid_request_error", "a body that is not valid JSON"),
    "empty-messages": BadRequest(_req(messages=[]), 400, "invalid_request_error", "an empty messages array"),
    "unknown-role": BadRequest(_req(messages=[{"role": "tool", "content": "Hello."}]), 400, "invalid_request_error",
                               "a message with role tool"),
    "empty-text-block": BadRequest(_req(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
                                   400, "invalid_request_error", "an empty text block"),
    "orphan-tool-result": BadRequest(
        lambda ctx: ctx.request(_body(ctx, messages=[{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_" + ctx.session.nonces.word("orphan"), "content": "x"}]}])),
        400, "invalid_request_error", "a tool_result that answers no tool_use"),
    "unanswered-tool-use": BadRequest(_unanswered_tool_use, 400, "invalid_request_error",
                                      "a tool_use not followed by its tool_result"),
    "bad-tool-name": BadRequest(
        lambda ctx: ctx.request(_body(ctx, tools=[{**_tool(ctx), "name": "a b"}])),
        400, "invalid_request_error", "a tool named 'a b' (outside ^[a-zA-Z0-9_-]{1,128}$)"),
    "unknown-field": BadRequest(_req(tool_choise={"type": "auto"}), 400, "invalid_request_error",
                                "an unknown top-level field (tool_choise)"),
    "cache-breakpoints": BadRequest(_cache_breakpoints, 400, "invalid_request_error",
                                    "five cache_control breakpoints (at most four)"),
    "negative-max-tokens": BadRequest(_req(max_tokens=-1), 400, "invalid_request_error", "max_tokens -1"),
    "string-max-tokens": BadRequest(_req(max_tokens="sixteen"), 400, "invalid_request_error", 'max_tokens "sixteen"'),
    "messages-not-array": BadRequest(_req(messages={"role": "user", "content": "Hello."}), 400,
                                     "invalid_request_error", "messages given as an object"),
    "tool-choice-unknown-tool": BadRequest(
        lambda ctx: ctx.request(_body(ctx, tools=[_tool(ctx)], tool_choice={
            "type": "tool", "name": "absent_" + ctx.session.nonces.word("absent")})),
        400, "invalid_request_error", "tool_choice naming a tool that is not defined"),
    "thinking-budget": BadRequest(_req(max_tokens=200, thinking={"type": "enabled", "budget_tokens": 100}),
                                  400, "invalid_request_error", "thinking.budget_tokens 100 (the minimum is 1024)"),
    "unknown-model": BadRequest(lambda ctx: ctx.request(_body(ctx, model="no-such-model-" + ctx.session.nonces.word("m"))),
                                404, "not_found_error", "an unknown model"),
    "oversized-body": BadRequest(_oversized, 413, "request_too_large", "a 33 MiB request body"),
}


def bad_request(ctx: Context, name: str) -> Exchange:
    return ctx.exchange(name, lambda: BAD_REQUESTS[name].build(ctx))


def rejected(ex: Exchange, status: int, error_type: str, what: str,
             accepted: Verdict = Verdict.WARN, *, rule: str = "") -> list[Finding]:
    """Judge a rejection. The right status and error.type pass. Another 4xx is a strict failure the clients
    survive (they fail the request either way). A 2xx (silently accepted) is a strict failure whose compat
    verdict is `accepted` (clients never send such requests; auth passes FAIL, since an open door is no
    compatibility question). A 5xx fails both: clients retry it, and the fault is the caller's."""
    if ex.status != status:
        body = ex.body[:100].decode("utf-8", "replace")
        expected = f"HTTP {status} {error_type} for {what}"
        got = f"HTTP {ex.status}: {body}"
        if ex.status is not None and 400 <= ex.status < 500:
            return [strict(expected, got, rule=rule)]
        if ex.status is not None and 200 <= ex.status < 300:
            return [strict(expected, got, compat=accepted, rule=rule)]
        return [fail(expected, got, rule=rule)]
    body = ex.json
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") != error_type:
        return [strict(f"error.type {error_type}", short(error.get("type")), "$.error.type", rule=rule)]
    return []


def judge(ctx: Context, name: str, accepted: Verdict = Verdict.WARN, *, rule: str = "") -> list[Finding]:
    probe = BAD_REQUESTS[name]
    return rejected(bad_request(ctx, name), probe.status, probe.error_type, probe.what, accepted, rule=rule)


def judged_probes(ctx: Context) -> list[tuple[str, Exchange]]:
    """Every bad-request exchange that completed; those the transport lost are noted as evidence and left out,
    so one lost upload does not hide the findings on the others. None completed: the check is an error."""
    done = []
    for name in BAD_REQUESTS:
        ex = ctx.session.exchange(name, lambda n=name: BAD_REQUESTS[n].build(ctx))
        if ex.error or ex.busy:
            ctx.used.append(ex)
            continue
        done.append((name, ctx.use(ex)))
    if not done:
        raise HarnessError("no bad-request probe completed")
    return done
