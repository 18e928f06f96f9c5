"""Client-compatibility checks: the official Python SDK's create and stream helpers against the target."""

from __future__ import annotations

import threading
import traceback

from conformance.checks.common import contains_words, controlled_miss, gated, missing_call, short, unserved
from conformance.engine import Context, HarnessError, Unsupported, check, fail, finding, strict
from conformance.pacing import BUSY
from conformance.probes import call_tool_text
from conformance.transport import describe, limit_in
from conformance.verdicts import Evidence, Finding


def sdk_http():
    """The HTTP module the installed SDK is built on (httpx, or httpx2 in newer releases)."""
    import anthropic._base_client as base

    return getattr(base, "httpx2", None) or base.httpx


def sdk_client(ctx: Context):
    """The official client, on an HTTP client bounded like the wire (deadline, size cap, no redirects, the session's
    breaker and concurrency slots)."""
    import anthropic

    target = ctx.target
    http = sdk_http()
    return anthropic.Anthropic(
        api_key=target.api_key.reveal(),
        base_url=target.base_url,
        max_retries=0,
        timeout=http.Timeout(target.limits.read_timeout, connect=target.limits.connect_timeout),
        default_headers=dict(target.headers),
        http_client=ctx.session.http_client(http, ctx.deadline),
        _strict_response_validation=True,
    )


def within_deadline(ctx: Context, call: str, work):
    """Run an SDK call in a worker thread, waiting at most the check's remaining time. Every request the SDK makes is
    bounded by the transport, so the thread ends by itself; this bounds a call that makes several."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"sdk {call}", daemon=True)
    thread.start()
    thread.join(ctx.remaining())
    if thread.is_alive():
        raise HarnessError(f"the SDK's {call} did not finish within the check's total time limit of "
                           f"{ctx.target.limits.check_timeout:g} s (--check-timeout)")
    if "error" in outcome:
        raise not_judged(ctx, call, outcome["error"]) or outcome["error"]
    return outcome["value"]


def not_judged(ctx: Context, call: str, exc: BaseException) -> HarnessError | None:
    """A transport failure under the SDK (timeout, refused or reset connection, a harness limit) is an error of the
    check, never a conformance verdict: the wire reports the same failures the same way."""
    import anthropic

    limit = limit_in(exc)
    if limit is not None:
        return HarnessError(f"the SDK's {call}: {limit}")
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code in BUSY:  # still busy after the back-off
        why = exc.response.extensions.get("conformance_gave_up", "")
        return HarnessError(f"the SDK's {call}: the target answered HTTP {exc.status_code} (rate limited or "
                            f"overloaded); not judged" + (f": not sent again, as {why}" if why else ""))
    cause: BaseException | None = exc
    for _ in range(20):
        if cause is None:
            break
        if isinstance(cause, sdk_http().TransportError) or (
                isinstance(cause, anthropic.APIConnectionError) and cause.__cause__ is None):
            return HarnessError(ctx.target.redact(f"the SDK's {call} could not complete: {describe(cause)}"))
        cause = cause.__cause__ or cause.__context__
    return None


def _sdk_error(ctx: Context, call: str, exc: Exception, *, rule: str = "") -> Finding:
    """The exception the SDK raised, with where it was raised when its message says nothing."""
    name = type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
    detail = f"{name}: {exc}" if str(exc) else name
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        path = last.filename.replace("\\", "/")
        # a package's path from its name on (json/decoder.py, anthropic/_response.py): no folder of this machine
        module = path.split("site-packages/")[-1] if "site-packages/" in path else "/".join(path.split("/")[-2:])
        detail += f" (raised in {module}, {last.name}, line {last.lineno})"
    return fail(f"{call} completes", ctx.target.redact(detail)[:400], rule=rule)


def _content_finding(ctx: Context, call: str, words: list[str], text: str,
                     stop_reason: str | None = None, *, rule: str = "") -> list[Finding]:
    if contains_words(text, words):
        return []
    return [controlled_miss(ctx, f"{call} returns text containing {' '.join(words)!r}", short(text), "",
                            words, f"through the SDK's {call}", reply={"stop_reason": stop_reason}, attempts=1, rule=rule)]


def _params(ctx: Context, key: str) -> tuple[dict, list[str]]:
    body = ctx.probes.text_body(key)
    return {k: body[k] for k in ("model", "max_tokens", "messages")}, ctx.probes.text_words(key)


def _sdk_call(ctx: Context, key: str, call: str, invoke, *, rule: str = "") -> list[Finding]:
    """Run one SDK call with the probe `key`'s parameters; judge that it completes and returns the words."""
    params, words = _params(ctx, key)
    ctx.reserve(params["max_tokens"], f"the SDK's {call}")
    ctx.evidence.append(Evidence(f"anthropic SDK {call} (model={params['model']}, max_tokens={params['max_tokens']}) "
                                 f"at {ctx.target.base_url} (key redacted)", ""))
    try:
        with sdk_client(ctx) as client:
            message = within_deadline(ctx, call, lambda: invoke(client, params))
    except HarnessError:
        raise
    except Exception as exc:
        return [_sdk_error(ctx, call, exc, rule=rule)]
    text = "".join(getattr(block, "text", "") for block in message.content)
    findings = _content_finding(ctx, call, words, text, rule=rule)
    if message.stop_reason is None:
        findings.append(fail("a final message with a stop_reason", "stop_reason None", rule=rule))
    return findings


def _stream_final_message(client, params):
    with client.messages.stream(**params) as stream:
        return stream.get_final_message()


@check("sdk/messages-create", rule="SDK-CREATE", tier="cheap")
def messages_create(ctx: Context):
    """anthropic.Anthropic().messages.create(...) works (strict response validation, SDK 2.x: Bearer)."""
    return _sdk_call(ctx, "sdk-create", "messages.create()",
                     lambda client, params: client.messages.create(**params))


@check("sdk/messages-stream", rule="SDK-STREAM", tier="cheap")
def messages_stream(ctx: Context):
    """anthropic.Anthropic().messages.stream(...).get_final_message() works."""
    return _sdk_call(ctx, "sdk-stream", "messages.stream().get_final_message()", _stream_final_message)


def _sdk_run(ctx: Context, call: str, body, *, rule: str = "") -> list[Finding]:
    """Run `body(client)` (which returns findings), turning an SDK exception into a finding."""
    ctx.evidence.append(Evidence(f"anthropic SDK {call} at {ctx.target.base_url} (key redacted)", ""))
    try:
        with sdk_client(ctx) as client:
            return within_deadline(ctx, call, lambda: body(client))
    except (Unsupported, HarnessError):
        raise
    except Exception as exc:
        gated(getattr(exc, "status_code", None), getattr(exc, "message", None), call)
        return [_sdk_error(ctx, call, exc, rule=rule)]


@check("sdk/count-tokens", rule="SDK-COUNT-TOKENS", tier="free", feature="count-tokens")
def sdk_count_tokens(ctx: Context):
    """messages.count_tokens(...) returns a MessageTokensCount with input_tokens > 0."""
    params, _ = _params(ctx, "sdk-count")
    params.pop("max_tokens")

    def body(client):
        import anthropic

        try:
            result = client.messages.count_tokens(**params)
        except anthropic.APIStatusError as exc:
            unserved(exc.status_code, "count_tokens", str(exc))
            raise
        if not isinstance(result.input_tokens, int) or result.input_tokens <= 0:
            return [fail("input_tokens > 0", short(result.input_tokens))]
        return []

    return _sdk_run(ctx, "messages.count_tokens()", body)


@check("sdk/models-list", rule="SDK-MODELS", tier="free", feature="models")
def sdk_models_list(ctx: Context):
    """models.list() parses (strict validation) and lists at least one model."""
    def body(client):
        import anthropic

        try:
            page = client.models.list(limit=20)
        except anthropic.APIStatusError as exc:
            unserved(exc.status_code, "GET /v1/models", str(exc))
            raise
        if not page.data:
            return [fail("at least one model", "an empty page")]
        return []

    return _sdk_run(ctx, "models.list()", body)


@check("sdk/tool-round-trip", rule="SDK-TOOLS", tier="cheap")
def sdk_tool_round_trip(ctx: Context):
    """A directed tool call (forced where the model takes that) through the SDK, the tool_result sent back, and an
    answer that uses it."""
    spec = ctx.probes.tool("sdk-tool")
    words = ctx.probes.tool_result_words("sdk-tool")
    ctx.reserve(256 + 64, "the SDK's tool round trip")
    question = {"role": "user", "content": call_tool_text(spec)}

    def body(client):
        first = client.messages.create(model=ctx.target.model, max_tokens=256, tools=[spec.tool],
                                       tool_choice=ctx.probes.tool_choice(spec), messages=[question])
        calls = [b for b in first.content if b.type == "tool_use" and b.name == spec.name]
        if not calls:
            return [missing_call(ctx, spec.name, short([b.type for b in first.content]), "the first reply")]
        result = {"type": "tool_result", "tool_use_id": calls[0].id, "content": " ".join(words)}
        final = client.messages.create(model=ctx.target.model, max_tokens=64, tools=[spec.tool], messages=[
            question, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [result]}])
        text = "".join(getattr(b, "text", "") for b in final.content)
        return _content_finding(ctx, "the second messages.create()", words, text, final.stop_reason)

    return _sdk_run(ctx, "messages.create() with tools, twice", body)


@check("sdk/stream-tool-use", rule="SDK-STREAM-TOOLS", tier="cheap")
def sdk_stream_tool_use(ctx: Context):
    """messages.stream() of a directed tool call (forced where the model takes that) gives a final message whose
    tool_use input is the requested one."""
    spec = ctx.probes.tool("sdk-stream-tool")
    ctx.reserve(256, "the SDK's streamed tool call")

    def body(client):
        with client.messages.stream(model=ctx.target.model, max_tokens=256, tools=[spec.tool],
                                    tool_choice=ctx.probes.tool_choice(spec),
                                    messages=[{"role": "user", "content": call_tool_text(spec)}]) as stream:
            message = stream.get_final_message()
        calls = [b for b in message.content if b.type == "tool_use" and b.name == spec.name]
        if not calls:
            return [missing_call(ctx, spec.name, short([b.type for b in message.content]), "the final message")]
        if calls[0].input != spec.arguments:
            return [finding(ctx.content_verdict(), f"input {spec.arguments}", short(calls[0].input))]
        return []

    return _sdk_run(ctx, "messages.stream() with a forced tool", body)


@check("sdk/error-classes", rule="SDK-ERRORS", tier="free")
def sdk_error_classes(ctx: Context):
    """The SDK raises AuthenticationError for a wrong key and BadRequestError for an invalid request."""
    import anthropic

    out: list[Finding] = []
    params, _ = _params(ctx, "sdk-errors")
    cases = (("a wrong key", anthropic.AuthenticationError, "authentication_error", {"api_key": "sk-ant-wrong-key"}, params),
             ("empty messages", anthropic.BadRequestError, "invalid_request_error", {}, {**params, "messages": []}))
    for what, expected, error_type, client_options, call in cases:
        try:
            with sdk_client(ctx).with_options(**client_options) as client:
                within_deadline(ctx, "messages.create()", lambda c=client, p=call: c.messages.create(**p))
            out.append(fail(f"{expected.__name__} for {what}", "no exception"))
        except HarnessError:
            raise
        except expected as exc:
            if exc.type != error_type:
                out.append(strict(f"exception .type {error_type} for {what}", short(exc.type)))
        except Exception as exc:
            out.append(_sdk_error(ctx, f"{expected.__name__} for {what}", exc))
    return out
