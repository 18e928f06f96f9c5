"""Checks of system handling: a string, text blocks with cache_control, and role: system messages."""

from __future__ import annotations

import re

from conformance.checks.common import (
    contains_words,
    controlled_miss,
    error_detail,
    feature_model,
    message_text,
    model_gated,
    require_message,
    short,
    unserved_feature_model,
)
from conformance.engine import Context, Unsupported, check, fail
from conformance.verdicts import Finding

# A refusal that says it is about the role: system message, as every refusal of the real API does ("role 'system' is
# not supported on this model", "use the top-level `system` parameter ...", "a system message must ...") and as a
# schema's does ("Input should be 'user' or 'assistant'", "unknown variant `system`"): what a client needs to know
# it may resend without the message (Claude Code 2.1.332 does, and stops on a refusal in other words).
SYSTEM_REFUSAL = re.compile(r"system messages?\b|\brole\W{0,3}system\b|\bsystem\W{0,3}role\b|top-level\W{0,3}system|"
                            r"unknown variant\W{0,3}system\b|"
                            r"input should be\W{1,3}(user|assistant)\W{1,3}or\W{1,3}(user|assistant)\b", re.IGNORECASE)


def system_findings(ctx: Context, form: str, *, rule: str = "") -> list[Finding]:
    words = ctx.probes.text_words("system-" + form)

    def accept(ex):
        return ex.ok and contains_words(message_text(ex.json if isinstance(ex.json, dict) else None), words)

    first, accepted = ctx.content_exchange(
        "system-" + form, lambda: ctx.request(ctx.probes.system_body(form)), accept)
    row = ctx.target.model_row
    if form == "role-message":  # mid-conversation system messages are model-gated on the real API
        model_gated(first, f"role: system messages on the {row.describe()} row")
    body, findings = require_message(first, rule=rule)
    if body is None:
        return findings
    if accepted is None and form == "role-message" and row.system_messages is not True:
        said = "does not say whether" if row.system_messages is None else "says"
        raise Unsupported(f"the reply did not follow the role: system message; the {row.describe()} row {said} the "
                          "model takes them (a model without them may answer 200 and ignore the message)")
    if accepted is None:
        through = {"string": "in the system string", "blocks": "in the system blocks",
                   "role-message": "in a role: system message"}[form]
        return [controlled_miss(ctx, f"a reply following the system instruction: {' '.join(words)!r}",
                                short(message_text(body)), "$.content", words, through, reply=body, rule=rule)]
    return []


@check("system/string", rule="SYS-STRING", tier="cheap")
def system_string(ctx: Context):
    """A top-level system string takes effect."""
    return system_findings(ctx, "string")


@check("system/blocks", rule="SYS-BLOCKS", tier="cheap")
def system_blocks(ctx: Context):
    """A top-level system given as text blocks with cache_control takes effect."""
    return system_findings(ctx, "blocks")


@check("system/role-system-message", rule="SYS-ROLE-MESSAGE", tier="cheap")
def system_role_message(ctx: Context):
    """A role: system message after the user turn is accepted and takes effect."""
    return system_findings(ctx, "role-message")


@check("system/role-system-refusal", rule="SYS-ROLE-REFUSAL", tier="cheap")
def system_role_refusal(ctx: Context):
    """A role: system message after the user turn is accepted, or refused (400/422) in words that name it, so that a
    client can resend without it; a refusal in other words, or any other answer, fails. Where the target's model
    refuses them by its row, the probe names Claude Code's default model, which Claude Code as it comes sends them
    with."""
    model = feature_model(ctx, ctx.target.model_row.system_messages)
    body = {**ctx.probes.system_body("role-message"), "model": model}
    name = "system-role-message" if model == ctx.target.model else f"system-role-message@{model}"
    ex = ctx.exchange(name, lambda: ctx.request(body))
    unserved_feature_model(ctx, ex, model, "role: system messages")
    if ex.ok:
        return []  # accepted: nothing to recover from (whether it took effect is system/role-system-message's)
    detail = error_detail(ex)
    if ex.status in (400, 422) and SYSTEM_REFUSAL.search(detail):
        return []
    if ex.status in (400, 422):
        return [fail("a refusal naming the role: system message (as the API's own do: \"role 'system' is not "
                     "supported on this model\"), so a client can resend without it",
                     f"HTTP {ex.status} {short(detail, 200)}", "$.error.message")]
    if ex.status is None:
        return require_message(ex)[1]
    return [fail("HTTP 200, or a 400 naming the role: system message", f"HTTP {ex.status} {short(detail, 200)}")]
