"""Helpers shared by checks: status expectations, message text, JSON paths."""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.engine import Context, Unsupported, fail, finding, strict
from conformance.verdicts import MODEL_GATED_REASON, Finding, Verdict
from conformance.wire import Exchange


def short(value: Any, limit: int = 100) -> str:
    """A value as JSON (null, "x", not Python's None, 'x'), cut to limit characters with '…'."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not a JSON value (bytes, an object): Python's own notation
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expect_ok(ex: Exchange, *, rule: str = "") -> list[Finding]:
    """A finding unless the exchange is a 2xx; names the status and the error the target gave."""
    if ex.ok:
        return []
    detail = error_detail(ex)
    return [fail("HTTP 200", f"HTTP {ex.status} {detail}".rstrip(), rule=rule)]


# An optional endpoint the target does not offer answers one of these, whatever its body says (DESIGN §9).
UNSERVED_STATUSES = (404, 405, 501)
UNSERVED_SHAPE_CHECK = "errors/not-found-path"  # the one check that judges the body of such an answer


def unserved(status: int | None, endpoint: str, detail: str = "", body: object = None, model: str = "") -> None:
    """Raise Unsupported when `status` says `endpoint` is not served: the endpoint is optional, so its absence is
    no failure of the checks that need it, and the 404's shape is judged once, by errors/not-found-path. A 404 that
    says the model is unknown is no such answer (the endpoint is there; it does not know the model): judged."""
    from conformance.discovery import says_model_unknown

    if status in UNSERVED_STATUSES and not (model and says_model_unknown(status, body, model)):
        said = f": {short(detail, 120)}" if detail else ""
        raise Unsupported(f"{endpoint}: the target does not serve it (HTTP {status}{said}); the shape of such an "
                          f"answer is judged once, by {UNSERVED_SHAPE_CHECK}")


# The real API's 400 for a feature the model does not offer (role: system messages, temperature, thinking modes),
# e.g. "role 'system' is not supported on this model", "`temperature` is deprecated for this model", "This model does
# not support effort level 'xhigh'", "`temperature` and `top_p` cannot both be specified for this model".
MODEL_GATED = re.compile(r"\b(not supported|unsupported|deprecated|not available|cannot both be specified)\b[^.]{0,40}"
                         r"\b(on|for|with) this model|\bthis model does not support\b", re.IGNORECASE)


def model_gated(ex: Exchange, what: str) -> None:
    """Raise Unsupported when `ex` is the real API's documented 400 for a feature the target's model does not offer:
    a model-gated feature is no failure of the layer (the clients do not send it to such a model)."""
    body = ex.json
    error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    gated(ex.status, error.get("message") if error else None, what)


def gated(status: int | None, message: object, what: str) -> None:
    """Raise Unsupported when (`status`, error `message`) is the real API's documented 400 for what the model does not
    offer; `model_gated` for an exchange, the SDK checks for the exception the SDK raised."""
    if status == 400 and isinstance(message, str) and MODEL_GATED.search(message):
        raise Unsupported(f"{MODEL_GATED_REASON} ({what}): HTTP 400 {short(message, 160)}")


def feature_model(ctx: Context, accepts: bool | None) -> str:
    """The model to probe a feature Claude Code sends with: the target's, unless its row says that model refuses the
    feature (Claude Code told that model sends it none); then Claude Code's default model, which Claude Code as it
    comes sends it with."""
    from conformance.probes import CLAUDE_CODE_DEFAULT_MODEL

    return CLAUDE_CODE_DEFAULT_MODEL if accepts is False else ctx.target.model


def unserved_feature_model(ctx: Context, ex: Exchange, model: str, what: str) -> None:
    """Unsupported when `model` (feature_model's, not the target's) is refused by the target (a 404, or a 4xx naming
    it): no model the target serves takes the feature, so no client sends it (acceptance/claude-code-default-model
    reports the model)."""
    if model == ctx.target.model or ex.status is None or not 400 <= ex.status < 500:
        return
    detail = error_detail(ex)
    if ex.status == 404 or model in detail:
        raise Unsupported(f"{MODEL_GATED_REASON} ({what}: the {ctx.target.model_row.describe()} row says "
                          f"{ctx.target.model} refuses it, and the target does not serve {model}, which Claude Code "
                          f"as it comes sends it with: HTTP {ex.status} {short(detail, 120)})")


def missing_call(ctx: Context, name: str, got: str, where: str, *, rule: str = "") -> Finding:
    """No tool_use for `name` in a directed call: a failure when tool_choice forced it; where it could only be asked
    in words (tool_choice auto: the model's row says it refuses forced tool use), the model's choice: a content
    verdict."""
    if ctx.probes.forced:
        return fail(f"a tool_use block calling {name} (tool_choice forces it)", got, where, rule=rule)
    return finding(ctx.content_verdict(), f"a tool_use block calling {name} (asked in words with tool_choice auto: "
                   "the model takes no forced tool use)", got, where, rule=rule)


def error_detail(ex: Exchange) -> str:
    """The error a target gave, in a few words: `type: message` of an Anthropic envelope, else the body's start."""
    body = ex.json
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f"{body['error'].get('type')}: {body['error'].get('message')}"
    return ex.body[:120].decode("utf-8", "replace") if ex.body else ""


def message_body(ex: Exchange) -> dict | None:
    body = ex.json
    return body if isinstance(body, dict) else None


def message_text(message: dict | None) -> str:
    """The text of all text blocks of a message, joined as a client shows it."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return ""
    return "".join(
        block.get("text", "") for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    )


def tool_uses(message: dict | None) -> list[dict]:
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return []
    return [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]


def contains_words(text: str, words: list[str]) -> bool:
    """The words, in order, in the text; whitespace, Unicode normalisation (NFC) and emoji presentation selectors
    (U+FE0E, U+FE0F, which models add or drop) do not count. A mangled character ('?', U+FFFD) still differs."""
    return _plain(" ".join(words)) in _plain(" ".join(text.split()))


def _plain(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", text).replace("\ufe0e", "").replace("\ufe0f", "")


def require_message(ex: Exchange, *, rule: str = "") -> tuple[dict | None, list[Finding]]:
    """The JSON message of a 200 exchange, or the findings that explain why there is none."""
    findings = expect_ok(ex, rule=rule)
    if findings:
        return None, findings
    body = message_body(ex)
    if body is None:
        return None, [fail("a JSON object body", f"{ex.content_type or 'no content-type'}: "
                           f"{ex.body[:80].decode('utf-8', 'replace')!r} ({why_not_json(ex.body)})", rule=rule)]
    return body, []


def why_not_json(body: bytes) -> str:
    """Why a body is no JSON object, in a few words: bad UTF-8 (at which byte), a JSON syntax error, another type."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 at byte {exc.start}"
    try:
        value = json.loads(text)
    except RecursionError:
        return "JSON nested too deeply"
    except ValueError as exc:
        return f"not JSON: {exc}"
    return f"a JSON {type(value).__name__}, not an object" if not isinstance(value, dict) else "a JSON object"


def controlled_miss(ctx: Context, expected: str, got: str, where: str, words: list[str], through: str,
                    control_words: list[str] | None = None, reply: object = None, attempts: int | None = None,
                    tool_call_ok: bool = False, *, rule: str = "") -> Finding:
    """A reply that missed `words`, asked for `through` a channel a layer can lose (the system prompt, a tool_result,
    the stream's deltas...), judged against a control (DESIGN §9): the same "reply with exactly" instruction as a
    plain user turn, which no layer can lose. The control followed while the probe was missed on every attempt:
    the layer lost it, a failure with both exchanges as evidence. The control missed too: the model disobeys, a
    warning. The rule is symmetric: the probe missed on each of its `attempts` (default: the content retries of
    ctx.content_exchange) and the control followed on as many, or no failure; a probe sent once against a model
    blames no one. `control_words` replaces the words when they are themselves under test (non-ASCII text). A
    control answered by quoting the instruction back is no proof of obedience (fakes echo their prompt). A probe
    that ran out of max_tokens had no room; with `tool_call_ok` (a plain request that offers many tools), one that
    called a tool instead chose to: both are warnings without a control."""
    from conformance.probes import reply_with

    stop = reply.get("stop_reason") if isinstance(reply, dict) else None
    if stop == "max_tokens" or (tool_call_ok and stop == "tool_use"):
        why = "the reply ran out of max_tokens" if stop == "max_tokens" else "the model called a tool instead"
        return Finding(Verdict.WARN, rule, expected, f"{got} ({why}: no proof the layer lost anything)", where)
    needed = 1 if ctx.target.deterministic else ctx.session.content_attempts
    if (attempts if attempts is not None else needed) < needed:
        return Finding(Verdict.WARN, rule, expected, f"{got} (the probe was sent once: against a model one miss "
                       "blames no one)", where)

    said = control_words or words
    name = "control:" + " ".join(said)[:80]

    def build():
        return ctx.request({"model": ctx.target.model, "max_tokens": max(64, 3 * len(said) + 16),
                            "messages": [{"role": "user", "content": reply_with(said)}]})

    def followed(ex: Exchange) -> bool:
        text = message_text(ex.json if isinstance(ex.json, dict) else None)
        return ex.ok and contains_words(text, said) and not echoed(text)

    tries = "once" if needed == 1 else f"on all {needed} attempts"
    for attempt in range(needed):  # the control must be followed as often as the probe was missed
        control = ctx.exchange(name if attempt == 0 else f"{name}#retry{attempt + 1}", build)
        if not followed(control):
            return Finding(Verdict.WARN, rule, expected, f"{got} (the model did not follow the same instruction as a "
                           f"plain user turn either, exchange {control.name!r}: the model's miss, not the layer's)",
                           where)
    return Finding(Verdict.FAIL, rule, expected, f"{got} (the same instruction as a plain user turn was followed "
                   f"{tries}, exchange {name!r}; {through} it was missed {tries}: the layer lost it)", where)


def echoed(text: str) -> bool:
    """The reply quotes a "reply with exactly" instruction back (an echo of the prompt, not an answer to it)."""
    return "reply with exactly" in " ".join(text.lower().split())


def text_probe(ctx: Context, key: str, **kwargs):
    """The shared non-streaming text probe `key` (reply with three nonce words)."""
    return ctx.exchange(key, lambda: ctx.request(ctx.probes.text_body(key, **kwargs)))


def media_type_findings(ex: Exchange, expected: str, *, rule: str = "") -> list[Finding]:
    """A finding unless the response's Content-Type media type is `expected`."""
    media = ex.content_type.split(";")[0].strip().lower()
    if media != expected:
        return [fail(f"Content-Type: {expected}", f"Content-Type: {ex.content_type or '(none)'}", rule=rule)]
    return []


def id_findings(value: object, where: str, prefix: str, pattern: re.Pattern | None = None, *,
                rule: str = "") -> list[Finding]:
    """Fail unless an id is a non-empty string (matching `pattern`); warn unless it has the real API's prefix."""
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
        shape = f"an id matching {pattern.pattern}" if pattern is not None else "a non-empty string id"
        return [fail(shape, short(value), where, rule=rule)]
    if not value.startswith(prefix):
        return [strict(f"an id starting with {prefix} (as the real API sends)", short(value), where, rule=rule)]
    return []


def block_types(message: object) -> list:
    """The type of each content block of a message (an empty list when there is no content array)."""
    content = message.get("content") if isinstance(message, dict) else None
    return [b.get("type") for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def merge_text_runs(types: list) -> list:
    """Block types with runs of text collapsed (several text blocks are a legal way to say one thing)."""
    out: list = []
    for kind in types:
        if not (out and kind == "text" and out[-1] == "text"):
            out.append(kind)
    return out
