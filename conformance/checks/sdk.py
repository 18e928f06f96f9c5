"""Client-compatibility checks: the official Python SDK's create and stream helpers against the target."""

from __future__ import annotations

import traceback

from conformance.checks.common import contains_words, short
from conformance.engine import Context, check, fail
from conformance.verdicts import Evidence, Finding

SDK_TIMEOUT = 60.0


def sdk_client(ctx: Context):
    import anthropic

    target = ctx.target
    return anthropic.Anthropic(
        api_key=target.api_key.reveal(),
        base_url=target.base_url,
        max_retries=0,
        timeout=min(SDK_TIMEOUT, target.timeout),
        default_headers=dict(target.headers),
        _strict_response_validation=True,
    )


def _sdk_error(ctx: Context, rule: str, call: str, exc: Exception) -> Finding:
    """The exception the SDK raised, with where it was raised when its message says nothing."""
    name = type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
    detail = f"{name}: {exc}" if str(exc) else name
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        module = last.filename.replace("\\", "/").split("site-packages/")[-1]
        detail += f" (raised in {module}, {last.name}, line {last.lineno})"
    return fail(rule, f"{call} completes", ctx.target.redact(detail)[:400])


def _content_finding(ctx: Context, rule: str, call: str, words: list[str], text: str) -> list[Finding]:
    if contains_words(text, words):
        return []
    return [Finding(ctx.content_verdict(), rule, f"{call} returns text containing {' '.join(words)!r}",
                    short(text))]


def _params(ctx: Context, key: str) -> tuple[dict, list[str]]:
    body = ctx.probes.text_body(key)
    return {k: body[k] for k in ("model", "max_tokens", "messages")}, ctx.probes.text_words(key)


def _sdk_call(ctx: Context, key: str, rule: str, call: str, invoke) -> list[Finding]:
    """Run one SDK call with the probe `key`'s parameters; judge that it completes and returns the words."""
    params, words = _params(ctx, key)
    ctx.evidence.append(Evidence(f"anthropic SDK {call} (model={params['model']}, max_tokens={params['max_tokens']}) "
                                 f"at {ctx.target.base_url} (key redacted)", ""))
    try:
        with sdk_client(ctx) as client:
            message = invoke(client, params)
    except Exception as exc:
        return [_sdk_error(ctx, rule, call, exc)]
    text = "".join(getattr(block, "text", "") for block in message.content)
    findings = _content_finding(ctx, rule, call, words, text)
    if message.stop_reason is None:
        findings.append(fail(rule, "a final message with a stop_reason", "stop_reason None"))
    return findings


def _stream_final_message(client, params):
    with client.messages.stream(**params) as stream:
        return stream.get_final_message()


@check("sdk/messages-create", rule="SDK-CREATE", tier="cheap")
def messages_create(ctx: Context):
    """anthropic.Anthropic().messages.create(...) works (strict response validation, SDK 2.x: Bearer)."""
    return _sdk_call(ctx, "sdk-create", "SDK-CREATE", "messages.create()",
                     lambda client, params: client.messages.create(**params))


@check("sdk/messages-stream", rule="SDK-STREAM", tier="cheap")
def messages_stream(ctx: Context):
    """anthropic.Anthropic().messages.stream(...).get_final_message() works."""
    return _sdk_call(ctx, "sdk-stream", "SDK-STREAM", "messages.stream().get_final_message()", _stream_final_message)
